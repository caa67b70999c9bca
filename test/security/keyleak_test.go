package security

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
)

// TestProjectKeyStaysUntilOpening: the project key must not leave the
// platform before kaibiaotime, in any encoding, in any request the
// platform sends or any answer it gives, whatever an administrator does:
// an early RestoreNow, a postponed opening whose first restore falls due,
// the admin API read by a console. After the (new) opening the key goes
// out in baohanrestore, and only then.
func TestProjectKeyStaysUntilOpening(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	ctx := context.Background()
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	_, key := flowSecrets(t, s, sec.No, applyNo)
	secrets := []secret{rawSecret("project key", key)}

	// An early restore, by the Go API and the admin API.
	if _, err := s.Plat.RestoreNow(ctx, applyNo); err == nil {
		t.Log("RestoreNow before the opening was accepted (the key must still stay)")
	}
	req, _ := http.NewRequest("POST", s.PlatDoor.URL+"/api/sections/"+sec.No+"/restore", nil)
	req.Header.Set("Authorization", "Bearer "+harness.PlatformAdmin)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	for _, p := range []string{"/api/sections/" + sec.No, "/api/applications/" + applyNo, "/api/sections", "/api/outbox", "/api/messages"} {
		req, _ := http.NewRequest("GET", s.PlatDoor.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+harness.PlatformAdmin)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	// The opening is postponed by an hour; the restore scheduled for the
	// first opening falls due and must stand down.
	if _, err := s.Plat.Postpone(ctx, sec.No, sec.KaibiaoTime.Add(time.Hour), "澄清答疑，开标顺延"); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Hour + 2*time.Second)
	time.Sleep(500 * time.Millisecond) // many dispatcher polls
	if st := s.PlatApp(applyNo).State; st != platform.CipherReceived {
		t.Fatalf("after the first opening passed (postponed): %s", st)
	}
	leaks := func() []finding {
		var out []finding
		for _, ex := range s.InstDoor.Exchanges() { // what the platform sent the institution
			out = append(out, scan("request "+ex.Path+" at "+ex.At.Format(time.RFC3339Nano), ex.Request, secrets)...)
		}
		for _, ex := range s.PlatDoor.Exchanges() { // what the platform answered anyone
			out = append(out, scan("answer to "+ex.Path+" at "+ex.At.Format(time.RFC3339Nano), ex.Response, secrets)...)
		}
		return out
	}
	for _, f := range leaks() {
		t.Errorf("before the opening: %s", f)
	}

	s.Clock.Advance(time.Hour)
	opening := time.Now() // wall time of the new opening, give or take the dispatcher
	s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
	s.WaitInst(applyNo, institution.Restored, 30*time.Second)
	after := leaks()
	if len(after) == 0 {
		t.Fatal("control: the key never went out, even after the opening; the scan is blind")
	}
	for _, ex := range s.InstDoor.Exchanges() {
		if len(scan("", ex.Request, secrets)) > 0 && ex.At.Before(opening) {
			t.Errorf("the key went out at %s, before the opening at %s", ex.At, opening)
		}
	}
}

// TestRestoreNotRedirected: an institution endpoint that answers with a
// redirect (a compromised web server, a misconfigured balancer) does not
// get the platform to post baohanrestore, project key and all, to
// another host; the restore goes through once the endpoint answers.
func TestRestoreNotRedirected(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	var collected atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { collected.Add(1) }))
	defer collector.Close()
	inst := s.Inst.Handler()
	s.InstDoor.Set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/baohanrestore") {
			http.Redirect(w, r, collector.URL+"/steal", http.StatusTemporaryRedirect)
			return
		}
		inst.ServeHTTP(w, r)
	}))
	s.Clock.Advance(time.Hour + time.Second)
	s.Eventually("restore attempts", 10*time.Second, func() bool { return s.InstDoor.Hits("baohanrestore") >= 2 })
	if n := collected.Load(); n != 0 {
		t.Fatalf("the redirect target received %d requests", n)
	}
	s.InstDoor.Set(inst)
	s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
}
