package institution

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/protocol"
)

func TestNewVerifyCode(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		c := NewVerifyCode()
		if len(c) != VerifyCodeLen {
			t.Fatalf("code %q: length %d", c, len(c))
		}
		for _, r := range c {
			if !strings.ContainsRune(VerifyAlphabet, r) {
				t.Fatalf("code %q has %q, not in the alphabet", c, r)
			}
		}
		if seen[c] {
			t.Fatalf("code %q drawn twice in 2000", c)
		}
		seen[c] = true
	}
	for _, look := range "0O1IL" {
		if strings.ContainsRune(VerifyAlphabet, look) {
			t.Errorf("the alphabet has the look-alike %q", look)
		}
	}
}

// verifyAnswer is one answer of GET /verify.
type verifyAnswer struct {
	status int
	header http.Header
	body   []byte
	v      Verification
}

// verifyAt asks GET /verify for a number and code as JSON, from the
// client address from (X-Forwarded-For; the test server is a trusted
// proxy), "" for the TCP peer.
func (e *env) verifyAt(from, no, code string) verifyAnswer {
	e.t.Helper()
	return e.verifyURL(from, e.srv.URL+"/verify?"+url.Values{"baohanno": {no}, "code": {code}}.Encode())
}

func (e *env) verifyURL(from, u string) verifyAnswer {
	e.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	a := verifyAnswer{}
	a.status, a.header, a.body = e.verifyDo(req, from)
	if a.status == 200 {
		if err := json.Unmarshal(a.body, &a.v); err != nil {
			e.t.Fatalf("verify: %v: %s", err, a.body)
		}
	}
	return a
}

// verifyDo sends a request to /verify asking for JSON, from the client
// address from (X-Forwarded-For) unless empty.
func (e *env) verifyDo(req *http.Request, from string) (int, http.Header, []byte) {
	e.t.Helper()
	req.Header.Set("Accept", "application/json")
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// codeOf is the verification code of an application's guarantee.
func (e *env) codeOf(applyNo string) string {
	e.t.Helper()
	c, err := e.svc.VerifyCodeOf(context.Background(), e.app(applyNo).ID)
	if err != nil || c == "" {
		e.t.Fatalf("code of %s: %q %v", applyNo, c, err)
	}
	return c
}

// restore releases the project key of applyNo, opened an hour ago.
func (e *env) restore(applyNo string) {
	e.t.Helper()
	a := e.app(applyNo)
	e.advance(time.Second)
	if r := e.call(protocol.BaohanRestore, map[string]string{"applyno": applyNo, "baohanno": a.BaohanNo,
		"kaibiaotime": protocol.FormatTime(e.clock().Add(-time.Hour)), "key": base64.StdEncoding.EncodeToString(e.projKeys[applyNo])}); r.Code != 1 {
		e.t.Fatalf("restore %s: %+v", applyNo, r)
	}
	start := time.Now()
	for e.app(applyNo).State != Restored && time.Since(start) < 30*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if st := e.app(applyNo).State; st != Restored {
		d, _ := e.svc.Detail(context.Background(), a.ID)
		for _, f := range d.Files {
			e.t.Logf("file %+v", *f)
		}
		e.t.Fatalf("%s: %s", applyNo, st)
	}
}

func trustLocalProxy(c *Config) { c.Listen.TrustedProxies = []string{"127.0.0.1", "::1"} }

// bigChunks uploads a guarantee in a few chunks, not hundreds.
func bigChunks(c *Config) { c.Platforms[0].ChunkSize = 128 << 10 }

// TestVerifyStatuses: over HTTP, every status a guarantee with a code can
// have, the terms, the project only after the opening, the QR code of the
// issued files leading to the same answer, and the expiry.
func TestVerifyStatuses(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testVerifyStatuses(t, false) })
	t.Run("postgres", func(t *testing.T) { testVerifyStatuses(t, true) })
}

