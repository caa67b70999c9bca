package platform

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

func TestInvoiceNotice(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(time.Hour)
		a, bn := e.withCipher(sec)
		inv := map[string]string{"baohanno": bn, "applystatus": "1", "invoiceno": "1"}
		wantFail(t, "before the plaintext guarantee", e.send(protocol.InvoiceNotice, inv),
			fmt.Sprintf("applyno %s is cipher_received (已收密文保函): invoicenotice applystatus 1 is not allowed in this state", a.ApplyNo))
		wantFail(t, "unknown baohanno", e.send(protocol.InvoiceNotice, with(inv, "baohanno", "NOPE")), "baohanno NOPE is unknown for appkey bank-key")
		wantFail(t, "other institution", e.sendAs(testAppKey2, testAppSecret2, protocol.InvoiceNotice, inv), fmt.Sprintf("baohanno %s is unknown for appkey %s", bn, testAppKey2))

		e.clock.Set(sec.KaibiaoTime)
		e.eventually("the restore", func() bool { return e.app(a.ApplyNo).State == Restored })
		wantOK(t, "plaintext", e.sendGuarantee(a.ApplyNo, bn, "2", guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, fileType: 2}), plainUpload()))

		if _, err := e.svc.RequestInvoice(e.ctx, a.ApplyNo, InvoiceInput{Type: "1"}); err == nil {
			t.Fatal("a 专票 without address, phone, bank and account was accepted")
		} else if want := fmt.Sprintf(`invoiceapply for applyno %s: field "address" is required when "type" is "1" (专票)`, a.ApplyNo); err.Error()[:len(want)] != want {
			t.Fatalf("err = %v", err)
		}
		e.wantState(a.ApplyNo, PlainReceived)
		if _, err := e.svc.RequestInvoice(e.ctx, a.ApplyNo, InvoiceInput{Type: "1", Address: "某市某路1号", Phone: "0571-88888888", Bank: "某银行某支行", Account: "1234567890"}); err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "refused", e.send(protocol.InvoiceNotice, with(inv, "applystatus", "0")))
		e.wantState(a.ApplyNo, PlainReceived)
		if _, err := e.svc.RequestInvoice(e.ctx, a.ApplyNo, InvoiceInput{Type: "0"}); err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "issued", e.send(protocol.InvoiceNotice, inv))
		wantOK(t, "issued again", e.send(protocol.InvoiceNotice, inv))
		e.wantState(a.ApplyNo, Invoiced)
		if got := e.app(a.ApplyNo).Invoice; got == nil || got.InvoiceNo != "1" || got.Status != "1" {
			t.Errorf("invoice = %+v", got)
		}
	})
}

func TestQuitNotice(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(2 * time.Hour)
		q := func(applyNo, bn, status, when string) map[string]string {
			f := map[string]string{"applyno": applyNo, "baohanno": bn, "applystatus": status}
			if when != "" {
				f["tuibaotime"] = when
			}
			return f
		}
		now := func() string { return protocol.FormatTime(e.clock.Now()) }

		// Started at the institution, before the opening.
		a, bn := e.withCipher(sec)
		wantFail(t, "wrong baohanno", e.send(protocol.QuitNotice, q(a.ApplyNo, "X", "1", now())),
			fmt.Sprintf("baohanno X does not match the guarantee %s of applyno %s", bn, a.ApplyNo))
		wantFail(t, "tuibaotime after the opening", e.send(protocol.QuitNotice, q(a.ApplyNo, bn, "1", protocol.FormatTime(sec.KaibiaoTime))),
			fmt.Sprintf("tuibaotime %s is not before the bid opening %s: quitting is only possible before it", protocol.FormatTime(sec.KaibiaoTime), protocol.FormatTime(sec.KaibiaoTime)))
		wantOK(t, "quit", e.send(protocol.QuitNotice, q(a.ApplyNo, bn, "1", now())))
		e.wantState(a.ApplyNo, Quit)
		wantOK(t, "quit again", e.send(protocol.QuitNotice, q(a.ApplyNo, bn, "1", now())))
		if e.app(a.ApplyNo).TuibaoTime == "" {
			t.Error("tuibaotime not kept")
		}
		// The scheduled restore stands down: a withdrawn guarantee gets no key.
		e.clock.Set(sec.KaibiaoTime)
		e.settle()
		if n := len(e.inst.received(protocol.BaohanRestore, a.ApplyNo)); n != 0 {
			t.Fatalf("%d restores for a withdrawn guarantee", n)
		}

		// Asked by the platform, refused, then asked again and accepted.
		sec2 := e.section(2 * time.Hour)
		b, bn2 := e.withCipher(sec2)
		if _, err := e.svc.Quit(e.ctx, b.ApplyNo, "投标人决定不参与投标"); err != nil {
			t.Fatal(err)
		}
		e.settle()
		e.wantState(b.ApplyNo, QuitRequested)
		if qa := e.inst.received(protocol.QuitApply, b.ApplyNo); len(qa) != 1 || qa[0].Fields["reason"] != "投标人决定不参与投标" || qa[0].Fields["baohanno"] != bn2 {
			t.Fatalf("quitapply calls %v", qa)
		}
		wantOK(t, "quit refused", e.send(protocol.QuitNotice, q(b.ApplyNo, bn2, "0", "")))
		e.wantState(b.ApplyNo, CipherReceived)
		if _, err := e.svc.Quit(e.ctx, b.ApplyNo, "再次申请退保"); err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "quit accepted", e.send(protocol.QuitNotice, q(b.ApplyNo, bn2, "1", now())))
		e.wantState(b.ApplyNo, Quit)

		// After the opening, no quitting.
		sec3 := e.section(2 * time.Hour)
		c, bn3 := e.withCipher(sec3)
		e.clock.Set(sec3.KaibiaoTime.Add(time.Minute))
		e.eventually("the restore", func() bool { return e.app(c.ApplyNo).State == Restored })
		wantFail(t, "quit after the opening", e.send(protocol.QuitNotice, q(c.ApplyNo, bn3, "1", protocol.FormatTime(sec3.KaibiaoTime.Add(-time.Minute)))),
			fmt.Sprintf("applyno %s is restored (已还原): quitnotice applystatus 1 (退保成功) is not allowed in this state; quitting is only possible after the success notice and before the bid opening", c.ApplyNo))
		_, err := e.svc.Quit(e.ctx, c.ApplyNo, "too late")
		var te *TransitionError
		if !errors.As(err, &te) {
			t.Fatalf("Quit after the opening: %v", err)
		}
	})
}

