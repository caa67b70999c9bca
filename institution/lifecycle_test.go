package institution

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/protocol"
)

func TestRestoreInvoiceClaimCancel(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testRestoreInvoiceClaimCancel(t, false) })
	t.Run("postgres", func(t *testing.T) { testRestoreInvoiceClaimCancel(t, true) })
}

func testRestoreInvoiceClaimCancel(t *testing.T, pg bool) {
	e := newEnv(t, pg)
	e.issue("R-1")
	a := e.app("R-1")
	kb := protocol.FormatTime(e.clock().Add(-time.Hour))
	restore := func(key []byte, kaibiao string) protocol.Response {
		e.advance(time.Second)
		return e.call(protocol.BaohanRestore, map[string]string{"applyno": "R-1", "baohanno": a.BaohanNo,
			"kaibiaotime": kaibiao, "key": base64.StdEncoding.EncodeToString(key)})
	}
	// Refusals first: future opening, wrong key, wrong baohanno.
	if r := restore(e.projKeys["R-1"], protocol.FormatTime(e.clock().Add(time.Hour))); r.Code != 0 || !strings.Contains(r.Message, "is in the future") {
		t.Errorf("future kaibiaotime: %+v", r)
	}
	// Under a wrong key a field's ciphertext may still unpad by chance
	// (about 1 in 256), and then the next field is the one named.
	wrong := make([]byte, 16)
	if r := restore(wrong, kb); r.Code != 0 || !regexp.MustCompile(`^decryption failed for (biaoduanno|biaoduanname|zbr) with the released key`).MatchString(r.Message) {
		t.Errorf("wrong key: %+v", r)
	}
	if r := restore([]byte("short"), kb); r.Code != 0 || r.Message != "key: want base64 of the 16-byte SM4 project key, got 5 bytes" {
		t.Errorf("short key: %+v", r)
	}
	e.advance(time.Second)
	if r := e.call(protocol.BaohanRestore, map[string]string{"applyno": "R-1", "baohanno": "NOPE", "kaibiaotime": kb,
		"key": base64.StdEncoding.EncodeToString(e.projKeys["R-1"])}); r.Code != 0 || r.Message != `baohanno "NOPE" does not belong to applyno "R-1"` {
		t.Errorf("wrong baohanno: %+v", r)
	}
	if r := restore(e.projKeys["R-1"], kb); r.Code != 1 {
		t.Fatalf("restore: %+v", r)
	}
	// The same release again is acknowledged.
	if r := restore(e.projKeys["R-1"], kb); r.Code != 1 {
		t.Errorf("restore again: %+v", r)
	}
	e.waitState("R-1", Restored)
	plain := e.plat.file("R-1", 2)
	pkg, err := ofd.Open(plain)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ofd.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if txt := doc.Text(); !strings.Contains(txt, testBDName) || !strings.Contains(txt, testZbr) {
		t.Errorf("the plaintext guarantee does not show the project: %q", txt)
	}
	p, err := e.svc.RestoredProject(context.Background(), a.ID)
	if err != nil || p.BiaoduanNo != testBiaoduan || p.ZbrOrgNum != testZbrOrgNum {
		t.Errorf("restored project %+v %v", p, err)
	}

	// Invoice: issued automatically, served at invoiceurl.
	inv := map[string]string{"applyno": "R-1", "baohanno": a.BaohanNo, "biddername": testBidder, "biddercode": e.bidder.CreditCode,
		"amount": "1000.00", "type": "0", "email": "cw@example.cn"}
	e.advance(time.Second)
	if r := e.call(protocol.InvoiceApply, inv); r.Code != 1 {
		t.Fatalf("invoiceapply: %+v", r)
	}
	e.waitFor("invoicenotice", func() bool { return e.plat.count("invoicenotice") == 1 })
	n := e.plat.last("invoicenotice")
	if n["applystatus"] != "1" || !strings.HasPrefix(n["invoiceno"], "INV") || n["invoicecode"] != "011001900111" ||
		!strings.HasPrefix(n["invoiceurl"], e.srv.URL+"/invoices/") {
		t.Fatalf("invoicenotice %v", n)
	}
	var page []byte
	if st := e.bidderDo("GET", strings.TrimPrefix(n["invoiceurl"], e.srv.URL), nil, &page); st != 200 || !strings.Contains(string(page), n["invoiceno"]) {
		t.Errorf("invoice page: %d %s", st, page)
	}
	if st := e.bidderDo("GET", "/invoices/"+strings.Repeat("A", 43), nil, &page); st != 404 {
		t.Errorf("unknown invoice token: %d", st)
	}
	inv["amount"] = "5000.00"
	e.advance(time.Second)
	if r := e.call(protocol.InvoiceApply, inv); r.Code != 0 || r.Message != "amount 5000.00 must be positive and at most the premium paid (1000.00)" {
		t.Errorf("too large invoice: %+v", r)
	}

	// A withdrawal after the opening is refused in quitnotice.
	e.advance(time.Second)
	if r := e.call(protocol.QuitApply, map[string]string{"applyno": "R-1", "baohanno": a.BaohanNo, "reason": "不投了"}); r.Code != 1 {
		t.Fatalf("quitapply: %+v", r)
	}
	e.waitFor("quitnotice", func() bool { return e.plat.count("quitnotice") == 1 })
	if q := e.plat.last("quitnotice"); q["applystatus"] != "0" || q["tuibaotime"] != "" {
		t.Errorf("quitnotice %v", q)
	}

	// Claims: recorded with the files, acknowledged at once, once.
	claim := map[string]string{"applyno": "R-1", "baohanno": a.BaohanNo, "applyusername": "张三", "applyuserphone": "13800000000",
		"payeramount": "200000.00", "filelist": `[{"fileurl":"https://ggzy.example.cn/f/1.pdf"},{"fileurl":"https://ggzy.example.cn/f/2.pdf"}]`}
	for range 2 {
		e.advance(time.Second)
		if r := e.call(protocol.ClaimsNotice, claim); r.Code != 1 {
			t.Fatalf("claimsnotice: %+v", r)
		}
	}
	claims, err := e.svc.Claims(context.Background())
	if err != nil || len(claims) != 1 || len(claims[0].Files) != 2 || claims[0].Files[1] != "https://ggzy.example.cn/f/2.pdf" {
		t.Errorf("claims %+v %v", claims, err)
	}

	// Cancel, and again.
	for range 2 {
		e.advance(time.Second)
		if r := e.call(protocol.CancelNotice, map[string]string{"applyno": "R-1", "baohanno": a.BaohanNo}); r.Code != 1 {
			t.Fatalf("canclenotice: %+v", r)
		}
	}
	if s := e.app("R-1").State; s != Cancelled {
		t.Errorf("state %s", s)
	}
	// Nothing more after cancellation.
	e.advance(time.Second)
	if r := e.call(protocol.ClaimsNotice, claim); r.Code != 0 || r.Message != "applyno R-1 is cancelled (已注销): there is no guarantee in force to claim on" {
		t.Errorf("claim after cancel: %+v", r)
	}
	d, err := e.svc.Detail(context.Background(), a.ID)
	if err != nil || len(d.History) < 8 || len(d.Files) != 2 || len(d.Invoices) != 1 || len(d.Quits) != 1 {
		t.Errorf("detail %+v %v", d, err)
	}
}