func testVerifyStatuses(t *testing.T, pg bool) {
	e := newEnv(t, pg, bigChunks)
	for _, no := range []string{"V-VALID", "V-QUIT", "V-CANCEL", "V-CLAIM", "V-EXPIRE"} {
		e.issue(no)
	}
	check := func(applyNo, status string, project bool) Verification {
		t.Helper()
		a := e.app(applyNo)
		ans := e.verifyAt("", a.BaohanNo, e.codeOf(applyNo))
		v := ans.v
		if ans.status != 200 || v.Status != status || v.StatusLabel != VerifyStatusLabel(status) {
			t.Fatalf("%s: HTTP %d %s, want %s", applyNo, ans.status, ans.body, status)
		}
		if v.BaohanNo != a.BaohanNo || v.Institution != testInstName || v.Bidder != testBidder || v.BidderCode != e.bidder.CreditCode ||
			v.Amount != "200000.00" || v.AmountCapitals != "人民币贰拾万元整" || v.ValidityDays != DefaultValidityDays || v.IssueDate == "" {
			t.Errorf("%s: terms %+v", applyNo, v)
		}
		if project != (v.Project != nil) {
			t.Errorf("%s: project %+v, want shown %v", applyNo, v.Project, project)
		}
		if v.Project != nil && (v.Project.BiaoduanName != testBDName || v.Project.Zbr != testZbr) {
			t.Errorf("%s: project %+v", applyNo, v.Project)
		}
		return v
	}

	// Valid, before the opening: no project, the validity without a date.
	v := check("V-VALID", VerifyValid, false)
	if v.Validity != "自开标之日起至投标有效期（90日）满之日止" || v.ValidUntil != "" || v.KaibiaoTime != "" {
		t.Errorf("validity before the opening: %+v", v)
	}
	// The code is printed on the ciphertext guarantee, and its QR code
	// (decoded from the picture) is the URL that answers.
	code := e.codeOf("V-VALID")
	pkg, err := ofd.Open(e.plat.file("V-VALID", 1))
	if err != nil {
		t.Fatal(err)
	}
	qr, err := guarantee.ReadQR(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.svc.VerifyURL(e.app("V-VALID").BaohanNo, code); qr != want || !strings.HasPrefix(qr, e.srv.URL+"/verify?baohanno=") {
		t.Errorf("QR code %q, want %q", qr, want)
	}
	if ans := e.verifyURL("", qr); ans.status != 200 || ans.v.Status != VerifyValid || ans.v.BaohanNo != e.app("V-VALID").BaohanNo {
		t.Errorf("the QR code's URL: HTTP %d %s", ans.status, ans.body)
	}
	doc, err := ofd.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.Text(), "验真码："+code) {
		t.Error("the ciphertext guarantee does not print its 验真码")
	}
	// Lower case and spaces as typed still verify.
	if ans := e.verifyAt("", e.app("V-VALID").BaohanNo, " "+strings.ToLower(code[:4])+" "+code[4:]); ans.status != 200 {
		t.Errorf("code typed in lower case: HTTP %d %s", ans.status, ans.body)
	}

	// Quit (退保) before the opening.
	e.advance(time.Second)
	if r := e.call(protocol.QuitApply, map[string]string{"applyno": "V-QUIT", "baohanno": e.app("V-QUIT").BaohanNo, "reason": "项目变更"}); r.Code != 1 {
		t.Fatalf("quitapply: %+v", r)
	}
	e.waitState("V-QUIT", Quit)
	check("V-QUIT", VerifyQuit, false)

	// Cancelled (注销).
	e.advance(time.Second)
	if r := e.call(protocol.CancelNotice, map[string]string{"applyno": "V-CANCEL", "baohanno": e.app("V-CANCEL").BaohanNo}); r.Code != 1 {
		t.Fatalf("canclenotice: %+v", r)
	}
	check("V-CANCEL", VerifyCancelled, false)

	// Claimed (理赔), after the opening: the project is shown, and the
	// plaintext guarantee prints the code too.
	e.restore("V-CLAIM")
	v = check("V-CLAIM", VerifyValid, true)
	if !strings.HasPrefix(v.Validity, "自开标之日（") || v.ValidUntil == "" || v.KaibiaoTime == "" {
		t.Errorf("validity after the opening: %+v", v)
	}
	plain, err := ofd.Open(e.plat.file("V-CLAIM", 2))
	if err != nil {
		t.Fatal(err)
	}
	if qr, err := guarantee.ReadQR(plain); err != nil || qr != e.svc.VerifyURL(v.BaohanNo, e.codeOf("V-CLAIM")) {
		t.Errorf("plaintext guarantee's QR code: %q %v", qr, err)
	}
	e.advance(time.Second)
	if r := e.call(protocol.ClaimsNotice, map[string]string{"applyno": "V-CLAIM", "baohanno": v.BaohanNo, "applyusername": "张三",
		"applyuserphone": "13800000000", "payeramount": "1000.00", "filelist": `[{"fileurl":"https://ggzy.example.cn/f/1.pdf"}]`}); r.Code != 1 {
		t.Fatalf("claimsnotice: %+v", r)
	}
	check("V-CLAIM", VerifyClaimed, true)

	// Expired: at the end of the 90th day after the opening day, the
	// answer says 已失效 at once; ExpireDue moves the guarantee, once.
	e.restore("V-EXPIRE")
	v = check("V-EXPIRE", VerifyValid, true)
	until, err := time.ParseInLocation("2006-01-02", v.ValidUntil, protocol.CST)
	if err != nil {
		t.Fatal(err)
	}
	open, _ := protocol.ParseTime(v.KaibiaoTime)
	if days := int(until.Sub(time.Date(open.In(protocol.CST).Year(), open.In(protocol.CST).Month(), open.In(protocol.CST).Day(), 0, 0, 0, 0, protocol.CST)).Hours() / 24); days != 90 {
		t.Errorf("valid until %s: %d days after the opening day, want 90", v.ValidUntil, days)
	}
	e.advance(until.Add(24*time.Hour - time.Second).Sub(e.clock())) // the last second of the last day
	if n, err := e.svc.ExpireDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("ExpireDue on the last day: %d %v", n, err)
	}
	check("V-EXPIRE", VerifyValid, true)
	e.advance(time.Second)
	check("V-EXPIRE", VerifyExpired, true)
	// Both restored guarantees expire (the claimed one stays 已理赔).
	if n, err := e.svc.ExpireDue(context.Background()); err != nil || n != 2 {
		t.Fatalf("ExpireDue: %d %v, want 2", n, err)
	}
	if s := e.app("V-EXPIRE").State; s != Expired {
		t.Errorf("state %s, want expired", s)
	}
	if n, err := e.svc.ExpireDue(context.Background()); err != nil || n != 0 {
		t.Errorf("ExpireDue again: %d %v", n, err)
	}
	check("V-EXPIRE", VerifyExpired, true)
	check("V-CLAIM", VerifyClaimed, true) // claimed stays claimed
	check("V-VALID", VerifyValid, false)  // never opened: no validity end known
	// An expired guarantee takes no claim.
	e.advance(time.Second)
	if r := e.call(protocol.ClaimsNotice, map[string]string{"applyno": "V-EXPIRE", "baohanno": v.BaohanNo, "applyusername": "张三",
		"applyuserphone": "13800000000", "filelist": `[{"fileurl":"https://ggzy.example.cn/f/1.pdf"}]`}); r.Code != 0 || !strings.Contains(r.Message, "已失效") {
		t.Errorf("claim on an expired guarantee: %+v", r)
	}
}

