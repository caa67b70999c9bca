package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/protocol"
)

// kitInstName is the institution the kit plays.
const kitInstName = "一致性测试金融机构"

// papp is one application of the platform under test, as the kit (playing
// the institution) sees it.
type papp struct {
	role      string // what the suite uses it for: A (main), B, C, ...
	applyNo   string
	apply     *Inbound
	baohanNo  string
	noticed   bool // the platform accepted baohannotice with applystatus 1
	ended     string
	pub       *ecdsa.PublicKey // from downloadpublickey
	data      *protocol.ApplyData
	envKey    []byte
	restored  *Inbound
	project   map[string]string // decrypted project fields, after restore, with BidderKey
	agreement []byte            // the 保函委托协议 the kit signed as the bidder (Config.Bidder)
	cipher    *upload           // the ciphertext guarantee upload
	issued    bool              // the ciphertext guarantee was completed (issue)
	plain     *upload           // the plaintext guarantee upload
}

// platformRun is the state of one platform suite run.
type platformRun struct {
	cfg  *Config
	d    PlatformDriver
	ib   *inbox
	w    *wire
	make GuaranteeMaker

	mu    sync.Mutex
	apps  map[string]*papp
	order []*papp
	roles map[string]*papp
}

// Roles of the applications the platform suite needs, in the order the
// platform sends them: A goes the whole way (notice, file, restore,
// plaintext, invoice, claim); B is given up at the institution
// (giveupnotice); C is withdrawn at the institution (quitnotice); D is
// given up at the platform (giveupapply); E is withdrawn at the platform
// (quitapply); F is cancelled (canclenotice).
var platformRoles = []string{"A", "B", "C", "D", "E", "F"}

// NewPlatformSuite returns the suite that tests a platform: the kit plays
// the institution. make makes the guarantee files the kit uploads; nil
// uses DefaultGuarantee.
func NewPlatformSuite(cfg Config, d PlatformDriver, mk GuaranteeMaker) (*Suite, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if d == nil {
		d = ManualPlatform{Out: cfg.Out, ListenURL: cfg.ListenURL}
	}
	if mk == nil {
		mk = DefaultGuarantee
	}
	c := &cfg
	pr := &platformRun{cfg: c, d: d, ib: newInbox(c), w: &wire{cfg: c}, make: mk,
		apps: map[string]*papp{}, roles: map[string]*papp{}}
	for _, i := range protocol.ServedBySide(protocol.Institution) {
		pr.ib.handle(i, pr.respond)
	}
	return &Suite{side: protocol.Platform, cfg: c, inbox: pr.ib, wire: pr.w, checks: pr.checks()}, nil
}

// respond answers the platform's calls as a conforming institution would.
func (pr *platformRun) respond(ctx context.Context, in *Inbound) protocol.Response {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	applyno := in.Get("applyno")
	a := pr.apps[applyno]
	if in.Interface == protocol.BaohanApply {
		if a == nil {
			a = &papp{applyNo: applyno, apply: in}
			pr.apps[applyno] = a
			pr.order = append(pr.order, a)
			if len(pr.order) <= len(platformRoles) {
				a.role = platformRoles[len(pr.order)-1]
				pr.roles[a.role] = a
			}
		}
		u := pr.cfg.ListenURL
		if u == "" {
			u = "http://conformance.invalid"
		}
		return protocol.OK(protocol.ApplyResult{RedirectURL: strings.TrimRight(u, "/") + "/bidder/" + applyno})
	}
	if a == nil {
		return protocol.Fail("unknown applyno %q: no baohanapply received for it", applyno)
	}
	if bn := in.Get("baohanno"); bn != "" && bn != a.baohanNo {
		return protocol.Fail("baohanno %q does not match applyno %s (the kit issued %q)", bn, applyno, a.baohanNo)
	}
	if a.ended != "" {
		return protocol.Fail("applyno %s is %s", applyno, a.ended)
	}
	switch in.Interface {
	case protocol.GiveupApply:
		if a.noticed {
			return protocol.Fail("applyno %s has a guarantee (baohannotice applystatus 1 was accepted): it cannot be given up", applyno)
		}
		a.ended = "given up"
	case protocol.BaohanRestore, protocol.InvoiceApply, protocol.QuitApply, protocol.CancelNotice, protocol.ClaimsNotice:
		if !a.noticed {
			return protocol.Fail("applyno %s has no guarantee yet", applyno)
		}
		switch in.Interface {
		case protocol.QuitApply:
			a.ended = "withdrawn"
		case protocol.CancelNotice:
			a.ended = "cancelled"
		}
	}
	return protocol.OK(nil)
}

func (pr *platformRun) app(role string) *papp {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.roles[role]
}

func (pr *platformRun) setNoticed(a *papp, baohanNo string) {
	pr.mu.Lock()
	a.baohanNo, a.noticed = baohanNo, true
	pr.mu.Unlock()
}

func (pr *platformRun) setEnded(a *papp, why string) {
	pr.mu.Lock()
	a.ended = why
	pr.mu.Unlock()
}

// need returns the application of role or skips the check.
func (pr *platformRun) need(t *T, role string) *papp {
	a := pr.app(role)
	if a == nil {
		t.Skip("no application %s: the platform sent fewer than %d applications", role, len(platformRoles))
	}
	return a
}

func newBaohanNo() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e8))
	return fmt.Sprintf("CONF%s%08d", time.Now().In(protocol.CST).Format("20060102"), n)
}

// noticeFields are the fields of a baohannotice approving a.
func (pr *platformRun) noticeFields(a *papp, baohanNo string) map[string]string {
	rate := decimal.RequireFromString("0.005")
	cost := "100.00"
	if a.data != nil {
		if bond, err := decimal.NewFromString(a.data.BzjAmount); err == nil {
			cost = bond.Mul(rate).StringFixed(2)
		}
	}
	return map[string]string{
		"applyno":      a.applyNo,
		"baohanno":     baohanNo,
		"instname":     kitInstName,
		"generatetime": protocol.FormatTime(pr.cfg.Now()),
		"rate":         rate.String(),
		"cost":         cost,
		"applystatus":  protocol.StatusApproved,
	}
}

// guarantee makes the guarantee file of a.
func (pr *platformRun) guarantee(ctx context.Context, a *papp, plain bool) ([]byte, error) {
	g := GuaranteeInfo{ApplyNo: a.applyNo, BaohanNo: a.baohanNo, InstName: kitInstName, Plain: plain, Issued: pr.cfg.Now(),
		BidderName: "（投标人）", BidderCode: "-", Amount: "-",
		BiaoduanNo: "（密文）", BiaoduanName: "（密文）", Zbr: "（密文）", ZbrOrgNum: "（密文）"}
	if d := a.data; d != nil {
		g.BidderName, g.BidderCode, g.Amount = d.BidderName, d.BidderCode, d.BzjAmount
		g.BiaoduanNo, g.BiaoduanName, g.Zbr, g.ZbrOrgNum = d.BiaoduanNo, d.BiaoduanName, d.Zbr, d.ZbrOrgNum
	}
	if plain && a.project != nil {
		g.BiaoduanNo, g.BiaoduanName, g.Zbr, g.ZbrOrgNum = a.project["biaoduanno"], a.project["biaoduanname"], a.project["zbr"], a.project["zbrorgnum"]
	}
	if b := pr.cfg.Bidder; b != nil && b.Key != nil && b.Cert != nil {
		if a.agreement == nil {
			ag, err := pr.agreement(a, g.Issued)
			if err != nil {
				return nil, fmt.Errorf("the agreement: %w", err)
			}
			a.agreement = ag
		}
		g.Agreement = a.agreement
	}
	if plain && a.cipher != nil {
		g.Cipher = a.cipher.plain
	}
	return pr.make(ctx, g)
}

