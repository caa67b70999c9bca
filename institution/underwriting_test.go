package institution

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/protocol"
)

func TestManualUnderwritingThroughAdminAPI(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testManualUnderwriting(t, false) })
	t.Run("postgres", func(t *testing.T) { testManualUnderwriting(t, true) })
}

func testManualUnderwriting(t *testing.T, pg bool) {
	e := newEnv(t, pg, manualUnderwriting)
	tok := e.apply("M-1", "100000")
	e.openAndSign(tok)
	if v := e.pay(tok); v.State != Reviewing || v.Next != "wait" {
		t.Fatalf("after paying: %+v", v)
	}
	var queue []*Application
	if st := e.admin("GET", "/api/underwriting", nil, &queue); st != 200 || len(queue) != 1 || queue[0].ApplyNo != "M-1" ||
		queue[0].Decision != "all underwriting rules passed" {
		t.Fatalf("queue: %d %+v", st, queue)
	}
	// No token, wrong token.
	var ae apiError
	req := func(tokHeader string) int {
		e.t.Helper()
		r, _ := httpNewRequest("GET", e.srv.URL+"/api/underwriting", tokHeader)
		return r
	}
	if st := req(""); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st := req("Bearer nope"); st != 401 {
		t.Errorf("wrong token: %d", st)
	}
	if st := e.admin("POST", "/api/applications/"+queue[0].ID+"/reject", map[string]string{"actor": "li"}, &ae); st != 422 || ae.Error != "reject: a reason is required" {
		t.Errorf("reject without reason: %d %+v", st, ae)
	}
	var a Application
	if st := e.admin("POST", "/api/applications/"+queue[0].ID+"/approve", map[string]string{"actor": "li"}, &a); st != 200 || a.State != Approved {
		t.Fatalf("approve: %d %+v", st, a)
	}
	if st := e.admin("POST", "/api/applications/"+queue[0].ID+"/approve", map[string]string{"actor": "li"}, &ae); st != 409 {
		t.Errorf("approve twice: %d %+v", st, ae)
	}
	e.waitState("M-1", Issued)
	var d ApplicationDetail
	if st := e.admin("GET", "/api/applications/"+a.ID, nil, &d); st != 200 || d.DecidedBy != "person:li" || len(d.Files) != 1 || d.Files[0].Stage != StageComplete {
		t.Errorf("detail: %d %+v", st, d)
	}
	var gs []*GuaranteeSummary
	if st := e.admin("GET", "/api/guarantees", nil, &gs); st != 200 || len(gs) != 1 {
		t.Errorf("guarantees: %d %+v", st, gs)
	}
	var raw []byte
	if st := e.bidderDo("GET", "/bidder/"+tok+"/guarantee", nil, &raw); st != 200 || len(raw) < 100 {
		t.Errorf("bidder guarantee: %d", st)
	}
	var msgs []json.RawMessage
	if st := e.admin("GET", "/api/messages?applyno=M-1", nil, &msgs); st != 200 || len(msgs) < 4 {
		t.Errorf("messages: %d %d", st, len(msgs))
	}
	var out []json.RawMessage
	if st := e.admin("GET", "/api/outbox?applyno=M-1", nil, &out); st != 200 || len(out) < 4 || !strings.Contains(string(out[1]), "base64 characters") && !strings.Contains(string(out[2]), "base64 characters") {
		t.Errorf("outbox: %d %d", st, len(out))
	}
}

func TestRulesRejectAndGiveUp(t *testing.T) {
	e := newEnv(t, false, func(c *Config) { c.Underwrite.MaxBond = "300000" })
	e.issue("B-1") // 200000 in force
	tok := e.apply("B-2", "150000.00")
	e.openAndSign(tok)
	v := e.pay(tok)
	if v.State != Rejected || v.Decision != "the bidder's bonds in force would total 350000.00, above the maximum of 300000.00" {
		t.Fatalf("over max bond: %+v", v)
	}
	e.waitFor("rejection notice", func() bool { return e.plat.count("baohannotice") == 2 })
	if n := e.plat.last("baohannotice"); n["applystatus"] != "0" || n["baohanno"] == "" {
		t.Errorf("baohannotice %v", n)
	}
	// giveupapply: allowed after a rejection, acknowledged twice; refused once approved.
	for range 2 {
		e.advance(time.Second)
		if r := e.call(protocol.GiveupApply, map[string]string{"applyno": "B-2"}); r.Code != 1 {
			t.Fatalf("giveupapply: %+v", r)
		}
	}
	e.advance(time.Second)
	b1 := e.app("B-1")
	r := e.call(protocol.GiveupApply, map[string]string{"applyno": "B-1"})
	if want := "applyno B-1 was approved (baohanno " + b1.BaohanNo + ") and the guarantee is 已出函: it can no longer be given up"; r.Code != 0 || r.Message != want {
		t.Errorf("giveup issued: %+v", r)
	}
	e.advance(time.Second)
	if r := e.call(protocol.GiveupApply, map[string]string{"applyno": "B-404"}); r.Code != 0 || r.Message != `applyno "B-404" is unknown at this institution (platformcode "TESTPLAT")` {
		t.Errorf("unknown applyno: %+v", r)
	}
}

