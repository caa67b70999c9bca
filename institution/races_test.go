package institution

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// tryCall is call for hooks that run on the fake platform's goroutine:
// it reports errors instead of failing the test.
func (e *env) tryCall(iface protocol.Interface, fields map[string]string) (protocol.Response, error) {
	f := map[string]string{"appkey": testAppKey, "timestamp": protocol.FormatTime(e.clock()), "platformcode": testPlatCode}
	for k, v := range fields {
		f[k] = v
	}
	f["sign"] = protocol.Sign(f, testSecret)
	var r protocol.Response
	resp, err := http.Post(e.srv.URL+"/"+string(iface), "application/json", bytes.NewReader(protocol.MarshalFields(f)))
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: answer is not JSON (HTTP %d): %s", iface, resp.StatusCode, b)
	}
	if r.Code == 0 && strings.HasSuffix(r.Message, "…") {
		// clipped to 100 characters: the whole message is in the log
		if es, err := e.svc.msgs.List(context.Background(), store.LogFilter{Direction: "in", Limit: 3}); err == nil {
			for _, x := range es {
				if strings.HasPrefix(x.Error, strings.TrimSuffix(r.Message, "…")) {
					r.Message = x.Error
				}
			}
		}
	}
	return r, nil
}

// quitDuring applies for applyNo, and sends quitapply from inside the
// fake platform's handling of a message of the ciphertext upload (hook
// installs the trigger): the platform is in the middle of the upload, the
// institution still "approved". It returns the answer to quitapply.
func (e *env) quitDuring(applyNo string, hook func(trigger func())) protocol.Response {
	e.t.Helper()
	return e.callDuring(applyNo, protocol.QuitApply, map[string]string{"reason": "项目变更"}, hook)
}

// callDuring is quitDuring for any request of the platform about applyNo.
func (e *env) callDuring(applyNo string, iface protocol.Interface, fields map[string]string, hook func(trigger func())) protocol.Response {
	e.t.Helper()
	var (
		once sync.Once
		resp protocol.Response
		err  error
		done = make(chan struct{})
	)
	hook(func() {
		once.Do(func() {
			defer close(done)
			a, aerr := e.svc.ApplicationByApplyNo(context.Background(), testPlatName, applyNo)
			if aerr != nil || a.State != Approved {
				err = fmt.Errorf("at the trigger the application is %v (%v), want approved", a, aerr)
				return
			}
			e.advance(time.Second)
			f := map[string]string{"applyno": applyNo, "baohanno": a.BaohanNo}
			for k, v := range fields {
				f[k] = v
			}
			resp, err = e.tryCall(iface, f)
		})
	})
	tok := e.apply(applyNo, "200000.00")
	e.openAndSign(tok)
	e.pay(tok)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		e.t.Fatal("the quit was never triggered")
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// settled waits until every outbox message is done and none is dead.
func (e *env) settled() {
	e.t.Helper()
	e.waitFor("the outbox to settle", func() bool {
		ms, err := e.svc.Outbox(context.Background(), store.OutboxFilter{Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range ms {
			if m.State == store.StateDead {
				e.t.Fatalf("outbox %d %s is dead: %s", m.ID, m.Interface, m.LastError)
			}
			if m.State != store.StateDone {
				return false
			}
		}
		return true
	})
}

func (e *env) file1(applyNo string) *File {
	e.t.Helper()
	d, err := e.svc.Detail(context.Background(), e.app(applyNo).ID)
	if err != nil || len(d.Files) == 0 {
		e.t.Fatalf("files of %s: %+v %v", applyNo, d, err)
	}
	return d.Files[0]
}

// TestQuitWhileCiphertextAcknowledged: quitapply arrives after the
// platform took the ciphertext guarantee (its answer to
// baohanfilecompletenotice is on the way) but before the institution
// recorded that answer, so the institution is still "approved". The quit
// is decided on the bidder's entitlement (approved, before the opening,
// no claim), not on the upload's bookkeeping: accepted, quitnotice
// applystatus 1, as the platform (which holds the guarantee) expects.
// The quitapply is sent from inside the fake platform's handling of the
// completion notice, so the interleaving is certain.
func TestQuitWhileCiphertextAcknowledged(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			e := newEnv(t, pg)
			r := e.quitDuring("QC-1", func(trigger func()) {
				e.plat.setOnComplete(func() bool { trigger(); return true })
			})
			if r.Code != 1 {
				t.Fatalf("quitapply: %+v", r)
			}
			e.settled()
			if n := e.plat.count("quitnotice"); n != 1 {
				t.Fatalf("%d quitnotices", n)
			}
			q := e.plat.last("quitnotice")
			if q["applystatus"] != "1" || q["tuibaotime"] == "" {
				t.Fatalf("quitnotice %v; want applystatus 1 with tuibaotime (the platform holds the guarantee and asked to withdraw it)", q)
			}
			if s := e.app("QC-1").State; s != Quit {
				t.Errorf("state %s, want quit", s)
			}
			// The platform did take the file: the late answer is applied.
			if f := e.file1("QC-1"); f.Stage != StageComplete {
				t.Errorf("ciphertext file %+v, want complete", f)
			}
			quits, _ := e.svc.Quits(context.Background())
			if len(quits) != 1 || quits[0].Status != QuitAccepted || quits[0].Origin != "platform" {
				t.Errorf("quits %+v", quits)
			}
		})
	}
}