// agreement makes the 保函委托协议 of a (ofd/guarantee's layout) and signs
// it as the bidder (Config.Bidder).
func (pr *platformRun) agreement(a *papp, now time.Time) ([]byte, error) {
	b := pr.cfg.Bidder
	bond := decimal.NewFromInt(1)
	if a.data != nil {
		if v, err := decimal.NewFromString(a.data.BzjAmount); err == nil && v.IsPositive() {
			bond = v
		}
	}
	rate := decimal.RequireFromString("0.005")
	doc, err := guarantee.BuildAgreement(guarantee.AgreementData{
		AgreementNo: "CONF-" + a.applyNo, ApplyNo: a.applyNo, BaohanNo: a.baohanNo,
		Institution: kitInstName, Bidder: b.Name, BidderCode: b.CreditCode,
		Amount: bond, Premium: bond.Mul(rate).Round(2), Rate: rate, SignDate: now,
	})
	if err != nil {
		return nil, err
	}
	return SignAsBidder(b, doc, now)
}

// publicKey fetches a's upload key with downloadpublickey (once).
func (pr *platformRun) publicKey(ctx context.Context, t *T, a *papp) *ecdsa.PublicKey {
	if a.pub != nil {
		return a.pub
	}
	rep := t.call(ctx, protocol.DownloadPublicKey, map[string]string{"applyno": a.applyNo})
	t.mustAccept(rep, "downloadpublickey for "+a.applyNo)
	pub, err := parsePublicKeyData(rep.Resp)
	if err != nil {
		t.Fail("downloadpublickey for %s: %v", a.applyNo, err)
	}
	a.pub = pub
	return pub
}

func parsePublicKeyData(r *protocol.Response) (*ecdsa.PublicKey, error) {
	var d protocol.PublicKeyResult
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return nil, fmt.Errorf("data is not {\"publickey\": ...}: %v", err)
	}
	if d.PublicKey == "" {
		return nil, errors.New(`data has no "publickey"`)
	}
	if n := len([]rune(d.PublicKey)); n > 500 {
		return nil, fmt.Errorf("publickey is %d characters, the spec allows 500", n)
	}
	pub, err := gm.ParsePublicKey([]byte(d.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("publickey %q is not an SM2 public key: %v", clipText(d.PublicKey, 80), err)
	}
	return pub, nil
}

// issue brings a to an issued guarantee: baohannotice, then the
// ciphertext guarantee uploaded in order and completed. Any refusal fails
// the check as a setup failure.
func (pr *platformRun) issue(ctx context.Context, t *T, a *papp) {
	if a.issued {
		return
	}
	if !a.noticed {
		bn := newBaohanNo()
		rep := t.call(ctx, protocol.BaohanNotice, pr.noticeFields(a, bn))
		t.mustAccept(rep, "setup: baohannotice for "+a.applyNo)
		pr.setNoticed(a, bn)
	}
	if a.cipher == nil {
		pr.prepareCipher(ctx, t, a)
	}
	pub := pr.publicKey(ctx, t, a)
	for k, c := range a.cipher.chunks {
		rep := t.call(ctx, protocol.UploadBaohanFile, a.cipher.chunkFields(a.applyNo, a.baohanNo, protocol.FileTypeCipher, k, c))
		t.mustAccept(rep, fmt.Sprintf("setup: uploadbaohanfile chunk %d of %s", k+a.cipher.base, a.applyNo))
	}
	f, err := a.cipher.completeFields(a.applyNo, a.baohanNo, protocol.FileTypeCipher, pub, pr.cfg.Profile.SM2Layout)
	if err != nil {
		t.Fail("setup: %v", err)
	}
	rep := t.call(ctx, protocol.BaohanFileCompleteNotice, f)
	t.mustAccept(rep, "setup: baohanfilecompletenotice for "+a.applyNo)
	a.issued = true
}

func (pr *platformRun) prepareCipher(ctx context.Context, t *T, a *papp) {
	file, err := pr.guarantee(ctx, a, false)
	if err != nil {
		t.Fail("the kit could not make the ciphertext guarantee: %v", err)
	}
	if a.cipher, err = newUpload(ctx, file, pr.cfg.Profile); err != nil {
		t.Fail("the kit could not encrypt the guarantee: %v", err)
	}
}

func (pr *platformRun) preparePlain(ctx context.Context, t *T, a *papp) {
	if a.plain != nil {
		return
	}
	file, err := pr.guarantee(ctx, a, true)
	if err != nil {
		t.Fail("the kit could not make the plaintext guarantee: %v", err)
	}
	if a.plain, err = newUpload(ctx, file, pr.cfg.Profile); err != nil {
		t.Fail("the kit could not encrypt the guarantee: %v", err)
	}
}

// waitFor waits for the platform's call of interface i about a and fails
// the check when none arrives or the kit had to refuse it.
func (pr *platformRun) waitFor(ctx context.Context, t *T, i protocol.Interface, a *papp) *Inbound {
	in, err := pr.ib.wait(ctx, pr.cfg.Wait, i, func(in *Inbound) bool { return in.Get("applyno") == a.applyNo })
	if err != nil {
		t.Fail("no %s for applyno %s: %v", i, a.applyNo, err)
	}
	t.Observe(in.Exchange)
	if len(in.Problems) > 0 {
		t.Fail("%s for %s was refused by the kit: %s", i, a.applyNo, strings.Join(in.Problems, "; "))
	}
	if in.Answer.Code != protocol.CodeOK {
		t.Fail("%s for %s: the kit, as a conforming institution, refused it: %s", i, a.applyNo, in.Answer.Message)
	}
	time.Sleep(pr.cfg.Settle) // let the platform record the kit's answer
	return in
}

// drive runs a driver step; ErrUnsupported skips the check.
func drive(t *T, what string, err error) {
	switch {
	case errors.Is(err, ErrUnsupported):
		t.Skip("the driver cannot %s", what)
	case err != nil:
		t.Fail("the driver could not %s: %v", what, err)
	}
}

// refusedAt reports a refusal, as a check outcome, for a step that a
// platform may refuse at either of two calls (an upload or its completion).
func ok(rep *reply) bool { return rep.code() == protocol.CodeOK }