// TestVerifyStatusOfEveryState: the status every state answers (the
// given-up state included, which no guarantee with a code reaches through
// the flow: a numbered guarantee cannot be given up).
func TestVerifyStatusOfEveryState(t *testing.T) {
	e := newEnv(t, false)
	want := map[State]string{Approved: VerifyValid, Issued: VerifyValid, Restoring: VerifyValid, Restored: VerifyValid,
		Quit: VerifyQuit, Cancelled: VerifyCancelled, Expired: VerifyExpired, GivenUp: VerifyGivenUp}
	for st, status := range want {
		got, err := e.svc.verifyStatus(context.Background(), &Application{ID: "none", State: st}, e.clock())
		if err != nil || got != status {
			t.Errorf("%s: %q %v, want %q", st, got, err, status)
		}
	}
}

// TestVerifyRefusalsAreIdentical: a wrong code for a real number and an
// unknown number get the same status, headers and bytes.
func TestVerifyRefusalsAreIdentical(t *testing.T) {
	e := newEnv(t, false)
	e.issue("W-1")
	no, code := e.app("W-1").BaohanNo, e.codeOf("W-1")
	wrong := []byte(code)
	wrong[0] = VerifyAlphabet[(strings.IndexByte(VerifyAlphabet, wrong[0])+1)%len(VerifyAlphabet)]
	a := e.verifyAt("", no, string(wrong))
	b := e.verifyAt("", "TB20991231999999", code)
	c := e.verifyAt("", strings.Repeat("X", 200), code)
	for _, x := range []verifyAnswer{b, c} {
		if x.status != a.status || !bytes.Equal(x.body, a.body) || x.header.Get("Content-Type") != a.header.Get("Content-Type") ||
			x.header.Get("Content-Length") != a.header.Get("Content-Length") || x.header.Get("Cache-Control") != a.header.Get("Cache-Control") {
			t.Errorf("answers differ:\nwrong code:     %d %v %s\nunknown number: %d %v %s", a.status, a.header, a.body, x.status, x.header, x.body)
		}
	}
	if a.status != 404 || !strings.Contains(string(a.body), "保函编号或验真码不正确") {
		t.Errorf("wrong code: %d %s", a.status, a.body)
	}
	// Missing parameters are a plain refusal.
	if x := e.verifyAt("", no, ""); x.status != 422 || !strings.Contains(string(x.body), "code (验真码) are required") {
		t.Errorf("no code: %d %s", x.status, x.body)
	}
}