// TestQuitWhileUploading: quitapply while the ciphertext guarantee is
// still being uploaded (the platform, in approved, may ask): accepted, the
// upload stops (the chunks left and the completion notice are not sent,
// nothing is refused or dead), and quitnotice applystatus 1 follows.
func TestQuitWhileUploading(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			e := newEnv(t, pg)
			r := e.quitDuring("QU-1", func(trigger func()) {
				e.plat.setOnChunk(func(applyNo string, index int) bool { trigger(); return true })
			})
			if r.Code != 1 {
				t.Fatalf("quitapply: %+v", r)
			}
			e.settled()
			q := e.plat.last("quitnotice")
			if e.plat.count("quitnotice") != 1 || q["applystatus"] != "1" || q["tuibaotime"] == "" {
				t.Fatalf("%d quitnotices, last %v; want one with applystatus 1", e.plat.count("quitnotice"), q)
			}
			if n := e.plat.count("uploadbaohanfile"); n != 1 {
				t.Errorf("%d chunks reached the platform after the quit; want only the one in flight", n)
			}
			if n := e.plat.count("baohanfilecompletenotice"); n != 0 {
				t.Errorf("%d completion notices after the quit", n)
			}
			if s := e.app("QU-1").State; s != Quit {
				t.Errorf("state %s, want quit", s)
			}
			f := e.file1("QU-1")
			if f.Stage != StageStopped || f.Error == "" {
				t.Errorf("ciphertext file %+v, want stopped", f)
			}
			if err := e.svc.ReuploadFile(context.Background(), e.app("QU-1").ID, 1, "person:ops"); err == nil {
				t.Error("a quit application's guarantee uploaded again")
			}
			ms, _ := e.svc.Outbox(context.Background(), store.OutboxFilter{Limit: 1000})
			var skipped int
			for _, m := range ms {
				if m.Interface == string(protocol.UploadBaohanFile) || m.Interface == string(protocol.BaohanFileCompleteNotice) {
					if m.LastResponse == "" {
						skipped++
					}
				}
			}
			if skipped == 0 {
				t.Error("no upload message was left unsent")
			}
		})
	}
}

// TestCancelWhileUploading: canclenotice while the ciphertext guarantee
// is still being uploaded stops the issuance as a quit does: nothing more
// is sent for it, nothing is refused or dead.
func TestCancelWhileUploading(t *testing.T) {
	e := newEnv(t, false)
	r := e.callDuring("CU-1", protocol.CancelNotice, nil, func(trigger func()) {
		e.plat.setOnChunk(func(applyNo string, index int) bool { trigger(); return true })
	})
	if r.Code != 1 {
		t.Fatalf("canclenotice: %+v", r)
	}
	e.settled()
	if s := e.app("CU-1").State; s != Cancelled {
		t.Errorf("state %s, want cancelled", s)
	}
	if n, c := e.plat.count("uploadbaohanfile"), e.plat.count("baohanfilecompletenotice"); n != 1 || c != 0 {
		t.Errorf("%d chunks and %d completion notices reached the platform; want only the chunk in flight", n, c)
	}
	if f := e.file1("CU-1"); f.Stage != StageStopped {
		t.Errorf("ciphertext file %+v, want stopped", f)
	}
}