func (pr *platformRun) checks() []Check {
	pipe := []string{"downloadpublickey"}
	var cs []Check
	add := func(c Check) { cs = append(cs, c) }

	// --- applications
	add(Check{ID: "baohanapply", Interface: protocol.BaohanApply,
		Title:    "the platform sends applications: signed, in time, every field valid",
		Expected: fmt.Sprintf("%d baohanapply, each accepted by a conforming institution", len(platformRoles)),
		Run: func(ctx context.Context, t *T) {
			drive(t, "make applications", pr.d.Apply(ctx, len(platformRoles)))
			var got []string
			for range platformRoles {
				in, err := pr.ib.wait(ctx, pr.cfg.Wait, protocol.BaohanApply, nil)
				if err != nil {
					if len(got) == 0 {
						t.Fail("no application arrived: %v", err)
					}
					t.Fail("%d of %d applications arrived (%s): %v", len(got), len(platformRoles), strings.Join(got, ", "), err)
				}
				t.Observe(in.Exchange)
				if len(in.Problems) > 0 {
					t.Fail("baohanapply %s: %s", in.Get("applyno"), strings.Join(in.Problems, "; "))
				}
				got = append(got, in.Get("applyno"))
			}
			t.Pass("%d applications: %s", len(got), strings.Join(got, ", "))
		}})
	if pr.cfg.Profile.Revision.Flat() {
		pr.flatApplyChecks(add)
	} else {
		pr.envelopeChecks(add)
	}

	// --- the pipeline, on downloadpublickey for A
	// The kit's downloadpublickey calls carry a counter in bak2, so that
	// each has its own sign without waiting for the next second.
	var dpkSeq int
	dpk := func(a *papp) map[string]string {
		dpkSeq++
		return map[string]string{"applyno": a.applyNo, "bak2": fmt.Sprintf("conformance %d", dpkSeq)}
	}
	add(Check{ID: "answers.not-json",
		Title:    "a body that is not a flat JSON object gets a JSON answer with code 0, on every interface",
		Expected: "HTTP 200, {code:0, message, data} for each of 4 bad bodies × 7 interfaces",
		Run: func(ctx context.Context, t *T) {
			var bad []string
			for _, i := range protocol.ServedBySide(protocol.Platform) {
				for _, body := range badBodies {
					rep := t.post(ctx, i, []byte(body))
					if rep.code() != protocol.CodeFail || rep.Ex.HTTPStatus != 200 {
						bad = append(bad, fmt.Sprintf("%s with %q: %s", i, clipText(body, 20), rep.describe()))
					}
				}
			}
			if len(bad) > 0 {
				t.Fail("%d of %d: %s", len(bad), 7*len(badBodies), strings.Join(bad, "; "))
			}
			t.Pass("all %d answered JSON with code 0", 7*len(badBodies))
		}})
	add(Check{ID: "appkey.unknown", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "a call with an unknown appkey is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["appkey"] = "conformance-unknown-" + randomDigits(6)
			t.expectRefused(t.call(ctx, protocol.DownloadPublicKey, f))
		}})
	add(Check{ID: "sign.wrong", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "a call signed with another appsecret is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := pr.w.sign(dpk(a)) // never sent with this sign
			f["sign"] = protocol.SignAs(pr.cfg.Profile.Sign, f, pr.cfg.AppSecret+"-wrong")
			t.expectRefused(t.post(ctx, protocol.DownloadPublicKey, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.tampered", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "a field changed after signing is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := pr.w.sign(dpk(a)) // never sent with this sign
			f["bak1"] = "changed after signing"
			t.expectRefused(t.post(ctx, protocol.DownloadPublicKey, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.missing", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "a call without sign is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := pr.w.sign(dpk(a)) // never sent with this sign
			delete(f, "sign")
			t.expectRefused(t.post(ctx, protocol.DownloadPublicKey, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "timestamp.stale", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "a timestamp older than the window is refused", Expected: "code 0 for now − (window + 1 min)",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["timestamp"] = protocol.FormatTime(pr.cfg.Now().Add(-pr.cfg.Profile.Window - time.Minute))
			t.expectRefused(t.call(ctx, protocol.DownloadPublicKey, f))
		}})
	add(Check{ID: "timestamp.future", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "a timestamp ahead of the window is refused", Expected: "code 0 for now + (window + 1 min)",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["timestamp"] = protocol.FormatTime(pr.cfg.Now().Add(pr.cfg.Profile.Window + time.Minute))
			t.expectRefused(t.call(ctx, protocol.DownloadPublicKey, f))
		}})
	add(Check{ID: "timestamp.format", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "a timestamp not in yyyy-MM-dd HH:mm:ss is refused", Expected: "code 0 for \"2006/01/02 15:04:05\"",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["timestamp"] = pr.cfg.Now().In(protocol.CST).Format("2006/01/02 15:04:05")
			t.expectRefused(t.call(ctx, protocol.DownloadPublicKey, f))
		}})
	add(requiredCheck(pr, protocol.DownloadPublicKey, "applyno", "A", dpk))
	add(maxLengthCheck(pr, protocol.DownloadPublicKey, "bak1", 200, "A", dpk))
	add(Check{ID: "downloadpublickey", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title:    "downloadpublickey returns an SM2 public key for the applyno",
		Expected: "code 1, data.publickey an SM2 point (hex 04||X||Y, or DER/PEM), ≤ 500 chars",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			rep := t.call(ctx, protocol.DownloadPublicKey, dpk(a))
			t.mustAccept(rep, "downloadpublickey")
			pub, err := parsePublicKeyData(rep.Resp)
			if err != nil {
				t.Fail("%v", err)
			}
			a.pub = pub
			t.Pass("publickey %s", clipText(gm.PublicKeyHex(pub), 20))
		}})
	add(Check{ID: "downloadpublickey.unknown-applyno", Interface: protocol.DownloadPublicKey, Needs: []string{"baohanapply"},
		Title: "no key for an applyno the platform never sent", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			t.expectRefused(t.call(ctx, protocol.DownloadPublicKey, map[string]string{"applyno": "CONF-UNKNOWN-" + randomDigits(10)}))
		}})
	add(Check{ID: "downloadpublickey.stable", Interface: protocol.DownloadPublicKey, Needs: []string{"downloadpublickey"},
		Title: "the key of an applyno stays the same", Expected: "the same key on a second call",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			rep := t.call(ctx, protocol.DownloadPublicKey, dpk(a))
			t.mustAccept(rep, "downloadpublickey")
			pub, err := parsePublicKeyData(rep.Resp)
			if err != nil {
				t.Fail("%v", err)
			}
			if !pub.Equal(a.pub) {
				t.Fail("a different key: %s, first %s", gm.PublicKeyHex(pub), gm.PublicKeyHex(a.pub))
			}
			t.Pass("same key")
		}})
	add(Check{ID: "retry", Interface: protocol.DownloadPublicKey, Needs: pipe,
		Title:    "the same signed body sent again (a retry after a lost answer) is answered as the first",
		Expected: "code 1 twice, the same answer",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["bak2"] = "retry-" + randomDigits(8) // a sign never sent before
			body := protocol.MarshalFields(t.sign(ctx, f))
			first := t.post(ctx, protocol.DownloadPublicKey, body)
			t.mustAccept(first, "first sending")
			t.expectSameAnswer(first, t.post(ctx, protocol.DownloadPublicKey, body))
		}})
	add(Check{ID: "replay", Interface: protocol.DownloadPublicKey, Needs: pipe,
		Title:    "another body under a sign already received is refused",
		Expected: "code 1, then code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["bak2"] = "replay-" + randomDigits(8) // a sign never sent before
			f = t.sign(ctx, f)
			t.mustAccept(t.post(ctx, protocol.DownloadPublicKey, protocol.MarshalFields(f)), "first sending")
			f["bak3"] = "" // not signed: the same sign over another body
			t.expectRefused(t.post(ctx, protocol.DownloadPublicKey, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.uppercase", Interface: protocol.DownloadPublicKey, Needs: pipe,
		Title: "a sign in uppercase hex is accepted (signs compare case-insensitively)", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := t.sign(ctx, dpk(a))
			f["sign"] = strings.ToUpper(f["sign"])
			t.expectAccepted(t.post(ctx, protocol.DownloadPublicKey, protocol.MarshalFields(f)))
		}})
	add(Check{ID: "sign.extra-fields", Interface: protocol.DownloadPublicKey, Needs: pipe,
		Title: "unknown extra fields are accepted and signed over", Expected: "code 1 with jbrname, jbrphone signed",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["jbrname"], f["jbrphone"] = "张三", "13800000000"
			t.expectAccepted(t.call(ctx, protocol.DownloadPublicKey, f))
		}})
	add(Check{ID: "sign.empty-fields", Interface: protocol.DownloadPublicKey, Needs: pipe,
		Title: "empty fields are sent but left out of the sign", Expected: "code 1 with bak1:\"\" unsigned",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := dpk(a)
			f["bak1"] = ""
			t.expectAccepted(t.call(ctx, protocol.DownloadPublicKey, f))
		}})

	// --- baohannotice on A
	notice := func(a *papp) map[string]string { return pr.noticeFields(a, newBaohanNo()) }
	add(requiredCheck(pr, protocol.BaohanNotice, "instname", "A", notice))
	add(maxLengthCheck(pr, protocol.BaohanNotice, "instname", 200, "A", notice))
	add(Check{ID: "field.decimal/baohannotice", Interface: protocol.BaohanNotice, Needs: []string{"baohanapply"},
		Title: "a rate that is not a decimal string is refused", Expected: "code 0 for rate \"5‰\"",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := notice(a)
			f["rate"] = "5‰"
			t.expectRefused(t.call(ctx, protocol.BaohanNotice, f))
		}})
	add(Check{ID: "field.enum/baohannotice", Interface: protocol.BaohanNotice, Needs: []string{"baohanapply"},
		Title: "an applystatus other than 0 or 1 is refused", Expected: "code 0 for applystatus \"2\"",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := notice(a)
			f["applystatus"] = "2"
			t.expectRefused(t.call(ctx, protocol.BaohanNotice, f))
		}})
	add(Check{ID: "baohannotice.unknown-applyno", Interface: protocol.BaohanNotice, Needs: []string{"baohanapply"},
		Title: "a notice for an applyno the platform never sent is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := notice(a)
			f["applyno"] = "CONF-UNKNOWN-" + randomDigits(10)
			t.expectRefused(t.call(ctx, protocol.BaohanNotice, f))
		}})
	add(Check{ID: "baohannotice", Interface: protocol.BaohanNotice, Needs: []string{"baohanapply"},
		Title: "the approval of an application is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			bn := newBaohanNo()
			rep := t.call(ctx, protocol.BaohanNotice, pr.noticeFields(a, bn))
			if ok(rep) {
				pr.setNoticed(a, bn)
			}
			t.expectAccepted(rep)
		}})
	add(Check{ID: "baohannotice.repeat", Interface: protocol.BaohanNotice, Needs: []string{"baohannotice"}, Optional: true,
		Title: "the same notice sent again (a retry, signed anew) is accepted: receivers are idempotent", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			t.expectAccepted(t.call(ctx, protocol.BaohanNotice, pr.noticeFields(a, a.baohanNo)))
		}})
	add(Check{ID: "giveupnotice.after-success", Interface: protocol.GiveupNotice, Needs: []string{"baohannotice"},
		Title: "a give-up after the success notice is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			t.expectRefused(t.call(ctx, protocol.GiveupNotice, map[string]string{"applyno": a.applyNo}))
		}})

	// --- the ciphertext guarantee of A
	add(Check{ID: "uploadbaohanfile.plaintext-before-restore", Interface: protocol.UploadBaohanFile, Needs: []string{"baohannotice", "downloadpublickey"},
		Title:    "a plaintext guarantee (filetype 2) before the bid opening is refused",
		Expected: "code 0 for the chunk or for the completion notice",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			pr.preparePlain(ctx, t, a)
			u := a.plain
			refused := false
			for k, c := range u.chunks {
				rep := t.call(ctx, protocol.UploadBaohanFile, u.chunkFields(a.applyNo, a.baohanNo, protocol.FileTypePlain, k, c))
				if rep.code() == protocol.CodeFail {
					refused = true
					break
				}
				if !ok(rep) {
					t.Fail("chunk %d: %s", k+u.base, rep.describe())
				}
			}
			if refused {
				t.Pass("the chunk was refused: %q", clipText(t.r.Exchanges[len(t.r.Exchanges)-1].Response, 160))
			}
			f, err := u.completeFields(a.applyNo, a.baohanNo, protocol.FileTypePlain, a.pub, pr.cfg.Profile.SM2Layout)
			if err != nil {
				t.Fail("%v", err)
			}
			t.expectRefused(t.call(ctx, protocol.BaohanFileCompleteNotice, f))
		}})
	chunk := func(a *papp) map[string]string {
		if a.cipher == nil {
			return nil
		}
		return a.cipher.chunkFields(a.applyNo, a.baohanNo, protocol.FileTypeCipher, 0, a.cipher.chunks[0])
	}
	add(Check{ID: "field.required/uploadbaohanfile", Interface: protocol.UploadBaohanFile, Needs: []string{"baohannotice"},
		Title: "uploadbaohanfile without index is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			if a.cipher == nil {
				pr.prepareCipher(ctx, t, a)
			}
			f := chunk(a)
			delete(f, "index")
			t.expectRefused(t.call(ctx, protocol.UploadBaohanFile, f))
		}})
	add(Check{ID: "field.maxlength/uploadbaohanfile", Interface: protocol.UploadBaohanFile, Needs: []string{"baohannotice"},
		Title: "uploadbaohanfile with bak1 longer than 200 characters is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			if a.cipher == nil {
				pr.prepareCipher(ctx, t, a)
			}
			f := chunk(a)
			f["bak1"] = strings.Repeat("长", 201)
			t.expectRefused(t.call(ctx, protocol.UploadBaohanFile, f))
		}})
	add(Check{ID: "uploadbaohanfile.out-of-order", Interface: protocol.UploadBaohanFile, Needs: []string{"baohannotice", "downloadpublickey"},
		Title:    "chunks sent out of order, one of them twice, are all accepted",
		Expected: "code 1 for every chunk, last to first, with a duplicate",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			if a.cipher == nil {
				pr.prepareCipher(ctx, t, a)
			}
			u := a.cipher
			n := len(u.chunks)
			order := []int{}
			for k := n - 1; k >= 0; k-- {
				order = append(order, k)
				if k == n-1 {
					order = append(order, k) // the last chunk twice, same bytes
				}
			}
			var idx []string
			for _, k := range order {
				rep := t.call(ctx, protocol.UploadBaohanFile, u.chunkFields(a.applyNo, a.baohanNo, protocol.FileTypeCipher, k, u.chunks[k]))
				t.mustAccept(rep, fmt.Sprintf("chunk %d", k+u.base))
				idx = append(idx, fmt.Sprint(k+u.base))
			}
			t.Pass("indexes %s accepted", strings.Join(idx, ","))
		}})
	add(Check{ID: "uploadbaohanfile.conflict", Interface: protocol.UploadBaohanFile, Needs: []string{"uploadbaohanfile.out-of-order"},
		Title: "a chunk sent again with different bytes is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			u := a.cipher
			other := append([]byte(nil), u.chunks[0]...)
			other[0] ^= 0xff
			t.expectRefused(t.call(ctx, protocol.UploadBaohanFile, u.chunkFields(a.applyNo, a.baohanNo, protocol.FileTypeCipher, 0, other)))
		}})
	// A platform may discard the chunks of a file whose completion it
	// refused; every completion is therefore preceded by the chunks again
	// (the same bytes: idempotent).
	complete := func(t *T, a *papp) map[string]string {
		ctx := context.Background()
		for k, c := range a.cipher.chunks {
			rep := t.call(ctx, protocol.UploadBaohanFile, a.cipher.chunkFields(a.applyNo, a.baohanNo, protocol.FileTypeCipher, k, c))
			t.mustAccept(rep, fmt.Sprintf("uploading chunk %d again before the completion notice", k+a.cipher.base))
		}
		f, err := a.cipher.completeFields(a.applyNo, a.baohanNo, protocol.FileTypeCipher, a.pub, pr.cfg.Profile.SM2Layout)
		if err != nil {
			t.Fail("%v", err)
		}
		return f
	}
	add(Check{ID: "field.required/baohanfilecompletenotice", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"uploadbaohanfile.out-of-order"},
		Title: "baohanfilecompletenotice without iv is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := complete(t, pr.need(t, "A"))
			delete(f, "iv")
			t.expectRefused(t.call(ctx, protocol.BaohanFileCompleteNotice, f))
		}})
	add(Check{ID: "field.maxlength/baohanfilecompletenotice", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"uploadbaohanfile.out-of-order"},
		Title: "baohanfilecompletenotice with bak2 longer than 200 characters is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := complete(t, pr.need(t, "A"))
			f["bak2"] = strings.Repeat("x", 201)
			t.expectRefused(t.call(ctx, protocol.BaohanFileCompleteNotice, f))
		}})
	add(Check{ID: "baohanfilecompletenotice.digest-mismatch", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"uploadbaohanfile.out-of-order"},
		Title: "a completion notice whose digest does not match the file is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := complete(t, pr.need(t, "A"))
			f["baohanfilemd5"] = flipHex(f["baohanfilemd5"])
			t.expectRefused(t.call(ctx, protocol.BaohanFileCompleteNotice, f))
		}})
	add(Check{ID: "baohanfilecompletenotice.wrong-key", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"uploadbaohanfile.out-of-order"},
		Title: "a completion notice whose key does not decrypt the file is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := complete(t, a)
			k, err := gm.WrapKeyAs(a.pub, gm.NewKey(), pr.cfg.Profile.SM2Layout, pr.cfg.Profile.Encoding)
			if err != nil {
				t.Fail("%v", err)
			}
			f["key"] = k
			t.expectRefused(t.call(ctx, protocol.BaohanFileCompleteNotice, f))
		}})
	add(Check{ID: "baohanfilecompletenotice.missing-chunk", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"uploadbaohanfile.out-of-order"},
		Title: "a completion notice counting more chunks (bak1) than arrived is refused", Expected: "code 0 for bak1 = chunks + 1",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			f := complete(t, a)
			f["bak1"] = fmt.Sprint(len(a.cipher.chunks) + 1)
			t.expectRefused(t.call(ctx, protocol.BaohanFileCompleteNotice, f))
		}})
	add(Check{ID: "baohanfilecompletenotice", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"uploadbaohanfile.out-of-order"},
		Title: "the completion notice of the ciphertext guarantee is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			t.expectAccepted(t.call(ctx, protocol.BaohanFileCompleteNotice, complete(t, pr.need(t, "A"))))
		}})

	// --- B: given up at the institution
	add(requiredCheck(pr, protocol.GiveupNotice, "applyno", "B", func(a *papp) map[string]string { return map[string]string{"applyno": a.applyNo} }))
	add(Check{ID: "giveupnotice", Interface: protocol.GiveupNotice, Needs: []string{"baohanapply"},
		Title: "a give-up of an application without success notice is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "B")
			rep := t.call(ctx, protocol.GiveupNotice, map[string]string{"applyno": a.applyNo})
			if ok(rep) {
				pr.setEnded(a, "given up")
			}
			t.expectAccepted(rep)
		}})
	add(Check{ID: "baohannotice.after-giveup", Interface: protocol.BaohanNotice, Needs: []string{"giveupnotice"},
		Title: "a notice for a given-up application is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "B")
			t.expectRefused(t.call(ctx, protocol.BaohanNotice, pr.noticeFields(a, newBaohanNo())))
		}})

	// --- C: withdrawn at the institution
	quit := func(a *papp) map[string]string {
		return map[string]string{"applyno": a.applyNo, "baohanno": a.baohanNo, "applystatus": protocol.StatusApproved,
			"tuibaotime": protocol.FormatTime(pr.cfg.Now())}
	}
	add(Check{ID: "field.required-if/quitnotice", Interface: protocol.QuitNotice, Needs: []string{"baohanapply", "downloadpublickey"},
		Title: "a successful withdrawal notice without tuibaotime is refused", Expected: "code 0 for applystatus 1 without tuibaotime",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "C")
			pr.issue(ctx, t, a)
			f := quit(a)
			delete(f, "tuibaotime")
			t.expectRefused(t.call(ctx, protocol.QuitNotice, f))
		}})
	add(Check{ID: "field.required/quitnotice", Interface: protocol.QuitNotice, Needs: []string{"baohanapply", "downloadpublickey"},
		Title: "quitnotice without applystatus is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "C")
			pr.issue(ctx, t, a)
			f := quit(a)
			delete(f, "applystatus")
			t.expectRefused(t.call(ctx, protocol.QuitNotice, f))
		}})
	add(Check{ID: "quitnotice", Interface: protocol.QuitNotice, Needs: []string{"baohanapply", "downloadpublickey"},
		Title: "the withdrawal of an issued guarantee before the bid opening is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "C")
			pr.issue(ctx, t, a)
			rep := t.call(ctx, protocol.QuitNotice, quit(a))
			if ok(rep) {
				pr.setEnded(a, "withdrawn")
			}
			t.expectAccepted(rep)
		}})

	// --- D, E, F: started at the platform
	add(Check{ID: "giveupapply", Interface: protocol.GiveupApply, Needs: []string{"baohanapply"},
		Title: "the platform sends a bidder's give-up", Expected: "a valid giveupapply for the application",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "D")
			drive(t, "give up an application", pr.d.GiveUp(ctx, a.applyNo))
			in := pr.waitFor(ctx, t, protocol.GiveupApply, a)
			t.Pass("giveupapply %s at %s", a.applyNo, in.Get("timestamp"))
		}})
	add(Check{ID: "quitapply", Interface: protocol.QuitApply, Needs: []string{"baohanapply", "downloadpublickey"},
		Title: "the platform sends a bidder's withdrawal; the institution's quitnotice is accepted", Expected: "a valid quitapply, then quitnotice code 1",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "E")
			pr.issue(ctx, t, a)
			drive(t, "withdraw a guarantee", pr.d.Quit(ctx, a.applyNo))
			in := pr.waitFor(ctx, t, protocol.QuitApply, a)
			if in.Get("reason") == "" {
				t.Fail("quitapply without reason")
			}
			t.expectAccepted(t.call(ctx, protocol.QuitNotice, quit(a)))
		}})
	add(Check{ID: "canclenotice", Interface: protocol.CancelNotice, Needs: []string{"baohanapply", "downloadpublickey"},
		Title: "the platform sends a bid agent's cancellation", Expected: "a valid canclenotice for the guarantee",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "F")
			pr.issue(ctx, t, a)
			drive(t, "cancel a guarantee", pr.d.Cancel(ctx, a.applyNo))
			pr.waitFor(ctx, t, protocol.CancelNotice, a)
			t.Pass("canclenotice %s %s", a.applyNo, a.baohanNo)
		}})

	// --- A: bid opening, plaintext guarantee, invoice, claim
	add(Check{ID: "baohanrestore", Interface: protocol.BaohanRestore, Needs: []string{"baohanfilecompletenotice"},
		Title:    "at the bid opening the platform releases the project key",
		Expected: "a valid baohanrestore, kaibiaotime not in the future, key base64 of 16 bytes",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			drive(t, "open the bids", pr.d.OpenBids(ctx, a.applyNo))
			in := pr.waitFor(ctx, t, protocol.BaohanRestore, a)
			kb, err := protocol.ParseTime(in.Get("kaibiaotime"))
			if err != nil {
				t.Fail("kaibiaotime: %v", err)
			}
			if kb.After(in.At.Add(2 * time.Second)) {
				t.Fail("baohanrestore came at %s, before the bid opening (kaibiaotime %s)", protocol.FormatTime(in.At), in.Get("kaibiaotime"))
			}
			key, err := pr.cfg.Profile.decode(in.Get("key"))
			if err != nil || len(key) != 16 {
				t.Fail("key %q is not %s of 16 bytes", clipText(in.Get("key"), 60), pr.cfg.Profile.Encoding)
			}
			if pr.cfg.Profile.Revision.Flat() {
				if _, err := protocol.ParseTime(in.Get("bzjenddate")); err != nil {
					t.Fail("bzjenddate (the flat revision's deposit deadline, in the clear): %v", err)
				}
			}
			pr.mu.Lock()
			a.restored = in
			pr.mu.Unlock()
			if a.data != nil {
				p, err := decryptProject(key, a.data)
				if err != nil {
					t.Fail("the key does not decrypt the project fields of applydata: %v", err)
				}
				pr.mu.Lock()
				a.project = p
				pr.mu.Unlock()
				t.Pass("kaibiaotime %s; the key decrypts the project: %s %s", in.Get("kaibiaotime"), p["biaoduanno"], p["biaoduanname"])
			}
			t.Pass("kaibiaotime %s, key of 16 bytes", in.Get("kaibiaotime"))
		}})
	add(Check{ID: "baohanfilecompletenotice.plaintext", Interface: protocol.BaohanFileCompleteNotice, Needs: []string{"baohanrestore"},
		Title: "after the bid opening the plaintext guarantee (filetype 2) is accepted", Expected: "code 1 for every chunk and the completion",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			pr.preparePlain(ctx, t, a)
			u := a.plain
			for k, c := range u.chunks {
				f := u.chunkFields(a.applyNo, a.baohanNo, protocol.FileTypePlain, k, c)
				var rep *reply
				if k == 0 { // the platform may still be recording the restore's answer
					rep = t.callEventually(ctx, 10*pr.cfg.Settle, protocol.UploadBaohanFile, f)
				} else {
					rep = t.call(ctx, protocol.UploadBaohanFile, f)
				}
				t.mustAccept(rep, fmt.Sprintf("chunk %d", k+u.base))
			}
			f, err := u.completeFields(a.applyNo, a.baohanNo, protocol.FileTypePlain, a.pub, pr.cfg.Profile.SM2Layout)
			if err != nil {
				t.Fail("%v", err)
			}
			t.expectAccepted(t.call(ctx, protocol.BaohanFileCompleteNotice, f))
		}})
	add(Check{ID: "invoiceapply", Interface: protocol.InvoiceApply, Needs: []string{"baohanfilecompletenotice.plaintext"},
		Title: "the platform sends the bidder's invoice request", Expected: "a valid invoiceapply for the guarantee",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			drive(t, "request an invoice", pr.d.RequestInvoice(ctx, a.applyNo))
			in := pr.waitFor(ctx, t, protocol.InvoiceApply, a)
			if a.data != nil && in.Get("biddercode") != a.data.BidderCode {
				t.Fail("biddercode %q, the application's is %q", in.Get("biddercode"), a.data.BidderCode)
			}
			t.Pass("invoiceapply type %s amount %s", in.Get("type"), in.Get("amount"))
		}})
	invoice := func(a *papp) map[string]string {
		return map[string]string{"baohanno": a.baohanNo, "applystatus": protocol.StatusApproved,
			"invoicecode": "044001900111", "invoiceno": randomDigits(8), "invoiceurl": "https://invoice.example.cn/" + a.baohanNo + ".pdf"}
	}
	add(requiredCheck(pr, protocol.InvoiceNotice, "applystatus", "A", invoice, "invoiceapply"))
	add(maxLengthCheck(pr, protocol.InvoiceNotice, "invoiceno", 50, "A", invoice, "invoiceapply"))
	add(Check{ID: "invoicenotice", Interface: protocol.InvoiceNotice, Needs: []string{"invoiceapply"},
		Title: "the invoice notice is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			t.expectAccepted(t.call(ctx, protocol.InvoiceNotice, invoice(pr.need(t, "A"))))
		}})
	add(Check{ID: "claimsnotice", Interface: protocol.ClaimsNotice, Needs: []string{"baohanrestore"},
		Title: "the platform sends a bid agent's claim", Expected: "a valid claimsnotice; filelist, when sent, a JSON array of {fileurl}",
		Run: func(ctx context.Context, t *T) {
			a := pr.need(t, "A")
			drive(t, "claim on a guarantee", pr.d.Claim(ctx, a.applyNo))
			in := pr.waitFor(ctx, t, protocol.ClaimsNotice, a)
			t.Pass("claimsnotice by %s, amount %q, filelist %s", in.Get("applyusername"), in.Get("payeramount"), clipText(in.Get("filelist"), 80))
		}})

	// The optional claim outcome interfaces (EXTENSIONS.md §1): checked
	// when the platform enables them for the kit, and otherwise checked
	// to be refused.
	result := func(a *papp, status, amount string) map[string]string {
		f := map[string]string{"applyno": a.applyNo, "baohanno": a.baohanNo, "compensatestatus": status,
			"compensatedate": protocol.FormatTime(pr.cfg.Now()), "compensateway": protocol.CompensateByInstitution,
			"transferdate": protocol.FormatTime(pr.cfg.Now()), "compensateamount": amount,
			"transferfilelist": `[{"fileurl":"https://institution.example.cn/vouchers/conformance.pdf"}]`}
		if status == protocol.CompensateRefused || status == protocol.CompensateOther {
			f["compensateremark"] = "一致性测试"
		}
		return f
	}
	repay := func(a *papp, status, amount string) map[string]string {
		return map[string]string{"applyno": a.applyNo, "baohanno": a.baohanNo, "repaystatus": status,
			"repaydate": protocol.FormatTime(pr.cfg.Now()), "repayamount": amount, "iszbrcooperate": "1"}
	}
	enabled := func(t *T, i protocol.Interface) {
		if !pr.cfg.enabled(i) {
			t.Skip("the platform does not enable %s for the kit (Config.Extensions, --extensions)", i)
		}
	}
	add(Check{ID: "extensions.off", Interface: protocol.ClaimsResultNotice, Needs: []string{"claimsnotice"}, Optional: true,
		Title:    "a platform that does not enable claimsresultnotice refuses it",
		Expected: "code 0 (run only when the platform enables no claim outcome interface)",
		Run: func(ctx context.Context, t *T) {
			if pr.cfg.enabled(protocol.ClaimsResultNotice) {
				t.Skip("the platform enables claimsresultnotice")
			}
			t.expectRefused(t.call(ctx, protocol.ClaimsResultNotice, result(pr.need(t, "A"), protocol.CompensatePaid, "1.00")))
		}})
	add(Check{ID: "field.required-if/claimsresultnotice", Interface: protocol.ClaimsResultNotice, Needs: []string{"claimsnotice"}, Optional: true,
		Title: "a claim refused (compensatestatus 3) without compensateremark is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			enabled(t, protocol.ClaimsResultNotice)
			f := result(pr.need(t, "A"), protocol.CompensateRefused, "0")
			delete(f, "compensateremark")
			t.expectRefused(t.call(ctx, protocol.ClaimsResultNotice, f))
		}})
	add(Check{ID: "claimsresultnotice.bound", Interface: protocol.ClaimsResultNotice, Needs: []string{"claimsnotice"}, Optional: true,
		Title: "a compensateamount above the guaranteed amount is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			enabled(t, protocol.ClaimsResultNotice)
			t.expectRefused(t.call(ctx, protocol.ClaimsResultNotice, result(pr.need(t, "A"), protocol.CompensatePaid, "99999999999.00")))
		}})
	add(Check{ID: "claimsresultnotice", Interface: protocol.ClaimsResultNotice, Needs: []string{"claimsnotice"}, Optional: true,
		Title: "the claim reported paid (理赔结果通知) is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			enabled(t, protocol.ClaimsResultNotice)
			t.expectAccepted(t.callEventually(ctx, 10*pr.cfg.Settle, protocol.ClaimsResultNotice, result(pr.need(t, "A"), protocol.CompensatePaid, "1.00")))
		}})
	add(Check{ID: "field.enum/claimsrepaynotice", Interface: protocol.ClaimsRepayNotice, Needs: []string{"claimsresultnotice"}, Optional: true,
		Title: "a claimsrepaynotice with repaystatus 2 is refused", Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			enabled(t, protocol.ClaimsRepayNotice)
			t.expectRefused(t.call(ctx, protocol.ClaimsRepayNotice, repay(pr.need(t, "A"), "2", "1.00")))
		}})
	add(Check{ID: "claimsrepaynotice", Interface: protocol.ClaimsRepayNotice, Needs: []string{"claimsresultnotice"}, Optional: true,
		Title: "the money reported recovered (追偿结果通知) is accepted", Expected: "code 1",
		Run: func(ctx context.Context, t *T) {
			enabled(t, protocol.ClaimsRepayNotice)
			t.expectAccepted(t.callEventually(ctx, 10*pr.cfg.Settle, protocol.ClaimsRepayNotice, repay(pr.need(t, "A"), protocol.RepayRecovered, "1.00")))
		}})

	// --- what was observed across the run
	add(Check{ID: "baohanrestore.only-issued", Interface: protocol.BaohanRestore, Needs: []string{"baohanrestore"},
		Title: "no baohanrestore for an application given up, withdrawn or cancelled", Expected: "none",
		Run: func(ctx context.Context, t *T) {
			var bad []string
			for _, in := range pr.ib.all(protocol.BaohanRestore) {
				for _, role := range []string{"B", "C", "D", "E", "F"} {
					if a := pr.app(role); a != nil && in.Get("applyno") == a.applyNo {
						t.Observe(in.Exchange)
						bad = append(bad, a.applyNo)
					}
				}
			}
			if len(bad) > 0 {
				t.Fail("baohanrestore for %s", strings.Join(bad, ", "))
			}
			t.Pass("none")
		}})
	add(Check{ID: "calls.valid",
		Title:    "every call the platform made to the kit was signed, in time and valid",
		Expected: "no call refused by the kit",
		Run: func(ctx context.Context, t *T) {
			var bad []string
			for _, in := range pr.ib.all("") {
				if len(in.Problems) > 0 {
					t.Observe(in.Exchange)
					bad = append(bad, fmt.Sprintf("%s: %s", in.Interface, strings.Join(in.Problems, "; ")))
				}
			}
			if len(bad) > 0 {
				t.Fail("%d refused: %s", len(bad), strings.Join(bad, " | "))
			}
			t.Pass("%d calls, all valid", len(pr.ib.all("")))
		}})
	add(answersCheck(pr.w))
	return cs
}

