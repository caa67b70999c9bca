package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/web/caagent"
)

// Bidder is a bidder at the institution's pages behind the redirecturl
// (institution.BidderView), with its CA key in hand: in process, or
// through the CA agent the consoles use.
type Bidder struct {
	ID *pki.Identity
	// AgentURL is the CA agent's URL; "" signs and decrypts in process.
	AgentURL string
	// Origin is the institution's origin, which the agent checks.
	Origin string
	HTTP   *http.Client // nil: http.DefaultClient
}

// Bidder is the PKI's bidder, signing in process, over the system's
// HTTP client.
func (s *System) Bidder() *Bidder { return &Bidder{ID: s.PKI.Bidder, HTTP: s.HTTP} }

// AgentBidder is the PKI's bidder signing through the CA agent (with
// WithConsoles; otherwise in process).
func (s *System) AgentBidder() *Bidder {
	b := s.Bidder()
	b.AgentURL, b.Origin = s.AgentURL, s.InstDoor.URL
	return b
}

func (b *Bidder) do(ctx context.Context, method, u, origin string, body any, out any) error {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	hc := b.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d %s", method, u, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: not JSON: %.200s", method, u, data)
		}
	}
	return nil
}

// View reads the bidder's page at redirect (the redirecturl).
func (b *Bidder) View(ctx context.Context, redirect string) (*institution.BidderView, error) {
	var v institution.BidderView
	return &v, b.do(ctx, "GET", redirect, "", nil, &v)
}

// Open recovers the applydata key from the envelope and opens the
// application.
func (b *Bidder) Open(ctx context.Context, redirect string) (*institution.BidderView, error) {
	v, err := b.View(ctx, redirect)
	if err != nil {
		return nil, err
	}
	var open institution.OpenRequest
	if v.DigitalEnvelope != "" { // none in the flat revision
		key, err := b.EnvelopeKey(ctx, v)
		if err != nil {
			return nil, err
		}
		open.Key = base64.StdEncoding.EncodeToString(key)
	}
	var after institution.BidderView
	err = b.do(ctx, "POST", redirect+"/open", "", open, &after)
	return &after, err
}

// EnvelopeKey recovers the applydata key from the digital envelope with
// the bidder's key (in the envelope's SM2 layout).
func (b *Bidder) EnvelopeKey(ctx context.Context, v *institution.BidderView) ([]byte, error) {
	if b.AgentURL != "" {
		var out struct {
			Key string `json:"key"`
		}
		err := b.do(ctx, "POST", b.AgentURL+"/v1/envelope", b.Origin,
			map[string]string{"digitalenvelope": v.DigitalEnvelope, "layout": v.SM2Layout, "applyno": v.ApplyNo}, &out)
		if err != nil {
			return nil, fmt.Errorf("CA agent: %w", err)
		}
		return base64.StdEncoding.DecodeString(out.Key)
	}
	l := gm.C1C3C2
	if v.SM2Layout != "" {
		var err error
		if l, err = gm.ParseCipherLayout(v.SM2Layout); err != nil {
			return nil, err
		}
	}
	key, err := gm.UnwrapKey(b.ID.Key, v.DigitalEnvelope, l)
	if err != nil {
		return nil, fmt.Errorf("opening the envelope: %w", err)
	}
	return key, nil
}

// Sign fetches the agreement, signs it with a personal seal made from the
// bidder's certificate and sends it back.
func (b *Bidder) Sign(ctx context.Context, redirect string) (*institution.BidderView, error) {
	var doc []byte
	if err := b.do(ctx, "GET", redirect+"/agreement", "", nil, &doc); err != nil {
		return nil, err
	}
	var signed []byte
	if b.AgentURL != "" {
		var out struct {
			OFD string `json:"ofd"`
		}
		if err := b.do(ctx, "POST", b.AgentURL+"/v1/agreement", b.Origin, map[string]string{"ofd": base64.StdEncoding.EncodeToString(doc)}, &out); err != nil {
			return nil, fmt.Errorf("CA agent: %w", err)
		}
		var err error
		if signed, err = base64.StdEncoding.DecodeString(out.OFD); err != nil {
			return nil, err
		}
	} else {
		id := b.ID
		seal, err := ses.MakeSeal(id.Key, id.Cert, ses.SealSpec{Type: ses.SealTypePersonal, Name: id.Name,
			Holders: []*smx509.Certificate{id.Cert}, ValidStart: id.Cert.NotBefore, ValidEnd: id.Cert.NotAfter})
		if err != nil {
			return nil, err
		}
		if signed, err = ses.Sign(doc, ses.Signer{Key: id.Key, Cert: id.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()}); err != nil {
			return nil, err
		}
	}
	var v institution.BidderView
	return &v, b.do(ctx, "POST", redirect+"/agreement", "", signed, &v)
}

// Pay pays the premium.
func (b *Bidder) Pay(ctx context.Context, redirect string) (*institution.BidderView, error) {
	var v institution.BidderView
	return &v, b.do(ctx, "POST", redirect+"/pay", "", map[string]string{}, &v)
}

// Flow opens the envelope, signs the agreement and pays.
func (b *Bidder) Flow(ctx context.Context, redirect string) error {
	if _, err := b.Open(ctx, redirect); err != nil {
		return err
	}
	if _, err := b.Sign(ctx, redirect); err != nil {
		return err
	}
	_, err := b.Pay(ctx, redirect)
	return err
}

// GiveUp abandons the application at the institution. The token alone
// does not do it: the bidder signs a challenge for the action with its
// certificate (through the CA agent, as for a console login), and sends
// the envelope key while the application is not opened.
func (b *Bidder) GiveUp(ctx context.Context, redirect string) error {
	v, err := b.View(ctx, redirect)
	if err != nil {
		return err
	}
	var c institution.Challenge
	if err := b.do(ctx, "POST", redirect+"/challenge", "", institution.ChallengeRequest{Action: institution.ActionGiveUp}, &c); err != nil {
		return err
	}
	var p institution.BidderProof
	if b.AgentURL != "" {
		var out caagent.ChallengeResponse
		if err := b.do(ctx, "POST", b.AgentURL+"/v1/challenge", b.Origin, caagent.ChallengeRequest{Challenge: c.Challenge, Purpose: string(c.Purpose), ApplyNo: c.ApplyNo}, &out); err != nil {
			return fmt.Errorf("CA agent: %w", err)
		}
		p = institution.BidderProof{Challenge: c.Challenge, Signature: out.Signature, Cert: out.Cert}
	} else if p, err = institution.SignChallenge(&c, b.ID.Key, b.ID.Cert); err != nil {
		return err
	}
	if v.Next == "open" && v.DigitalEnvelope != "" {
		key, err := b.EnvelopeKey(ctx, v)
		if err != nil {
			return err
		}
		p.Key = base64.StdEncoding.EncodeToString(key)
	}
	return b.do(ctx, "POST", redirect+"/giveup", "", p, nil)
}
