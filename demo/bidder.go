package demo

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

// BidderSpec is one of the demo's bidders.
type BidderSpec struct {
	Name string
	Code string // 统一社会信用代码
	File string // name of its key and certificate files in the CA directory
	Role string // what the demo uses it for
}

// BlockedCode is the credit code the institution's underwriting refuses.
var BlockedCode = creditCode("91110000MA01BLKD0")

// The demo's bidders, one per scenario that needs its own.
var (
	MainBidder   = BidderSpec{"某某建设工程有限公司", creditCode("91110000MA01BDDR0"), "bidder-main", "the whole life of a guarantee, the claim"}
	Blocked      = BidderSpec{"失信建设有限公司", BlockedCode, "bidder-blocked", "refused by underwriting"}
	QuitBidder   = BidderSpec{"撤回建设有限公司", creditCode("91110000MA01QTTB0"), "bidder-quit", "withdraws before the bid opening"}
	GiveupPlat   = BidderSpec{"放弃甲建设有限公司", creditCode("91110000MA01GPLT0"), "bidder-giveup-platform", "gives up at the platform"}
	GiveupInst   = BidderSpec{"放弃乙建设有限公司", creditCode("91110000MA01GNWT0"), "bidder-giveup-institution", "gives up at the institution"}
	CancelBidder = BidderSpec{"注销建设有限公司", creditCode("91110000MA01CNCL0"), "bidder-cancel", "guarantee cancelled by the bid agent"}
)

// Bidders lists the demo's bidders.
var Bidders = []BidderSpec{MainBidder, Blocked, QuitBidder, GiveupPlat, GiveupInst, CancelBidder}

// creditCode completes 17 characters with the GB 32100 check character.
func creditCode(prefix string) string {
	for _, c := range "0123456789ABCDEFGHJKLMNPQRTUWXY" {
		if pki.CheckCreditCode(prefix+string(c)) == nil {
			return prefix + string(c)
		}
	}
	panic("demo: no check character for " + prefix)
}

// bidderView is the part of the institution's bidder page (JSON) the
// demo reads.
type bidderView struct {
	ApplyNo         string `json:"applyno"`
	State           string `json:"state"`
	DigitalEnvelope string `json:"digitalenvelope"`
	SM2Layout       string `json:"sm2_layout"`
	BaohanNo        string `json:"baohanno"`
	Decision        string `json:"decision"`
	Next            string `json:"next"`
	Application     *struct {
		BidderCode string `json:"biddercode"`
		Bond       string `json:"bzjamount"`
		Rate       string `json:"rate"`
		Premium    string `json:"premium"`
	} `json:"application"`
}

// bidderClient is a bidder at the institution's pages behind the
// redirecturl, with its CA key in hand (directly, or through the CA agent
// the consoles use).
type bidderClient struct {
	id       *pki.Identity
	agentURL string // "" signs and decrypts in process
	origin   string // the institution's origin, for the agent
	http     *http.Client
}

func (b *bidderClient) do(ctx context.Context, method, u, origin string, body any, out any) error {
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
	resp, err := b.http.Do(req)
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
		return json.Unmarshal(data, out)
	}
	return nil
}

// view reads the bidder's page.
func (b *bidderClient) view(ctx context.Context, redirect string) (*bidderView, error) {
	var v bidderView
	return &v, b.do(ctx, "GET", redirect, "", nil, &v)
}

// open recovers the applydata key from the envelope and opens the
// application.
func (b *bidderClient) open(ctx context.Context, redirect string) (*bidderView, error) {
	v, err := b.view(ctx, redirect)
	if err != nil {
		return nil, err
	}
	key, err := b.envelopeKey(ctx, v)
	if err != nil {
		return nil, err
	}
	var after bidderView
	err = b.do(ctx, "POST", redirect+"/open", "", map[string]string{"key": base64.StdEncoding.EncodeToString(key)}, &after)
	return &after, err
}

// envelopeKey recovers the applydata key from the digital envelope with
// the bidder's key.
func (b *bidderClient) envelopeKey(ctx context.Context, v *bidderView) ([]byte, error) {
	if b.agentURL != "" {
		var out struct {
			Key string `json:"key"`
		}
		err := b.do(ctx, "POST", b.agentURL+"/v1/envelope", b.origin,
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
	return gm.UnwrapKey(b.id.Key, v.DigitalEnvelope, l)
}

// sign fetches the agreement, signs it with the bidder's certificate and
// sends it back.
func (b *bidderClient) sign(ctx context.Context, redirect string) (*bidderView, error) {
	var doc []byte
	if err := b.do(ctx, "GET", redirect+"/agreement", "", nil, &doc); err != nil {
		return nil, err
	}
	var signed []byte
	if b.agentURL != "" {
		var out struct {
			OFD string `json:"ofd"`
		}
		if err := b.do(ctx, "POST", b.agentURL+"/v1/agreement", b.origin, map[string]string{"ofd": base64.StdEncoding.EncodeToString(doc)}, &out); err != nil {
			return nil, fmt.Errorf("CA agent: %w", err)
		}
		var err error
		if signed, err = base64.StdEncoding.DecodeString(out.OFD); err != nil {
			return nil, err
		}
	} else {
		seal, err := ses.MakeSeal(b.id.Key, b.id.Cert, ses.SealSpec{Type: ses.SealTypePersonal, Name: b.id.Name,
			Holders: []*smx509.Certificate{b.id.Cert}, ValidStart: b.id.Cert.NotBefore, ValidEnd: b.id.Cert.NotAfter})
		if err != nil {
			return nil, err
		}
		if signed, err = ses.Sign(doc, ses.Signer{Key: b.id.Key, Cert: b.id.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()}); err != nil {
			return nil, err
		}
	}
	var v bidderView
	return &v, b.do(ctx, "POST", redirect+"/agreement", "", signed, &v)
}

// pay pays the premium.
func (b *bidderClient) pay(ctx context.Context, redirect string) (*bidderView, error) {
	var v bidderView
	return &v, b.do(ctx, "POST", redirect+"/pay", "", map[string]string{}, &v)
}

// giveUp abandons the application at the institution. The token alone
// does not do it: the bidder signs a challenge for the action with its
// certificate (through the CA agent, as for a console login), and sends
// the envelope key while the application is not opened.
func (b *bidderClient) giveUp(ctx context.Context, redirect string) error {
	v, err := b.view(ctx, redirect)
	if err != nil {
		return err
	}
	var c institution.Challenge
	if err := b.do(ctx, "POST", redirect+"/challenge", "", institution.ChallengeRequest{Action: institution.ActionGiveUp}, &c); err != nil {
		return err
	}
	var p institution.BidderProof
	if b.agentURL != "" {
		var out caagent.ChallengeResponse
		if err := b.do(ctx, "POST", b.agentURL+"/v1/challenge", b.origin, caagent.ChallengeRequest{Challenge: c.Challenge, Purpose: string(c.Purpose), ApplyNo: c.ApplyNo}, &out); err != nil {
			return fmt.Errorf("CA agent: %w", err)
		}
		p = institution.BidderProof{Challenge: c.Challenge, Signature: out.Signature, Cert: out.Cert}
	} else if p, err = institution.SignChallenge(&c, b.id.Key, b.id.Cert); err != nil {
		return err
	}
	if v.Next == "open" {
		key, err := b.envelopeKey(ctx, v)
		if err != nil {
			return err
		}
		p.Key = base64.StdEncoding.EncodeToString(key)
	}
	return b.do(ctx, "POST", redirect+"/giveup", "", p, nil)
}