func TestGiveupNotice(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(2 * time.Hour)
		a := e.applied(sec)
		wantFail(t, "unknown", e.send(protocol.GiveupNotice, map[string]string{"applyno": "BH20260101ZZZZZZZZZZZZ"}), "applyno BH20260101ZZZZZZZZZZZZ is unknown")
		wantFail(t, "other institution", e.sendAs(testAppKey2, testAppSecret2, protocol.GiveupNotice, map[string]string{"applyno": a.ApplyNo}),
			fmt.Sprintf("applyno %s was not sent to appkey %s", a.ApplyNo, testAppKey2))
		wantOK(t, "give up", e.send(protocol.GiveupNotice, map[string]string{"applyno": a.ApplyNo}))
		e.wantState(a.ApplyNo, GivenUp)
		wantOK(t, "give up again", e.send(protocol.GiveupNotice, map[string]string{"applyno": a.ApplyNo}))

		b, _ := e.approved(e.section(2 * time.Hour))
		wantFail(t, "after the success notice", e.send(protocol.GiveupNotice, map[string]string{"applyno": b.ApplyNo}),
			fmt.Sprintf("applyno %s is approved (审核通过): giveupnotice (放弃申请) is not allowed in this state; giving up is only possible before a success notice", b.ApplyNo))
		e.wantState(b.ApplyNo, Approved)
	})
}

// TestNoticeAfterCipherGuarantee: a ciphertext guarantee completed before
// the notice (upload_first) is held; a notice naming another baohanno is
// refused, the one naming it approves the application and releases the
// guarantee to it, whose state is then cipher_received.
func TestNoticeAfterCipherGuarantee(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		a := e.applied(e.section(2 * time.Hour))
		const bn = "BHNO-FIRST"
		doc := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn})
		u := upload{skip: -1, indexBase: 1}
		enc := e.encrypt(a.ApplyNo, doc, u)
		e.sendChunks(a.ApplyNo, bn, "1", enc, u)
		wantOK(t, "complete before the notice", e.complete(a.ApplyNo, bn, "1", enc, u))
		e.wantState(a.ApplyNo, Applied)

		r := e.send(protocol.BaohanNotice, e.noticeFields(a.ApplyNo, "BHNO-OTHER", "1"))
		wantFailContains(t, "notice with another baohanno", r,
			fmt.Sprintf("baohanno BHNO-OTHER differs from the ciphertext guarantee of applyno %s received before this notice (baohanno %s, ", a.ApplyNo, bn))
		e.wantState(a.ApplyNo, Applied)

		wantOK(t, "notice", e.send(protocol.BaohanNotice, e.noticeFields(a.ApplyNo, bn, "1")))
		e.wantState(a.ApplyNo, CipherReceived)
		if got := e.app(a.ApplyNo).BaohanNo; got != bn {
			t.Fatalf("baohanno %q, want %q", got, bn)
		}
	})
}