// requiredCheck: the interface's call without the field is refused. base
// builds an otherwise valid call for the application of role.
func requiredCheck(pr *platformRun, i protocol.Interface, field, role string, base func(*papp) map[string]string, needs ...string) Check {
	if len(needs) == 0 {
		needs = []string{"baohanapply"}
	}
	return Check{ID: "field.required/" + string(i), Interface: i, Needs: needs,
		Title: fmt.Sprintf("%s without %s is refused", i, field), Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := base(pr.need(t, role))
			delete(f, field)
			t.expectRefused(t.call(ctx, i, f))
		}}
}

// maxLengthCheck: the interface's call with the field one character over
// its maximum is refused.
func maxLengthCheck(pr *platformRun, i protocol.Interface, field string, max int, role string, base func(*papp) map[string]string, needs ...string) Check {
	if len(needs) == 0 {
		needs = []string{"baohanapply"}
	}
	return Check{ID: "field.maxlength/" + string(i), Interface: i, Needs: needs,
		Title: fmt.Sprintf("%s with %s longer than %d characters is refused", i, field, max), Expected: "code 0",
		Run: func(ctx context.Context, t *T) {
			f := base(pr.need(t, role))
			f[field] = strings.Repeat("9", max+1)
			t.expectRefused(t.call(ctx, i, f))
		}}
}

