package platform

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// TestPostponeLaterOnly: Postpone refuses an earlier opening, naming the
// field and the action that brings an opening forward; nothing moves and
// nothing is released at the earlier time. A later time is a postponement,
// kept in the section's history.
func TestPostponeLaterOnly(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(3 * time.Hour)
		a, _ := e.withCipher(sec)
		earlier := sec.KaibiaoTime.Add(-2 * time.Hour)

		_, err := e.svc.Postpone(e.ctx, sec.No, earlier, "开标时间调整")
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != "kaibiaotime" || !strings.Contains(err.Error(), "later only") ||
			!strings.Contains(err.Error(), "/api/sections/"+sec.No+"/advance") {
			t.Fatalf("postpone to an earlier time: %v", err)
		}
		code, b := e.admin("POST", "/api/sections/"+sec.No+"/postpone", map[string]string{"kaibiaotime": protocol.FormatTime(earlier), "reason": "x"})
		if code != http.StatusBadRequest || !strings.Contains(string(b), "later only") || !strings.Contains(string(b), `"field": "kaibiaotime"`) {
			t.Fatalf("admin API postpone to an earlier time: %d %s", code, b)
		}
		if got, _ := e.svc.Section(e.ctx, sec.No); !got.KaibiaoTime.Equal(sec.KaibiaoTime) {
			t.Fatalf("the opening moved to %v", got.KaibiaoTime)
		}
		if h, _ := e.svc.SectionHistory(e.ctx, sec.No); len(h) != 0 {
			t.Fatalf("section history %+v", h)
		}
		for _, ev := range e.events(a.ApplyNo) {
			if ev == EvPostponed || ev == EvAdvanced {
				t.Fatalf("application history %v", e.events(a.ApplyNo))
			}
		}
		e.clock.Set(earlier.Add(time.Minute))
		e.settle()
		if n := len(e.inst.received(protocol.BaohanRestore, "")); n != 0 {
			t.Fatalf("%d restores at the earlier time", n)
		}
		if e.keyLeaked(e.projectKeyB64(a.ApplyNo)) {
			t.Fatal("the project key left before the opening")
		}
		e.wantState(a.ApplyNo, CipherReceived)

		later := sec.KaibiaoTime.Add(time.Hour)
		if _, err := e.svc.Postpone(e.ctx, sec.No, later, " 答疑延期 "); err != nil {
			t.Fatal(err)
		}
		h, err := e.svc.SectionHistory(e.ctx, sec.No)
		if err != nil || len(h) != 1 || h[0].Event != EvPostponed || !h[0].From.Equal(sec.KaibiaoTime) || !h[0].To.Equal(later) ||
			h[0].Reason != "答疑延期" || h[0].Actor != ActorAdmin || h[0].Applications != 1 {
			t.Fatalf("section history %+v, %v", h, err)
		}
		if _, err := e.svc.SectionHistory(e.ctx, "NO-SUCH"); !errors.Is(err, ErrNotFound) {
			t.Errorf("history of an unknown section: %v", err)
		}
	})
}

// TestAdvanceOpening: bringing an opening forward needs a reason, an
// earlier time in the future, an opening not come and no key out; it is
// recorded in the section's and the applications' histories, and the
// restore goes out at the new time (TestOpeningBroughtForward follows it
// further).
func TestAdvanceOpening(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(3 * time.Hour)
		a, _ := e.withCipher(sec)
		earlier := sec.KaibiaoTime.Add(-2 * time.Hour)
		for _, c := range []struct {
			name   string
			to     time.Time
			reason string
			field  string
			msg    string
		}{
			{"no reason", earlier, "", "reason", "needs a reason"},
			{"blank reason", earlier, " \t ", "reason", "needs a reason"},
			{"later", sec.KaibiaoTime.Add(time.Hour), "x", "kaibiaotime", "postpone it instead"},
			{"same", sec.KaibiaoTime, "x", "kaibiaotime", "is already"},
			{"past", e.clock.Now().Add(-time.Minute), "x", "kaibiaotime", "not in the future"},
			{"zero", time.Time{}, "x", "kaibiaotime", "required"},
		} {
			_, err := e.svc.AdvanceOpening(e.ctx, sec.No, c.to, c.reason)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		if code, b := e.admin("POST", "/api/sections/"+sec.No+"/advance", map[string]string{"kaibiaotime": protocol.FormatTime(earlier)}); code != http.StatusBadRequest ||
			!strings.Contains(string(b), `"field": "reason"`) {
			t.Errorf("admin API without a reason: %d %s", code, b)
		}
		if h, _ := e.svc.SectionHistory(e.ctx, sec.No); len(h) != 0 {
			t.Fatalf("refusals recorded: %+v", h)
		}

		code, b := e.admin("POST", "/api/sections/"+sec.No+"/advance", map[string]string{"kaibiaotime": protocol.FormatTime(earlier), "reason": "招标人申请，经审批"})
		var got Section
		if code != 200 || json.Unmarshal(b, &got) != nil || !got.KaibiaoTime.Equal(earlier) {
			t.Fatalf("advance: %d %s", code, b)
		}
		code, b = e.admin("GET", "/api/sections/"+sec.No+"/history", nil)
		var h []SectionEvent
		if code != 200 || json.Unmarshal(b, &h) != nil || len(h) != 1 || h[0].Event != EvAdvanced || h[0].Reason != "招标人申请，经审批" ||
			!h[0].From.Equal(sec.KaibiaoTime) || !h[0].To.Equal(earlier) || h[0].Applications != 1 || h[0].Actor != ActorAdmin {
			t.Fatalf("section history: %d %s", code, b)
		}
		ah, _ := e.svc.History(e.ctx, a.ApplyNo)
		last := ah[len(ah)-1]
		if last.Event != EvAdvanced || !strings.Contains(string(last.Detail), "招标人申请，经审批") {
			t.Fatalf("application history ends with %+v", last)
		}

		e.clock.Set(earlier)
		e.eventually("the restore at the new opening", func() bool { return e.app(a.ApplyNo).State == Restored })
		if _, err := e.svc.AdvanceOpening(e.ctx, sec.No, e.clock.Now().Add(time.Minute), "x"); err == nil || !strings.Contains(err.Error(), "the project key was released") {
			t.Errorf("advance after the release: %v", err)
		}

		// An opening that has come, no key out (nothing to restore): no
		// move either way.
		sec2 := e.section(time.Hour)
		e.clock.Set(sec2.KaibiaoTime.Add(time.Minute))
		for _, err := range []error{
			func() error {
				_, err := e.svc.AdvanceOpening(e.ctx, sec2.No, e.clock.Now().Add(time.Minute), "x")
				return err
			}(),
			func() error { _, err := e.svc.Postpone(e.ctx, sec2.No, e.clock.Now().Add(time.Hour), "x"); return err }(),
		} {
			if err == nil || !strings.Contains(err.Error(), "opened at") {
				t.Errorf("moving an opening that has come: %v", err)
			}
		}
	})
}
