package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
)

// apiClient calls a JSON admin or bidder API.
type apiClient struct {
	HTTP  *http.Client
	Token string // bearer token; "" for none
}

// APIError is an answer of a baohan API other than 2xx.
type APIError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.Status, clipText(strings.TrimSpace(e.Body), 300))
}

// do sends body (JSON-encoded unless []byte) and decodes a JSON answer
// into out ([]byte: raw).
func (c apiClient) do(ctx context.Context, method, u string, body, out any) error {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
		ctype = "application/octet-stream"
	default:
		j, err := json.Marshal(b)
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
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Method: method, URL: u, Status: resp.StatusCode, Body: string(b)}
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = b
		return nil
	default:
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the JSON expected: %v", method, u, err)
		}
		return nil
	}
}

// AdminPlatform drives a baohan platform through its admin API (/api/):
// it registers sections and the kit's bidder, applies, moves the bid
// opening to a few seconds ahead (the platform's scheduler then sends
// baohanrestore) and starts the after-sales flows. It is how CI tests a
// baohan platform without a person.
type AdminPlatform struct {
	// URL is the platform's base URL (the admin API is at URL/api/).
	URL   string
	Token string
	// Institution is the name under which the platform knows the kit;
	// "" finds it by AppKey.
	Institution string
	AppKey      string
	// Bidder applies; the platform must trust its certificate's CA.
	Bidder *Bidder
	// OpeningDelay is how far ahead OpenBids moves the bid opening
	// (default 2s).
	OpeningDelay time.Duration
	HTTP         *http.Client

	mu       sync.Mutex
	product  string
	bidderOK bool
	sections map[string]string // applyno → section
	seq      int
	pending  []string // sections registered for applications not yet seen
}

func (p *AdminPlatform) api() apiClient { return apiClient{HTTP: p.HTTP, Token: p.Token} }

func (p *AdminPlatform) url(path string, a ...any) string {
	return strings.TrimRight(p.URL, "/") + "/api/" + fmt.Sprintf(path, a...)
}

// setup finds the institution and its first product and registers the
// bidder, once.
func (p *AdminPlatform) setup(ctx context.Context) error {
	if p.bidderOK {
		return nil
	}
	if p.Bidder == nil {
		return errors.New("AdminPlatform: no bidder")
	}
	var insts []struct {
		Name     string `json:"name"`
		AppKey   string `json:"appkey"`
		Products []struct {
			Name string `json:"name"`
		} `json:"products"`
	}
	if err := p.api().do(ctx, "GET", p.url("institutions"), nil, &insts); err != nil {
		return err
	}
	var names []string
	for _, in := range insts {
		names = append(names, in.Name+" (appkey "+in.AppKey+")")
		if (p.Institution != "" && in.Name == p.Institution) || (p.Institution == "" && in.AppKey == p.AppKey) {
			p.Institution = in.Name
			if len(in.Products) == 0 {
				return fmt.Errorf("institution %s has no product", in.Name)
			}
			p.product = in.Products[0].Name
		}
	}
	if p.product == "" {
		return fmt.Errorf("the platform knows no institution %q with appkey %q; it has: %s", p.Institution, p.AppKey, strings.Join(names, ", "))
	}
	err := p.api().do(ctx, "POST", p.url("bidders"), map[string]string{
		"name": p.Bidder.Name, "credit_code": p.Bidder.CreditCode, "cert_pem": string(p.Bidder.CertPEM),
		// the contacts a flat application carries (EXTENSIONS.md §2)
		"contact_name": "一致性测试联系人", "contact_phone": "13800000000"}, nil)
	if err != nil {
		return fmt.Errorf("registering the bidder: %w", err)
	}
	p.bidderOK = true
	p.sections = map[string]string{}
	return nil
}