func TestBlockedCreditCode(t *testing.T) {
	e := newEnv(t, false)
	blocked, err := e.ca.Issue("黑名单公司", testca.Bidder, testca.WithCreditCode("91110000BLCKED000A"))
	if err != nil {
		t.Skipf("test CA refuses the made-up code: %v", err)
	}
	e.bidder = blocked
	tok := e.apply("X-1", "1000")
	e.openAndSign(tok)
	if v := e.pay(tok); v.State != Rejected || v.Decision != "biddercode 91110000BLCKED000A is blocked" {
		t.Fatalf("%+v", v)
	}
}

func TestGiveUpAtInstitution(t *testing.T) {
	e := newEnv(t, false)
	tok := e.apply("G-1", "1000")
	a := e.app("G-1")
	e.plat.giveupAnswer.Store(0)
	var g Giveup
	p := e.proof(tok, ActionGiveUp, e.bidder)
	p.Key = e.envelopeKey(tok) // not opened yet: the key names the bidder
	if st := e.bidderDo("POST", "/bidder/"+tok+"/giveup", mustJSON(p), &g); st != 200 || g.Status != GiveupPending {
		t.Fatalf("giveup: %d %+v", st, g)
	}
	e.waitFor("refused give-up", func() bool {
		gs, _ := e.svc.Giveups(context.Background())
		return len(gs) == 1 && gs[0].Status == GiveupRefused
	})
	if s := e.app("G-1").State; s != Received {
		t.Errorf("state after a refused give-up: %s", s)
	}
	e.plat.giveupAnswer.Store(1)
	if _, err := e.svc.GiveUp(context.Background(), a.ID, "person:ops"); err != nil {
		t.Fatal(err)
	}
	e.waitState("G-1", GivenUp)
	if _, err := e.svc.GiveUp(context.Background(), a.ID, "person:ops"); err == nil || !baohan.IsRefusal(err) {
		t.Errorf("give up twice: %v", err)
	}
}