// answersCheck: every answer of the implementation was HTTP 200 with a
// JSON envelope whose code is 0 or 1.
func answersCheck(w *wire) Check {
	return Check{ID: "answers.json",
		Title:    "every answer of the implementation was JSON {code 0|1, message, data}",
		Expected: "HTTP 200 and a JSON envelope for every call of the kit",
		Run: func(ctx context.Context, t *T) {
			var bad []string
			all := w.exchanges()
			for _, ex := range all {
				if ex.Error != "" {
					continue
				}
				r, err := protocol.ParseResponse([]byte(ex.Response))
				switch {
				case err != nil:
					bad = append(bad, fmt.Sprintf("%s: %v", ex.Interface, err))
				case !jsonObject(r.Data):
					bad = append(bad, fmt.Sprintf("%s: data is not an object", ex.Interface))
				case ex.HTTPStatus != 200:
					bad = append(bad, fmt.Sprintf("%s: HTTP %d", ex.Interface, ex.HTTPStatus))
				case r.Code == protocol.CodeFail && strings.TrimSpace(r.Message) == "":
					bad = append(bad, fmt.Sprintf("%s: a refusal without message", ex.Interface))
				default:
					continue
				}
				t.Observe(ex)
			}
			if len(bad) > 0 {
				t.Fail("%d of %d answers: %s", len(bad), len(all), strings.Join(bad, "; "))
			}
			t.Pass("%d answers, all JSON envelopes", len(all))
		}}
}