// Apply registers one section per application (a bidder has one live
// application per section), opening in an hour, and applies.
func (p *AdminPlatform) Apply(ctx context.Context, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.setup(ctx); err != nil {
		return err
	}
	tag := randomDigits(6)
	for k := 0; k < n; k++ {
		p.seq++
		no := fmt.Sprintf("CONF-%s-%02d", tag, p.seq)
		err := p.api().do(ctx, "POST", p.url("sections"), map[string]string{
			"section_no": no, "name": "一致性测试标段" + no + "（施工）", "tenderer": "一致性测试招标人",
			"tenderer_code": "12100000MB0000000X", "bond_amount": "20000.00",
			"kaibiaotime":     protocol.FormatTime(time.Now().Add(time.Hour)),
			"insured_contact": "一致性测试招标人联系人", "insured_phone": "0571-88880000", "insured_address": "一致性测试地址",
		}, nil)
		if err != nil {
			return fmt.Errorf("registering section %s: %w", no, err)
		}
		var a struct {
			ApplyNo string `json:"applyno"`
		}
		if err := p.api().do(ctx, "POST", p.url("applications"), map[string]string{
			"section_no": no, "bidder_code": p.Bidder.CreditCode, "institution": p.Institution, "product": p.product,
		}, &a); err != nil {
			return fmt.Errorf("applying for section %s: %w", no, err)
		}
		p.sections[a.ApplyNo] = no
	}
	return nil
}

// OpenBids brings the bid opening of applyno's section forward to
// OpeningDelay from now (the admin API's advance, with a reason): the
// platform's own scheduler sends baohanrestore when it comes, as it
// would at a real opening.
func (p *AdminPlatform) OpenBids(ctx context.Context, applyno string) error {
	p.mu.Lock()
	sec := p.sections[applyno]
	p.mu.Unlock()
	if sec == "" {
		var d struct {
			Application struct {
				SectionNo string `json:"section_no"`
			} `json:"application"`
		}
		if err := p.api().do(ctx, "GET", p.url("applications/%s", url.PathEscape(applyno)), nil, &d); err != nil {
			return err
		}
		sec = d.Application.SectionNo
	}
	delay := p.OpeningDelay
	if delay <= 0 {
		delay = 2 * time.Second
	}
	return p.api().do(ctx, "POST", p.url("sections/%s/advance", url.PathEscape(sec)), map[string]string{
		"kaibiaotime": protocol.FormatTime(time.Now().Add(delay).Add(time.Second - 1).Truncate(time.Second)),
		"reason":      "conformance kit: the bids are opened for the baohanrestore test"}, nil)
}

func (p *AdminPlatform) action(ctx context.Context, applyno, action string, body any) error {
	return p.api().do(ctx, "POST", p.url("applications/%s/%s", url.PathEscape(applyno), action), body, nil)
}

func (p *AdminPlatform) RequestInvoice(ctx context.Context, applyno string) error {
	return p.action(ctx, applyno, "invoice", map[string]string{"type": protocol.InvoiceOrdinary, "email": "finance@bidder.example.cn"})
}

func (p *AdminPlatform) Quit(ctx context.Context, applyno string) error {
	return p.action(ctx, applyno, "quit", map[string]string{"reason": "投标人撤回投标文件（一致性测试）"})
}

func (p *AdminPlatform) Cancel(ctx context.Context, applyno string) error {
	return p.action(ctx, applyno, "cancel", map[string]string{"reason": "项目终止（一致性测试）"})
}

func (p *AdminPlatform) Claim(ctx context.Context, applyno string) error {
	return p.action(ctx, applyno, "claim", map[string]any{"payeraccount": "6222000000000000000", "payeramount": "20000.00",
		"applyusername": "一致性测试招标代理", "applyuserphone": "13900000000", "reason": "中标后拒签合同（一致性测试）",
		"filelist": []string{"https://platform.example.cn/claims/1.pdf"}})
}

func (p *AdminPlatform) GiveUp(ctx context.Context, applyno string) error {
	return p.action(ctx, applyno, "giveup", map[string]string{"reason": "投标人放弃（一致性测试）"})
}

// BidderAPI drives a baohan institution the way a bidder does, through
// the JSON API behind the redirecturl: open the envelope with the
// bidder's key, sign the agreement (an OFD) with the bidder's
// certificate, pay. An institution in auto underwriting then approves;
// in manual underwriting, AdminURL and AdminToken let the driver approve.
type BidderAPI struct {
	AdminURL, AdminToken string
	HTTP                 *http.Client
}

