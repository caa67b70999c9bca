package institution

import (
	"context"
	"encoding/base64"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
)

// A platform that refuses the complete notice for good: the file is
// marked refused, the application stays approved, and a re-upload (new
// key, new round of messages) completes it.
func TestRefusedUploadAndReupload(t *testing.T) {
	e := newEnv(t, false, func(c *Config) { c.Outbox.MaxAttempts = 0 })
	var refuseComplete atomic.Bool
	refuseComplete.Store(true)
	e.plat.setOnComplete(func() bool { return !refuseComplete.Load() })
	tok := e.apply("U-1", "200000")
	e.openAndSign(tok)
	e.pay(tok)
	a := e.app("U-1")
	e.waitFor("refused file", func() bool {
		d, err := e.svc.Detail(context.Background(), a.ID)
		return err == nil && len(d.Files) == 1 && d.Files[0].Stage == StageRefused
	})
	d, _ := e.svc.Detail(context.Background(), a.ID)
	if !strings.Contains(d.Files[0].Error, "baohanfilecompletenotice refused by testplat: not today") || d.State != Approved {
		t.Errorf("refused file %+v in state %s", d.Files[0], d.State)
	}
	if err := e.svc.ReuploadFile(context.Background(), a.ID, 2, "person:ops"); err == nil || !baohan.IsRefusal(err) {
		t.Errorf("re-upload of a missing file: %v", err)
	}
	refuseComplete.Store(false)
	var st map[string]string
	if code := e.admin("POST", "/api/applications/"+a.ID+"/reupload?filetype=1", map[string]string{"actor": "ops"}, &st); code != 200 {
		t.Fatalf("reupload: %d %v", code, st)
	}
	e.waitState("U-1", Issued)
	if e.plat.file("U-1", 1) == nil {
		t.Error("no verified file after the re-upload")
	}
	if c := e.plat.count("downloadpublickey"); c != 1 {
		t.Errorf("public key fetched %d times", c)
	}
}

func TestManualInvoices(t *testing.T) {
	e := newEnv(t, false, func(c *Config) { c.Invoicing.Mode = ModeManual })
	e.issue("I-1")
	a := e.app("I-1")
	e.advance(time.Second)
	if r := e.call(protocol.BaohanRestore, map[string]string{"applyno": "I-1", "baohanno": a.BaohanNo,
		"kaibiaotime": protocol.FormatTime(e.clock()), "key": base64.StdEncoding.EncodeToString(e.projKeys["I-1"])}); r.Code != 1 {
		t.Fatalf("restore: %+v", r)
	}
	e.waitState("I-1", Restored)
	for i, amount := range []string{"600.00", "400.00"} {
		e.advance(time.Second)
		if r := e.call(protocol.InvoiceApply, map[string]string{"applyno": "I-1", "baohanno": a.BaohanNo, "biddername": testBidder,
			"biddercode": e.bidder.CreditCode, "amount": amount, "type": "1", "address": "北京", "phone": "010-1", "bank": "某行", "account": "6222"}); r.Code != 1 {
			t.Fatalf("invoiceapply %d: %+v", i, r)
		}
	}
	var list []*Invoice
	if code := e.admin("GET", "/api/invoices?status=requested", nil, &list); code != 200 || len(list) != 2 {
		t.Fatalf("requested invoices: %d %+v", code, list)
	}
	var inv Invoice
	if code := e.admin("POST", "/api/invoices/"+list[0].ID+"/issue", map[string]string{"actor": "cw"}, &inv); code != 200 || inv.Status != InvoiceIssued || inv.InvoiceNo == "" {
		t.Fatalf("issue: %d %+v", code, inv)
	}
	var ae apiError
	if code := e.admin("POST", "/api/invoices/"+list[1].ID+"/refuse", map[string]string{"actor": "cw"}, &ae); code != 422 || ae.Error != "a reason is required" {
		t.Errorf("refuse without reason: %d %+v", code, ae)
	}
	if code := e.admin("POST", "/api/invoices/"+list[1].ID+"/refuse", map[string]string{"actor": "cw", "reason": "抬头有误"}, &inv); code != 200 || inv.Status != InvoiceRefused {
		t.Fatalf("refuse: %d %+v", code, inv)
	}
	e.waitFor("two invoicenotices", func() bool { return e.plat.count("invoicenotice") == 2 })
	if n := e.plat.last("invoicenotice"); n["applystatus"] != "0" || n["invoiceno"] != "" {
		t.Errorf("refusal notice %v", n)
	}
	if code := e.admin("POST", "/api/invoices/"+list[1].ID+"/issue", nil, &ae); code != 422 || ae.Error != "invoice "+list[1].ID+" is already refused" {
		t.Errorf("issue a refused invoice: %d %+v", code, ae)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, false)
	e.issue("MX-1")
	var body []byte
	if code := e.bidderDo("GET", "/metrics", nil, &body); code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`baohan_institution_requests_total{interface="baohanapply",outcome="ok"} 1`,
		`baohan_institution_transitions_total{from="approved",to="issued"} 1`,
		`baohan_institution_calls_total{interface="baohanfilecompletenotice",outcome="ok"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestReuploadAcknowledgedFile: a file the platform acknowledged can be
// sent again (a platform restored from a backup older than the file has
// lost it): a new round that fetches the public key anew, the same
// document, acknowledged again; the application does not move.
func TestReuploadAcknowledgedFile(t *testing.T) {
	e := newEnv(t, false)
	e.issue("RA-1")
	a := e.app("RA-1")
	first := e.plat.file("RA-1", 1)
	if err := e.svc.ReuploadFile(context.Background(), a.ID, 1, "person:ops"); err != nil {
		t.Fatalf("re-upload of an acknowledged file: %v", err)
	}
	e.waitFor("the second completion", func() bool { return e.plat.count("baohanfilecompletenotice") == 2 })
	e.settled()
	if c := e.plat.count("downloadpublickey"); c != 2 {
		t.Errorf("public key fetched %d times, want again for the resend", c)
	}
	if got := e.plat.file("RA-1", 1); string(got) != string(first) {
		t.Error("the document sent again differs")
	}
	d, err := e.svc.Detail(context.Background(), a.ID)
	if err != nil || d.State != Issued || len(d.Files) != 1 || d.Files[0].Stage != StageComplete || d.Files[0].Round != 1 {
		t.Fatalf("after the resend: %+v %v", d, err)
	}
}