var badBodies = []string{
	"this is not JSON",
	"",
	`["appkey","x"]`,
	`{"appkey": "x", "applyno": `,
}

// checkEnvelopeShape returns "" when the envelope is an SM2 ciphertext
// of 16 bytes in layout l and applydata SM4 blocks, both in the
// profile's encoding.
func checkEnvelopeShape(env, applydata string, p Profile) string {
	l := p.SM2Layout
	limit := 200
	if p.Encoding == gm.Hex {
		limit = 300 // the same bytes as 200 characters of base64
	}
	if n := len([]rune(env)); n > limit {
		return fmt.Sprintf("digitalenvelope is %d characters, the spec allows %d", n, limit)
	}
	ct, err := p.decode(env)
	if err != nil {
		return fmt.Sprintf("digitalenvelope: %v", err)
	}
	switch l {
	case gm.C1C3C2, gm.C1C2C3:
		if len(ct) != 65+32+16 || ct[0] != 0x04 {
			return fmt.Sprintf("digitalenvelope is %d bytes (%s), expected 113 bytes of SM2 %s (04||C1, C3, C2) over a 16-byte key",
				len(ct), gm.DescribeSM2Ciphertext(ct), l)
		}
	case gm.ASN1:
		if len(ct) == 0 || ct[0] != 0x30 {
			return fmt.Sprintf("digitalenvelope is not an ASN.1 SM2 ciphertext (%s)", gm.DescribeSM2Ciphertext(ct))
		}
	}
	b, err := p.decode(applydata)
	if err != nil {
		return fmt.Sprintf("applydata: %v", err)
	}
	if len(b) == 0 || len(b)%16 != 0 {
		return fmt.Sprintf("applydata is %d bytes, not SM4 blocks of 16", len(b))
	}
	return ""
}