// bidderView is the part of the institution's bidder view the driver
// reads.
type bidderView struct {
	ApplyNo         string `json:"applyno"`
	State           string `json:"state"`
	DigitalEnvelope string `json:"digitalenvelope"`
	SM2Layout       string `json:"sm2_layout"`
	BasicAccount    bool   `json:"basic_account"`
	Decision        string `json:"decision"`
	Next            string `json:"next"`
}

func (d BidderAPI) Underwrite(ctx context.Context, b *BidderTask) error {
	api := apiClient{HTTP: d.HTTP}
	base := strings.TrimRight(b.RedirectURL, "/")
	var v bidderView
	if err := api.do(ctx, "GET", base, nil, &v); err != nil {
		return err
	}
	if v.Next == "open" && v.DigitalEnvelope == "" { // the flat revision: nothing to open
		if err := api.do(ctx, "POST", base+"/open", map[string]string{}, &v); err != nil {
			return err
		}
	}
	if v.Next == "open" {
		layout := gm.C1C3C2
		if v.SM2Layout != "" {
			l, err := gm.ParseCipherLayout(v.SM2Layout)
			if err != nil {
				return err
			}
			layout = l
		}
		key, err := gm.UnwrapKey(b.Bidder.Key, v.DigitalEnvelope, layout)
		if err != nil {
			return fmt.Errorf("the bidder cannot open the envelope: %w", err)
		}
		if err := api.do(ctx, "POST", base+"/open", map[string]string{"key": base64.StdEncoding.EncodeToString(key)}, &v); err != nil {
			return err
		}
	}
	if v.Next == "sign" {
		var agreement []byte
		if err := api.do(ctx, "GET", base+"/agreement", nil, &agreement); err != nil {
			return err
		}
		signed, err := SignAsBidder(b.Bidder, agreement, time.Now())
		if err != nil {
			return err
		}
		if err := api.do(ctx, "POST", base+"/agreement", signed, &v); err != nil {
			return err
		}
	}
	if v.Next == "pay" {
		pay := map[string]string{}
		if v.BasicAccount {
			pay = map[string]string{"payername": b.Bidder.Name, "payeraccount": "110000000000000000001"}
		}
		if err := api.do(ctx, "POST", base+"/pay", pay, &v); err != nil {
			return err
		}
	}
	if v.State == "reviewing" {
		if d.AdminURL == "" {
			return fmt.Errorf("application %s waits for a person's review (manual underwriting) and no admin API was given", b.ApplyNo)
		}
		return d.approve(ctx, b.ApplyNo)
	}
	return nil
}

func (d BidderAPI) approve(ctx context.Context, applyno string) error {
	admin := apiClient{HTTP: d.HTTP, Token: d.AdminToken}
	base := strings.TrimRight(d.AdminURL, "/") + "/api/applications"
	var list []struct {
		ID string `json:"id"`
	}
	if err := admin.do(ctx, "GET", base+"?applyno="+url.QueryEscape(applyno), nil, &list); err != nil {
		return err
	}
	if len(list) != 1 {
		return fmt.Errorf("the admin API lists %d applications for applyno %s", len(list), applyno)
	}
	return admin.do(ctx, "POST", base+"/"+url.PathEscape(list[0].ID)+"/approve", map[string]string{"actor": "conformance"}, nil)
}