func TestBidderRefusals(t *testing.T) {
	e := newEnv(t, false)
	tok := e.apply("F-1", "1000")
	var ae apiError
	post := func(path string, body string) int {
		ae = apiError{}
		return e.bidderDo("POST", "/bidder/"+tok+path, []byte(body), &ae)
	}
	if st := e.bidderDo("GET", "/bidder/"+strings.Repeat("x", 43), nil, &ae); st != 404 {
		t.Errorf("unknown token: %d", st)
	}
	if st := e.bidderDo("GET", "/bidder/short", nil, &ae); st != 404 {
		t.Errorf("malformed token: %d", st)
	}
	if st := post("/open", `{"key":"`+base64.StdEncoding.EncodeToString(make([]byte, 16))+`"}`); st != 422 || !strings.HasPrefix(ae.Error, "the key does not open this application's applydata") {
		t.Errorf("wrong key: %d %+v", st, ae)
	}
	if st := post("/open", `{"key":"AAAA"}`); st != 422 || ae.Error != "key: want the 16-byte SM4 key recovered from the digital envelope, got 3 bytes" {
		t.Errorf("short key: %d %+v", st, ae)
	}
	if st := post("/open", `{}`); st != 422 {
		t.Errorf("no key: %d", st)
	}
	if st := post("/pay", `{}`); st != 409 || ae.Error != "applyno F-1 is received (已受理): payment is not allowed in this state" {
		t.Errorf("pay before signing: %d %+v", st, ae)
	}
	var agreement []byte
	if st := e.bidderDo("GET", "/bidder/"+tok+"/agreement", nil, &agreement); st != 422 {
		t.Errorf("agreement before opening: %d", st)
	}
	// Open, then sign with another company's certificate.
	var v BidderView
	e.bidderDo("GET", "/bidder/"+tok, nil, &v)
	key, _ := gm.SM2Decrypt(e.bidder.Key, mustB64(t, v.DigitalEnvelope), gm.C1C3C2)
	if st := post("/open", `{"key":"`+base64.StdEncoding.EncodeToString(key)+`","product":"优惠"}`); st != 200 {
		t.Fatalf("open: %d %+v", st, ae)
	}
	e.bidderDo("GET", "/bidder/"+tok, nil, &v)
	if v.Application == nil || v.Application.Premium != "50.00" || v.Application.Product != "优惠" {
		t.Errorf("view after opening: %+v", v.Application) // 1000 × 0.003 = 3.00 → minimum 50
	}
	e.bidderDo("GET", "/bidder/"+tok+"/agreement", nil, &agreement)
	other, _ := e.ca.Issue("别的公司", testca.Bidder)
	if st := e.bidderDo("POST", "/bidder/"+tok+"/agreement", e.signAs(other, agreement), &ae); st != 422 ||
		ae.Error != "the agreement is signed by credit code "+other.CreditCode+", not by the bidder "+e.bidder.CreditCode {
		t.Errorf("other signer: %d %+v", st, ae)
	}
	// A certificate from an untrusted CA.
	rogueCA, _ := testca.New("野CA")
	rogue, _ := rogueCA.Issue(testBidder, testca.Bidder, testca.WithCreditCode(e.bidder.CreditCode))
	if st := e.bidderDo("POST", "/bidder/"+tok+"/agreement", e.signAs(rogue, agreement), &ae); st != 422 || !strings.Contains(ae.Error, "chain") {
		t.Errorf("untrusted signer: %d %+v", st, ae)
	}
	// Another document signed by the right bidder.
	if st := e.bidderDo("POST", "/bidder/"+tok+"/agreement", e.signAs(e.bidder, e.plat.fakeOFD(t)), &ae); st != 422 || !strings.Contains(ae.Error, "not the agreement this institution issued") {
		t.Errorf("other document: %d %+v", st, ae)
	}
	if st := e.bidderDo("POST", "/bidder/"+tok+"/agreement", []byte("not an ofd"), &ae); st != 422 {
		t.Errorf("garbage: %d %+v", st, ae)
	}
}

func httpNewRequest(method, url, auth string) (int, error) {
	req, _ := newReq(method, url)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := defaultClientDo(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestBasicAccountPayment(t *testing.T) {
	e := newEnv(t, false, func(c *Config) { c.Platforms[0].BasicAccount = true })
	tok := e.apply("BA-1", "1000")
	e.openAndSign(tok)
	var ae apiError
	if st := e.bidderDo("POST", "/bidder/"+tok+"/pay", []byte(`{"payername":"某某建设工程有限公司"}`), &ae); st != 422 ||
		ae.Error != "the trading centre requires payment from the bidder's basic account (基本户): payername and payeraccount are required" {
		t.Fatalf("pay without account: %d %+v", st, ae)
	}
	var v BidderView
	if st := e.bidderDo("POST", "/bidder/"+tok+"/pay", []byte(`{"payername":"某某建设工程有限公司","payeraccount":"110000000001"}`), &v); st != 200 || !v.BasicAccount {
		t.Fatalf("pay: %d %+v", st, v)
	}
	e.waitFor("baohannotice", func() bool { return e.plat.count("baohannotice") == 1 })
	if n := e.plat.last("baohannotice"); n["payername"] != "某某建设工程有限公司" || n["payeraccount"] != "110000000001" || n["cost"] != "100.00" {
		t.Errorf("baohannotice %v", n)
	}
}

type countingPayments struct{ n atomic.Int32 }

func (c *countingPayments) Pay(context.Context, Payment) (string, error) {
	c.n.Add(1)
	time.Sleep(5 * time.Millisecond) // a slow gateway: concurrent clicks overlap
	return "REF", nil
}

func TestConcurrentPayChargesOnce(t *testing.T) {
	e := newEnv(t, false)
	pays := &countingPayments{}
	e.stop()
	e.opts = append(e.opts, WithPaymentProvider(pays))
	e.start()
	tok := e.apply("CP-1", "1000")
	e.openAndSign(tok)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v BidderView
			codes[i] = e.bidderDo("POST", "/bidder/"+tok+"/pay", []byte(`{}`), &v)
		}()
	}
	wg.Wait()
	if n := pays.n.Load(); n != 1 {
		t.Errorf("charged %d times (answers %v)", n, codes)
	}
}