// TestVerifyRateLimit: per client address, VerifyBurst failed attempts,
// then 429 with Retry-After until the interval passed; a successful
// verification costs nothing; another address has its own budget.
func TestVerifyRateLimit(t *testing.T) {
	e := newEnv(t, false, trustLocalProxy)
	e.issue("L-1")
	no, code := e.app("L-1").BaohanNo, e.codeOf("L-1")
	const addr = "198.51.100.7"
	for i := range VerifyBurst {
		if x := e.verifyAt(addr, no, "WRONG"+string(rune('A'+i))); x.status != 404 {
			t.Fatalf("attempt %d: %d %s", i+1, x.status, x.body)
		}
		if i == 3 {
			for range 20 { // successes in between take nothing
				if x := e.verifyAt(addr, no, code); x.status != 200 {
					t.Fatalf("verification: %d %s", x.status, x.body)
				}
			}
		}
	}
	x := e.verifyAt(addr, no, code)
	if x.status != 429 || x.header.Get("Retry-After") != "6" || !strings.Contains(string(x.body), "验真尝试过于频繁") {
		t.Fatalf("after %d failures: %d %v %s", VerifyBurst, x.status, x.header, x.body)
	}
	if x := e.verifyAt("198.51.100.8", no, code); x.status != 200 {
		t.Errorf("another address: %d %s", x.status, x.body)
	}
	e.advance(VerifyInterval)
	if x := e.verifyAt(addr, no, code); x.status != 200 {
		t.Errorf("after the interval: %d %s", x.status, x.body)
	}
	// Uploads draw on the same budget.
	for range VerifyBurst {
		e.verifyAt(addr, no, "WRONG")
	}
	if st, _, body := e.verifyFile(addr, []byte("x"), false); st != 429 {
		t.Errorf("upload after the failures: %d %s", st, body)
	}
}