// GiveUp gives the application up behind the redirecturl. The token
// alone does not: the bidder signs a challenge the institution issues for
// the action with its certificate (as the CA agent signs a console
// login), and sends the envelope key while the application is not opened.
// claimID finds the institution's claim on applyno (admin API).
func (d BidderAPI) claimID(ctx context.Context, applyno string) (string, error) {
	if d.AdminURL == "" {
		return "", ErrUnsupported
	}
	var list []struct {
		ID      string `json:"id"`
		ApplyNo string `json:"applyno"`
	}
	api := apiClient{HTTP: d.HTTP, Token: d.AdminToken}
	if err := api.do(ctx, "GET", strings.TrimRight(d.AdminURL, "/")+"/api/claims", nil, &list); err != nil {
		return "", err
	}
	for _, c := range list {
		if c.ApplyNo == applyno {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("the institution has no claim on applyno %s", applyno)
}

// PayClaim records the claim on applyno paid through the admin API.
func (d BidderAPI) PayClaim(ctx context.Context, applyno, amount string) error {
	id, err := d.claimID(ctx, applyno)
	if err != nil {
		return err
	}
	api := apiClient{HTTP: d.HTTP, Token: d.AdminToken}
	return api.do(ctx, "POST", strings.TrimRight(d.AdminURL, "/")+"/api/claims/"+url.PathEscape(id)+"/outcome", map[string]any{
		"status": "paid", "amount": amount, "way": "1", "vouchers": []string{"https://institution.example.cn/vouchers/conformance.pdf"},
		"actor": "conformance"}, nil)
}

// RecoverClaim records the claim on applyno recovered through the admin API.
func (d BidderAPI) RecoverClaim(ctx context.Context, applyno, amount string) error {
	id, err := d.claimID(ctx, applyno)
	if err != nil {
		return err
	}
	api := apiClient{HTTP: d.HTTP, Token: d.AdminToken}
	return api.do(ctx, "POST", strings.TrimRight(d.AdminURL, "/")+"/api/claims/"+url.PathEscape(id)+"/recovery", map[string]any{
		"recovered": true, "amount": amount, "tenderer_cooperated": true, "actor": "conformance"}, nil)
}

func (d BidderAPI) GiveUp(ctx context.Context, b *BidderTask) error {
	api := apiClient{HTTP: d.HTTP}
	base := strings.TrimRight(b.RedirectURL, "/")
	var v bidderView
	if err := api.do(ctx, "GET", base, nil, &v); err != nil {
		return err
	}
	var c struct {
		Challenge string `json:"challenge"`
		Origin    string `json:"origin"`
	}
	// The signature is for giving up (its purpose) at the origin the
	// institution names.
	if err := api.do(ctx, "POST", base+"/challenge", map[string]string{"action": "giveup"}, &c); err != nil {
		return err
	}
	sig, err := gm.SM2Sign(b.Bidder.Key, bidderauth.Message(bidderauth.InstitutionGiveUp, c.Origin, c.Challenge))
	if err != nil {
		return err
	}
	proof := map[string]string{"challenge": c.Challenge, "signature": base64.StdEncoding.EncodeToString(sig), "cert": string(b.Bidder.CertPEM)}
	if v.Next == "open" && v.DigitalEnvelope != "" { // none in the flat revision: the application names the bidder
		layout := gm.C1C3C2
		if v.SM2Layout != "" {
			if layout, err = gm.ParseCipherLayout(v.SM2Layout); err != nil {
				return err
			}
		}
		key, err := gm.UnwrapKey(b.Bidder.Key, v.DigitalEnvelope, layout)
		if err != nil {
			return fmt.Errorf("the bidder cannot open the envelope: %w", err)
		}
		proof["key"] = base64.StdEncoding.EncodeToString(key)
	}
	return api.do(ctx, "POST", base+"/giveup", proof, nil)
}

// SignAsBidder signs an OFD (the guarantee agreement) with the bidder's
// certificate and a personal seal, as the bidder's CA tool does.
func SignAsBidder(b *Bidder, doc []byte, now time.Time) ([]byte, error) {
	seal, err := ses.MakeSeal(b.Key, b.Cert, ses.SealSpec{Type: ses.SealTypePersonal, Name: b.Name,
		Holders: []*smx509.Certificate{b.Cert}, ValidStart: b.Cert.NotBefore, ValidEnd: b.Cert.NotAfter})
	if err != nil {
		return nil, err
	}
	return ses.Sign(doc, ses.Signer{Key: b.Key, Cert: b.Cert, Seal: seal}, ses.SignOptions{Time: now})
}
