package issues

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/web"
)

// TestInstitutionQuitWaitsForThePlatform: a withdrawal (退保) started at
// the institution moved the application to the final state quit at
// once and only then told the platform by quitnotice. After the bid
// opening (the institution learns the opening only from baohanrestore,
// which may not have come yet) the platform refuses that quitnotice, and
// the two sides disagreed for good: the institution quit, the platform
// still holding the guarantee and sending baohanrestore, which the
// institution then refused. The institution must wait in quit_pending
// (shown by the console and the admin API) until the platform answers,
// and go back, visibly, when it refuses: the state it came from, the
// platform's message on the quit record and in the history.
func TestInstitutionQuitWaitsForThePlatform(t *testing.T) {
	const quitPending, quitPendingLabel = institution.State("quit_pending"), "退保待平台确认"
	s := harness.Start(t, harness.Quiet())
	ic := institutionConsole(t, s)
	ops := staffLogin(t, ic.Auth(), s.InstDoor.URL, "caozuoyuan", web.Operator)
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 15*time.Second)
	id := s.InstApp(applyNo).ID

	// The opening passes; its baohanrestore does not reach the
	// institution yet.
	s.InstDoor.Always("baohanrestore", harness.Unreachable)
	s.Clock.Advance(time.Hour + time.Minute)
	// The quitnotice waits at the platform's door while the console is
	// looked at.
	s.PlatDoor.Inject("quitnotice", harness.Hold)

	_, flash := ops.act("/console/applications/"+id+"/quit", url.Values{"reason": {"投标人申请退保"}})
	if !strings.Contains(flash, string(quitPending)) {
		t.Errorf("console flash after the quit: %q, want it to say the quit waits for the platform", flash)
	}
	if st := s.InstApp(applyNo).State; st != quitPending {
		t.Fatalf("the institution is %s while the platform has not answered its quitnotice, want %s", st, quitPending)
	}
	if _, page := ops.get("/console/applications?state=" + string(quitPending)); !strings.Contains(page, applyNo) ||
		!strings.Contains(page, quitPendingLabel) {
		t.Errorf("the console's list of %s applications does not show %s as %s", quitPending, applyNo, quitPendingLabel)
	}
	list, err := s.Inst.Applications(context.Background(), institution.ListFilter{State: quitPending})
	if err != nil || len(list) != 1 || list[0].ApplyNo != applyNo {
		t.Errorf("applications in %s: %+v %v", quitPending, list, err)
	}

	s.PlatDoor.Release()
	const refusal = "is not before the bid opening"
	s.Eventually("the institution going back after the platform's refusal", 10*time.Second, func() bool {
		return s.InstApp(applyNo).State == institution.Issued
	})
	d, err := s.Inst.Detail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var back *institution.Event
	for i := range d.History {
		if e := &d.History[i]; e.From == quitPending && e.To == institution.Issued {
			back = e
		}
	}
	if back == nil || !strings.Contains(back.Detail, refusal) {
		t.Errorf("history: no move %s → %s carrying the platform's refusal (%q): %+v", quitPending, institution.Issued, refusal, d.History)
	}
	if len(d.Quits) != 1 || d.Quits[0].Status != institution.QuitRefused || !strings.Contains(d.Quits[0].Message, refusal) {
		t.Errorf("quit records: %+v, want one refused with the platform's message", d.Quits)
	}
	if _, page := ops.get("/console/applications/" + id); !strings.Contains(page, refusal) {
		t.Errorf("the console's application page does not show the platform's refusal %q", refusal)
	}
	if pa := s.PlatApp(applyNo); pa.State != platform.CipherReceived {
		t.Errorf("the platform is %s after refusing the quitnotice", pa.State)
	}

	// The restore comes through: both sides go on together.
	s.InstDoor.Always("baohanrestore", harness.Pass)
	s.WaitPlat(applyNo, platform.PlainReceived, 15*time.Second)
	s.WaitInst(applyNo, institution.Restored, 15*time.Second)
	if msg := s.Compare(applyNo); msg != "" {
		t.Error(msg)
	}
	for _, ex := range s.InstDoor.Exchanges() {
		if ex.Path == "/"+string(protocol.BaohanRestore) && ex.Fault == harness.Pass {
			if r, ok := harness.Answer(ex.Response); ok && r.Code != 1 {
				t.Errorf("the institution refused baohanrestore: %q", r.Message)
			}
		}
	}
}