// decryptProject decrypts the project fields of d with the project key.
func decryptProject(key []byte, d *protocol.ApplyData) (map[string]string, error) {
	out := map[string]string{}
	for name, v := range map[string]string{"biaoduanno": d.BiaoduanNo, "biaoduanname": d.BiaoduanName, "zbr": d.Zbr, "zbrorgnum": d.ZbrOrgNum} {
		if v == "" {
			continue
		}
		p, err := gm.DecryptField(key, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		out[name] = p
	}
	return out, nil
}

func flipHex(s string) string {
	if s == "" {
		return "0"
	}
	c := s[0]
	r := byte('0')
	if c == '0' {
		r = '1'
	}
	return string(r) + s[1:]
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for k := range b {
		v, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[k] = byte('0' + v.Int64())
	}
	return string(b)
}

// envelopeChecks check the envelope revision's baohanapply: the envelope
// and applydata.
func (pr *platformRun) envelopeChecks(add func(Check)) {
	add(Check{ID: "baohanapply.envelope", Interface: protocol.BaohanApply, Needs: []string{"baohanapply"},
		Title: "the digital envelope holds a 16-byte SM4 key in the configured SM2 layout; applydata is SM4 ciphertext",
		Expected: fmt.Sprintf("envelope ≤ %d chars, SM2 %s; applydata %s, a multiple of 16 bytes", map[bool]int{false: 200, true: 300}[pr.cfg.Profile.Encoding == gm.Hex],
			pr.cfg.Profile.SM2Layout, pr.cfg.Profile.Encoding),
		Run: func(ctx context.Context, t *T) {
			for _, role := range platformRoles {
				a := pr.app(role)
				if a == nil {
					continue
				}
				if msg := checkEnvelopeShape(a.apply.Get("digitalenvelope"), a.apply.Get("applydata"), pr.cfg.Profile); msg != "" {
					t.Observe(a.apply.Exchange)
					t.Fail("applyno %s: %s", a.applyNo, msg)
				}
			}
			t.Pass("every envelope and applydata has the expected shape")
		}})
	add(Check{ID: "baohanapply.applydata", Interface: protocol.BaohanApply, Needs: []string{"baohanapply"}, Optional: true,
		Title:    "the bidder's key opens the envelope; applydata has the 7 fields, project fields encrypted",
		Expected: "applydata valid per the spec's table; project fields are base64 SM4 ciphertext",
		Run: func(ctx context.Context, t *T) {
			if pr.cfg.BidderKey == nil {
				t.Skip("no bidder key given (--bidder-key): the envelopes cannot be opened")
			}
			for _, role := range platformRoles {
				a := pr.app(role)
				if a == nil {
					continue
				}
				key, err := gm.UnwrapKey(pr.cfg.BidderKey, a.apply.Get("digitalenvelope"), pr.cfg.Profile.SM2Layout)
				if err != nil {
					t.Observe(a.apply.Exchange)
					t.Fail("applyno %s: the envelope does not open with the bidder's key: %v", a.applyNo, err)
				}
				plain, err := gm.OpenEnvelope(pr.cfg.BidderKey, a.apply.Get("applydata"), a.apply.Get("digitalenvelope"), pr.cfg.Profile.SM2Layout)
				if err != nil {
					t.Observe(a.apply.Exchange)
					t.Fail("applyno %s: applydata does not decrypt: %v", a.applyNo, err)
				}
				d, vs := protocol.ValidateApplyData(plain)
				if len(vs) > 0 {
					t.Fail("applyno %s: applydata %s: %s", a.applyNo, clipText(string(plain), 200), protocol.JoinViolations(vs, 5))
				}
				for name, v := range map[string]string{"biaoduanno": d.BiaoduanNo, "biaoduanname": d.BiaoduanName, "zbr": d.Zbr, "zbrorgnum": d.ZbrOrgNum} {
					if v == "" && name == "zbrorgnum" {
						continue
					}
					if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) == 0 || len(b)%16 != 0 {
						t.Fail("applyno %s: project field %s is %q, not SM4 ciphertext in base64: the project must stay secret until the bid opening", a.applyNo, name, clipText(v, 60))
					}
				}
				pr.mu.Lock()
				a.data, a.envKey = d, key
				pr.mu.Unlock()
			}
			t.Pass("every envelope opens; applydata valid, project fields encrypted")
		}})
}

