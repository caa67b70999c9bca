package issues

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/web"
)

// platformAPI calls the platform's admin API at its door.
func platformAPI(t *testing.T, s *harness.System, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.PlatDoor.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+harness.PlatformAdmin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// restoresDue lists the platform's baohanrestore calls for applyNo that
// are pending and due by at (admin API).
func restoresDue(t *testing.T, s *harness.System, applyNo string, at time.Time) []string {
	t.Helper()
	code, b := platformAPI(t, s, "GET", "/api/outbox?interface=baohanrestore&applyno="+applyNo, nil)
	var ms []struct {
		ID            int64
		State         string
		NextAttemptAt time.Time
	}
	if code != 200 || json.Unmarshal(b, &ms) != nil {
		t.Fatalf("outbox: HTTP %d %.300s", code, b)
	}
	var due []string
	for _, m := range ms {
		if m.State == "pending" && !m.NextAttemptAt.After(at) {
			due = append(due, m.NextAttemptAt.In(protocol.CST).Format(time.DateTime))
		}
	}
	return due
}

// noRestoreReaches checks, for a while, that no baohanrestore reaches the
// institution: it fails as soon as one does.
func noRestoreReaches(t *testing.T, s *harness.System, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for _, ex := range s.InstDoor.Exchanges() {
			if ex.Path == "/"+string(protocol.BaohanRestore) {
				t.Fatalf("a baohanrestore reached the institution at %s, before the section's opening: %.200s", s.Clock.Now().In(protocol.CST).Format(time.DateTime), ex.Request)
			}
		}
	}
}

// consoleTime is t as the console's datetime-local input sends it.
func consoleTime(t time.Time) string { return t.In(protocol.CST).Format("2006-01-02T15:04") }

// TestPostponeCannotBringTheOpeningForward: "postpone" took any future
// time, an earlier one too, from an operator in the console and from the
// admin API, with no reason asked and nothing to tell it from a
// postponement. An opening moved earlier releases the project keys
// (baohanrestore) earlier than the bidders and the institutions were
// told. Postpone must move the opening later only; bringing it forward is
// a separate action for an administrator, with a reason, audited
// (TestAdvancingTheOpeningIsAnAdminAction).
func TestPostponeCannotBringTheOpeningForward(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	pc := platformConsole(t, s)
	sec := s.Section(3 * time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second) // ciphertext guarantee held, its restore due at the opening
	earlier := sec.KaibiaoTime.Add(-2 * time.Hour)

	code, b := platformAPI(t, s, "POST", "/api/sections/"+sec.No+"/postpone",
		map[string]string{"kaibiaotime": protocol.FormatTime(earlier), "reason": "开标时间调整"})
	if code != http.StatusBadRequest || !strings.Contains(string(b), "later only") {
		t.Errorf("admin API: postpone to an earlier time answered HTTP %d %s", code, b)
	}
	op := staffLogin(t, pc.Auth(), s.PlatDoor.URL, "caozuoyuan", web.Operator)
	code, flash := op.act("/console/sections/"+sec.No+"/postpone", url.Values{"kaibiaotime": {consoleTime(earlier)}, "reason": {"开标时间调整"}})
	if code != http.StatusSeeOther || !strings.Contains(flash, "later only") {
		t.Errorf("console: an operator's postpone to an earlier time: HTTP %d, %q", code, flash)
	}

	got, err := s.Plat.Section(t.Context(), sec.No)
	if err != nil {
		t.Fatal(err)
	}
	if !got.KaibiaoTime.Equal(sec.KaibiaoTime) {
		t.Fatalf("the bid opening of %s moved from %s to %s by postponing", sec.No,
			protocol.FormatTime(sec.KaibiaoTime), protocol.FormatTime(got.KaibiaoTime))
	}
	if due := restoresDue(t, s, applyNo, sec.KaibiaoTime.Add(-time.Second)); len(due) != 0 {
		t.Fatalf("baohanrestore of %s due at %v, before the opening %s", applyNo, due, protocol.FormatTime(sec.KaibiaoTime))
	}
	// The earlier time comes and goes: the key stays.
	s.Clock.Advance(time.Hour + time.Minute)
	noRestoreReaches(t, s, time.Second)
	if got, _ := s.Plat.Section(t.Context(), sec.No); !got.KeyReleasedAt.IsZero() {
		t.Fatalf("the project key was released at %s", protocol.FormatTime(got.KeyReleasedAt))
	}
	if st := s.PlatApp(applyNo).State; st != platform.CipherReceived {
		t.Fatalf("application %s is %s", applyNo, st)
	}
}