func TestQuitBeforeOpening(t *testing.T) {
	e := newEnv(t, false)
	e.issue("Q-1")
	a := e.app("Q-1")
	e.advance(time.Second)
	if r := e.call(protocol.QuitApply, map[string]string{"applyno": "Q-1", "baohanno": a.BaohanNo, "reason": "项目变更"}); r.Code != 1 {
		t.Fatalf("quitapply: %+v", r)
	}
	e.waitFor("quitnotice", func() bool { return e.plat.count("quitnotice") == 1 })
	q := e.plat.last("quitnotice")
	if q["applystatus"] != "1" || q["tuibaotime"] == "" || q["baohanno"] != a.BaohanNo {
		t.Errorf("quitnotice %v", q)
	}
	if s := e.app("Q-1").State; s != Quit {
		t.Errorf("state %s", s)
	}
	// A restore after the withdrawal is an illegal transition.
	e.advance(time.Second)
	r := e.call(protocol.BaohanRestore, map[string]string{"applyno": "Q-1", "baohanno": a.BaohanNo,
		"kaibiaotime": protocol.FormatTime(e.clock()), "key": base64.StdEncoding.EncodeToString(e.projKeys["Q-1"])})
	if r.Code != 0 || r.Message != "applyno Q-1 is quit (已退保): baohanrestore is not allowed in this state" {
		t.Errorf("restore after quit: %+v", r)
	}
	// Started at the institution: the rule refuses (already quit) and the platform is told.
	rec, err := e.svc.Quit(context.Background(), a.ID, "person:ops", "again")
	if err != nil || rec.Status != QuitRefused {
		t.Fatalf("quit again: %+v %v", rec, err)
	}
	e.waitFor("second quitnotice", func() bool { return e.plat.count("quitnotice") == 2 })
}

func TestBidderQuitsAtInstitution(t *testing.T) {
	e := newEnv(t, false)
	tok := e.issue("BQ-1")
	var ae apiError
	if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", []byte(`{}`), &ae); st != 422 || ae.Error != "a reason is required" {
		t.Errorf("quit without reason: %d %+v", st, ae)
	}
	var rec QuitRecord
	body := mustJSON(BidderQuitRequest{Reason: "不再投标", BidderProof: e.proof(tok, ActionQuit, e.bidder)})
	if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", body, &rec); st != 200 || rec.Status != QuitPendingStatus || rec.Origin != "institution" {
		t.Fatalf("quit: %d %+v", st, rec)
	}
	e.waitFor("quitnotice", func() bool { return e.plat.count("quitnotice") == 1 })
	// The platform accepted it: the withdrawal stands.
	e.waitFor("quit", func() bool { return e.app("BQ-1").State == Quit })
	if q, err := e.svc.Quits(e.ctx); err != nil || len(q) != 1 || q[0].Status != QuitAccepted {
		t.Errorf("quit records after the platform accepted: %+v %v", q, err)
	}
	if q := e.plat.last("quitnotice"); q["applystatus"] != "1" || q["tuibaotime"] != rec.TuibaoTime {
		t.Errorf("quitnotice %v", q)
	}
	var v BidderView
	if e.bidderDo("GET", "/bidder/"+tok, nil, &v); v.State != Quit || v.Next != "none" {
		t.Errorf("view %+v", v)
	}
}
