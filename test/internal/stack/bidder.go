package stack

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// BidderFlow plays the bidder at the institution's bidder API (base is
// the institution's public URL): open the digital envelope with the
// bidder's key, sign the agreement with a personal seal, pay.
func BidderFlow(base, token string, bidder *testca.Identity) error {
	return BidderFlowWith(http.DefaultClient, base, token, bidder)
}

// BidderFlowWith is BidderFlow with an HTTP client (TLS roots).
func BidderFlowWith(hc *http.Client, base, token string, bidder *testca.Identity) error {
	bidderDo := func(method, url string, body []byte, out any) error { return bidderDoWith(hc, method, url, body, out) }
	var v institution.BidderView
	if err := bidderDo("GET", base+"/bidder/"+token, nil, &v); err != nil {
		return err
	}
	var open institution.OpenRequest
	if v.DigitalEnvelope != "" { // none in the flat revision
		layout, err := gm.ParseCipherLayout(v.SM2Layout) // "" is the default
		if err != nil {
			return fmt.Errorf("sm2_layout of the bidder view: %w", err)
		}
		key, err := gm.UnwrapKey(bidder.Key, v.DigitalEnvelope, layout)
		if err != nil {
			return fmt.Errorf("opening the envelope: %w", err)
		}
		open.Key = base64.StdEncoding.EncodeToString(key)
	}
	body, _ := json.Marshal(open)
	if err := bidderDo("POST", base+"/bidder/"+token+"/open", body, &v); err != nil {
		return err
	}
	var agreement []byte
	if err := bidderDo("GET", base+"/bidder/"+token+"/agreement", nil, &agreement); err != nil {
		return err
	}
	seal, err := ses.MakeSeal(bidder.Key, bidder.Cert, ses.SealSpec{Type: ses.SealTypePersonal, Name: bidder.Name,
		Holders: []*smx509.Certificate{bidder.Cert}, ValidStart: bidder.Cert.NotBefore, ValidEnd: bidder.Cert.NotAfter})
	if err != nil {
		return err
	}
	signed, err := ses.Sign(agreement, ses.Signer{Key: bidder.Key, Cert: bidder.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()})
	if err != nil {
		return err
	}
	if err := bidderDo("POST", base+"/bidder/"+token+"/agreement", signed, &v); err != nil {
		return err
	}
	return bidderDo("POST", base+"/bidder/"+token+"/pay", []byte(`{}`), &v)
}

func bidderDoWith(hc *http.Client, method, url string, body []byte, out any) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return fmt.Errorf("%s %s: HTTP %d: %.300s", method, url, res.StatusCode, b)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: not JSON: %.200s", method, url, b)
	}
	return nil
}

func sortExchanges(xs []Exchange) {
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].At.Before(xs[j].At) })
}