// TestAdvancingTheOpeningIsAnAdminAction: bringing an opening forward is
// the administrator's (console role admin, or the admin API), needs a
// reason, is in the console's audit log and the section's history, and
// the key then goes out at the new opening, not before.
func TestAdvancingTheOpeningIsAnAdminAction(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	pc := platformConsole(t, s)
	sec := s.Section(3 * time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	earlier := sec.KaibiaoTime.Add(-2 * time.Hour).Truncate(time.Minute)
	const reason = "招标人书面申请提前开标，经中心负责人批准"

	op := staffLogin(t, pc.Auth(), s.PlatDoor.URL, "caozuoyuan", web.Operator)
	if code, body := op.act("/console/sections/"+sec.No+"/advance", url.Values{"kaibiaotime": {consoleTime(earlier)}, "reason": {reason}}); code != http.StatusForbidden {
		t.Errorf("an operator brought the opening forward: HTTP %d %.200s", code, body)
	}
	admin := staffLogin(t, pc.Auth(), s.PlatDoor.URL, "guanliyuan", web.Admin)
	if _, flash := admin.act("/console/sections/"+sec.No+"/advance", url.Values{"kaibiaotime": {consoleTime(earlier)}, "reason": {"  "}}); !strings.Contains(flash, "needs a reason") {
		t.Errorf("advance without a reason: %q", flash)
	}
	if code, b := platformAPI(t, s, "POST", "/api/sections/"+sec.No+"/advance", map[string]string{"kaibiaotime": protocol.FormatTime(earlier)}); code != http.StatusBadRequest ||
		!strings.Contains(string(b), "needs a reason") {
		t.Errorf("admin API: advance without a reason: HTTP %d %s", code, b)
	}
	if got, _ := s.Plat.Section(t.Context(), sec.No); !got.KaibiaoTime.Equal(sec.KaibiaoTime) {
		t.Fatalf("refused advances moved the opening to %s", protocol.FormatTime(got.KaibiaoTime))
	}

	if _, flash := admin.act("/console/sections/"+sec.No+"/advance", url.Values{"kaibiaotime": {consoleTime(earlier)}, "reason": {reason}}); !strings.Contains(flash, "提前至") {
		t.Fatalf("the admin's advance: %q", flash)
	}
	if got, _ := s.Plat.Section(t.Context(), sec.No); !got.KaibiaoTime.Equal(earlier) {
		t.Fatalf("the opening is %s, want %s", protocol.FormatTime(got.KaibiaoTime), protocol.FormatTime(earlier))
	}
	// Audited: the console's audit log (who, from, to, why) and the
	// section's own history (what the admin API also writes).
	_, page := admin.get("/console/audit?action=section.advance")
	for _, want := range []string{"guanliyuan", sec.No, reason, earlier.In(protocol.CST).Format("2006-01-02 15:04")} {
		if !strings.Contains(page, want) {
			t.Errorf("the audit log of section.advance does not show %q", want)
		}
	}
	if _, page := admin.get("/console/audit?action=forbidden&actor=caozuoyuan"); !strings.Contains(page, "/sections/"+sec.No+"/advance") {
		t.Error("the operator's refused advance is not in the audit log")
	}
	code, b := platformAPI(t, s, "GET", "/api/sections/"+sec.No+"/history", nil)
	var h []struct { // platform.SectionEvent
		Event        string
		Reason       string
		From, To     time.Time
		Applications int
	}
	if code != 200 || json.Unmarshal(b, &h) != nil || len(h) != 1 || h[0].Event != "kaibiao_advanced" || h[0].Reason != reason ||
		!h[0].From.Equal(sec.KaibiaoTime) || !h[0].To.Equal(earlier) || h[0].Applications != 1 {
		t.Fatalf("section history: HTTP %d %s", code, b)
	}

	// The key goes out at the new opening, not before.
	if due := restoresDue(t, s, applyNo, earlier.Add(-time.Second)); len(due) != 0 {
		t.Fatalf("baohanrestore due at %v, before the new opening", due)
	}
	s.Clock.Advance(earlier.Sub(s.Clock.Now()) - time.Minute)
	noRestoreReaches(t, s, 500*time.Millisecond)
	s.Clock.Advance(2 * time.Minute)
	s.WaitPlat(applyNo, platform.Restored, 30*time.Second)
	for _, ex := range s.InstDoor.Exchanges() {
		var f map[string]string
		if ex.Path == "/"+string(protocol.BaohanRestore) && json.Unmarshal(ex.Request, &f) == nil && f["kaibiaotime"] != protocol.FormatTime(earlier) {
			t.Errorf("baohanrestore with kaibiaotime %s, want %s", f["kaibiaotime"], protocol.FormatTime(earlier))
		}
	}
}