// verifyFile posts a file to /verify (raw, or as the field "file" of a
// multipart form).
func (e *env) verifyFile(from string, doc []byte, form bool) (int, FileVerification, []byte) {
	e.t.Helper()
	body, ct := bytes.NewReader(doc), "application/ofd"
	if form {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "guarantee.ofd")
		fw.Write(doc)
		mw.Close()
		body, ct = bytes.NewReader(buf.Bytes()), mw.FormDataContentType()
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/verify", body)
	req.Header.Set("Content-Type", ct)
	st, _, b := e.verifyDo(req, from)
	var fv FileVerification
	if st == 200 {
		if err := json.Unmarshal(b, &fv); err != nil {
			e.t.Fatalf("verify file: %v %s", err, b)
		}
	}
	return st, fv, b
}

// TestVerifyFile: an uploaded file is recognised as issued (both
// filetypes) with its guarantee's status; a tampered copy is not, and the
// failing entry is named; a guarantee sealed elsewhere is not ours.
func TestVerifyFile(t *testing.T) {
	e := newEnv(t, false, bigChunks)
	e.issue("F-1")
	e.restore("F-1")
	no := e.app("F-1").BaohanNo
	for ft := 1; ft <= 2; ft++ {
		st, fv, body := e.verifyFile("", e.plat.file("F-1", ft), ft == 2)
		if st != 200 || !fv.Issued || fv.FileType != ft || !fv.SealsOK || fv.Guarantee == nil || fv.Guarantee.BaohanNo != no ||
			fv.Guarantee.Status != VerifyValid || len(fv.Seals) == 0 || !fv.Seals[len(fv.Seals)-1].Ours || !strings.Contains(fv.Message, "本机构出具的保函") {
			t.Errorf("filetype %d: %d %s", ft, st, body)
		}
	}

	// Tampered: one word of the page changed.
	pkg, err := ofd.Open(e.plat.file("F-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	const page = "Doc_0/Pages/Page_0/Content.xml"
	content, err := pkg.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(content, []byte("Size="), []byte("Size= "), 1)
	if bytes.Equal(tampered, content) {
		t.Fatal("nothing to tamper with")
	}
	if err := pkg.Replace(page, tampered, time.Now()); err != nil {
		t.Fatal(err)
	}
	doc, err := pkg.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	st, fv, body := e.verifyFile("", doc, false)
	if st != 200 || fv.Issued || fv.SealsOK || fv.Guarantee != nil || fv.ClaimedBaohanNo != no ||
		!strings.Contains(fv.SealFailure, page) || !strings.Contains(fv.Message, "不是本机构出具的文件") {
		t.Errorf("tampered: %d %s", st, body)
	}

	// Foreign: a guarantee sealed by another institution.
	ca, err := testca.New("另一个根CA")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ca.Issue("另一家担保有限公司", testca.Institution)
	bidder, _ := ca.Issue(testBidder, testca.Bidder)
	foreign, err := guarantee.Sample(guarantee.Party{Key: other.Key, Cert: other.Cert}, guarantee.Party{Key: bidder.Key, Cert: bidder.Cert}, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	st, fv, body = e.verifyFile("", foreign, false)
	if st != 200 || fv.Issued || !fv.SealsOK || len(fv.Seals) == 0 || fv.Seals[len(fv.Seals)-1].Ours || fv.Guarantee != nil {
		t.Errorf("foreign: %d %s", st, body)
	}

	// Not an OFD at all; nothing at all; too large.
	if st, fv, body := e.verifyFile("", []byte("not a zip"), false); st != 200 || fv.Issued || fv.SealsOK || fv.SealFailure == "" {
		t.Errorf("not an OFD: %d %s", st, body)
	}
	if st, _, body := e.verifyFile("", nil, false); st != 422 {
		t.Errorf("empty: %d %s", st, body)
	}
	if st, _, body := e.verifyFile("", make([]byte, MaxVerifyFile+1), false); st != 422 || !strings.Contains(string(body), "larger than") {
		t.Errorf("too large: %d %.200s", st, body)
	}
}
