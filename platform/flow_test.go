package platform

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// TestHappyPath walks one application through the whole flow over HTTP:
// apply, notice, ciphertext guarantee, restore at the bid opening,
// plaintext guarantee, invoice.
func TestHappyPath(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(2 * time.Hour)
		a := e.applied(sec)

		// The institution received a baohanapply whose envelope opens with
		// the bidder's key and whose project fields are ciphertext.
		calls := e.inst.received(protocol.BaohanApply, a.ApplyNo)
		if len(calls) != 1 {
			t.Fatalf("baohanapply calls: %d", len(calls))
		}
		f := calls[0].Fields
		if f["platformcode"] != testPlatform {
			t.Errorf("platformcode %q", f["platformcode"])
		}
		plain, err := gm.OpenEnvelope(e.pki.bidder.Key, f["applydata"], f["digitalenvelope"], gm.C1C3C2)
		if err != nil {
			t.Fatal(err)
		}
		ad, vs := protocol.ValidateApplyData(plain)
		if len(vs) > 0 {
			t.Fatalf("applydata: %v", vs)
		}
		if ad.BidderName != e.pki.bidder.Name || ad.BidderCode != e.pki.bidder.CreditCode || ad.BzjAmount != "200000.00" {
			t.Errorf("applydata = %+v", ad)
		}
		if ad.BiaoduanNo == sec.No || ad.Zbr == sec.Tenderer {
			t.Fatal("project fields sent in plaintext")
		}
		if a.RedirectURL != "https://bank.example.cn/bid?applyno="+a.ApplyNo {
			t.Errorf("redirecturl %q", a.RedirectURL)
		}

		baohanNo := "BHNO-0001"
		wantOK(t, "baohannotice", e.send(protocol.BaohanNotice, e.noticeFields(a.ApplyNo, baohanNo, "1")))
		e.wantState(a.ApplyNo, Approved)

		doc := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: baohanNo})
		wantOK(t, "complete filetype 1", e.sendGuarantee(a.ApplyNo, baohanNo, "1", doc, plainUpload()))
		e.wantState(a.ApplyNo, CipherReceived)
		g, err := e.svc.Guarantee(e.ctx, a.ApplyNo, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !g.SealsOK || g.Size != int64(len(doc)) {
			t.Errorf("guarantee = %+v", g)
		}

		// Nothing is restored before the opening.
		e.settle()
		if n := len(e.inst.received(protocol.BaohanRestore, "")); n != 0 {
			t.Fatalf("%d restores before the bid opening", n)
		}
		e.clock.Set(sec.KaibiaoTime)
		e.eventually("the restore", func() bool { return e.app(a.ApplyNo).State == Restored })
		rs := e.inst.received(protocol.BaohanRestore, a.ApplyNo)
		if len(rs) != 1 {
			t.Fatalf("%d restores", len(rs))
		}
		key, err := base64.StdEncoding.DecodeString(rs[0].Fields["key"])
		if err != nil || len(key) != 16 {
			t.Fatalf("restore key %q", rs[0].Fields["key"])
		}
		if no, err := gm.DecryptField(key, ad.BiaoduanNo); err != nil || no != sec.No {
			t.Fatalf("the released key decrypts biaoduanno to %q, %v; want %q", no, err, sec.No)
		}
		if rs[0].Fields["kaibiaotime"] != protocol.FormatTime(sec.KaibiaoTime) || rs[0].Fields["baohanno"] != baohanNo {
			t.Errorf("restore fields %v", rs[0].Fields)
		}

		doc2 := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: baohanNo, fileType: 2, cipher: doc})
		wantOK(t, "complete filetype 2", e.sendGuarantee(a.ApplyNo, baohanNo, "2", doc2, plainUpload()))
		e.wantState(a.ApplyNo, PlainReceived)

		if _, err := e.svc.RequestInvoice(e.ctx, a.ApplyNo, InvoiceInput{Type: "0", Email: "finance@bidder.example.cn"}); err != nil {
			t.Fatal(err)
		}
		e.settle()
		inv := e.inst.received(protocol.InvoiceApply, a.ApplyNo)
		if len(inv) != 1 || inv[0].Fields["amount"] != "1000.00" || inv[0].Fields["biddercode"] != e.pki.bidder.CreditCode {
			t.Fatalf("invoiceapply calls %v", inv)
		}
		e.wantState(a.ApplyNo, InvoiceRequested)
		wantOK(t, "invoicenotice", e.send(protocol.InvoiceNotice, map[string]string{"baohanno": baohanNo, "applystatus": "1",
			"invoiceno": "00012345", "invoicecode": "033001900111", "invoiceurl": "https://bank.example.cn/inv/1.pdf"}))
		e.wantState(a.ApplyNo, Invoiced)

		h, err := e.svc.History(e.ctx, a.ApplyNo)
		if err != nil {
			t.Fatal(err)
		}
		var evs []Event
		for _, ev := range h {
			evs = append(evs, ev.Event)
		}
		want := []Event{EvApply, EvApplyAccepted, EvApproved, EvKeyIssued, EvCipherReceived, EvRestored, EvPlainReceived, EvInvoiceRequested, EvInvoiceAccepted, EvInvoiced}
		if b1, b2 := mustJSON(evs), mustJSON(want); b1 != b2 {
			t.Errorf("history\n got %s\nwant %s", b1, b2)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