// flatApplyChecks check the flat revision's baohanapply (EXTENSIONS.md
// §2): the application at the top level, no envelope, the secret fields
// SM4 ciphertext.
func (pr *platformRun) flatApplyChecks(add func(Check)) {
	add(Check{ID: "baohanapply.flat", Interface: protocol.BaohanApply, Needs: []string{"baohanapply"},
		Title:    "the flat revision: the application at the top level, no applydata or digitalenvelope, the project and insured fields encrypted",
		Expected: "no applydata, digitalenvelope; " + strings.Join(protocol.FlatEncrypted, ", ") + " base64 SM4 ciphertext",
		Run: func(ctx context.Context, t *T) {
			for _, role := range platformRoles {
				a := pr.app(role)
				if a == nil {
					continue
				}
				for _, k := range []string{"applydata", "digitalenvelope"} {
					if a.apply.Get(k) != "" {
						t.Observe(a.apply.Exchange)
						t.Fail("applyno %s: %s is sent: the flat revision has no envelope", a.applyNo, k)
					}
				}
				for _, name := range protocol.FlatEncrypted {
					v := a.apply.Get(name)
					if v == "" {
						continue // the field rules say which are required
					}
					if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) == 0 || len(b)%16 != 0 {
						t.Observe(a.apply.Exchange)
						t.Fail("applyno %s: %s is %q, not SM4 ciphertext in base64: it must stay secret until the bid opening", a.applyNo, name, clipText(v, 60))
					}
				}
				var f protocol.FlatApplyData
				if err := protocol.Decode(a.apply.Req, &f); err != nil {
					t.Fail("applyno %s: %v", a.applyNo, err)
				}
				d := f.ApplyData()
				pr.mu.Lock()
				a.data = &d
				pr.mu.Unlock()
			}
			t.Pass("every application at the top level, its secret fields encrypted")
		}})
}
