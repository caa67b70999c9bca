package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/store"
)

func TestHashGate(t *testing.T) {
	g := newHashGate(1, 1, 50*time.Millisecond)
	hold, held := make(chan struct{}), make(chan struct{})
	go g.do(context.Background(), func() bool { close(held); <-hold; return false })
	<-held
	// One may wait, and gets ErrBusy after the wait.
	waited := make(chan error)
	go func() { waited <- g.do(context.Background(), func() bool { return false }) }()
	deadline := time.Now().Add(5 * time.Second)
	for g.waiting.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// A second waiter is one too many: refused at once.
	if err := g.do(context.Background(), func() bool { t.Error("ran without a slot"); return false }); !errors.Is(err, ErrBusy) {
		t.Errorf("second waiter: %v", err)
	}
	if err := <-waited; !errors.Is(err, ErrBusy) {
		t.Errorf("waiter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.do(ctx, func() bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	close(hold)

	// Under load, never more than the slots at once.
	g = newHashGate(2, 1000, 10*time.Second)
	var running, most atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.do(context.Background(), func() bool {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				return false
			})
		}()
	}
	wg.Wait()
	if most.Load() != 2 {
		t.Errorf("%d hashes at once, want 2", most.Load())
	}
}

// lockState reads an account's lockout columns.
func lockState(t *testing.T, db *store.DB, username string) (failed, lockouts int, until time.Time) {
	t.Helper()
	var u int64
	if err := db.QueryRowContext(context.Background(), db.Rebind(`SELECT failed_logins, lockouts, locked_until FROM web_users WHERE username = ?`), username).
		Scan(&failed, &lockouts, &u); err != nil {
		t.Fatal(err)
	}
	return failed, lockouts, time.UnixMicro(u).UTC()
}

// TestLoginLockoutConcurrent: wrong passwords sent at once are counted
// one by one; the lockout-th locks the account and no further one is
// counted, nor let in by the right password.
func TestLoginLockoutConcurrent(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		a, err := NewAuth(ctx, db, "platform", WithClock(c.now), WithLockout(4), WithLoginThrottle(1000, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.CreateUser(ctx, "zhang", "", Operator, "0123456789"); err != nil {
			t.Fatal(err)
		}
		const n = 40
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := a.Login(ctx, "zhang", "wrong-password", fmt.Sprintf("198.51.100.%d", i))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		count := map[error]int{}
		for err := range errs {
			switch {
			case errors.Is(err, ErrBadLogin), errors.Is(err, ErrLocked), errors.Is(err, ErrBusy):
				count[err]++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if count[ErrBadLogin] != 4 || count[ErrBadLogin]+count[ErrLocked]+count[ErrBusy] != n {
			t.Fatalf("%d wrong-password answers, %d locked, %d busy; want exactly 4 wrong-password answers", count[ErrBadLogin], count[ErrLocked], count[ErrBusy])
		}
		failed, lockouts, until := lockState(t, db, "zhang")
		if failed != 0 || lockouts != 1 || !until.Equal(c.now().Add(5*time.Minute)) {
			t.Fatalf("after the lock: failed %d, lockouts %d, until %v", failed, lockouts, until)
		}
		if _, _, err := a.Login(ctx, "zhang", "0123456789", "203.0.113.1"); !errors.Is(err, ErrLocked) {
			t.Fatalf("right password while locked: %v", err)
		}
	})
}

// TestLoginLockoutPolicy: locks double up to an hour and are forgotten a
// day after; a browser that logged in before (device cookie) is not
// locked out by others, its own failures revoke its cookie; a success
// from an unknown browser clears the count.
func TestLoginLockoutPolicy(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		a, err := NewAuth(ctx, db, "platform", WithClock(c.now), WithLockout(3), WithLoginThrottle(1000, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.CreateUser(ctx, "admin", "", Admin, "0123456789"); err != nil {
			t.Fatal(err)
		}
		s, _, err := a.Login(ctx, "admin", "0123456789", "10.0.0.1")
		if err != nil || s.Device == "" {
			t.Fatalf("login: %v, device cookie %q", err, s.Device)
		}
		device := s.Device
		fail := func(k int, device string) {
			t.Helper()
			for range k {
				if _, _, err := a.LoginDevice(ctx, "admin", "guess-guess", "203.0.113.9", device); !errors.Is(err, ErrBadLogin) {
					t.Fatalf("wrong password: %v", err)
				}
			}
		}
		// Two wrong, then right: the count starts again.
		fail(2, "")
		if _, _, err := a.Login(ctx, "admin", "0123456789", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if failed, _, _ := lockState(t, db, "admin"); failed != 0 {
			t.Fatalf("after a success: %d failures counted", failed)
		}
		// An attacker locks the account again and again: 5, 10, 20, 40, 60, 60 minutes.
		for i, want := range []time.Duration{5, 10, 20, 40, 60, 60} {
			fail(3, "")
			_, lockouts, until := lockState(t, db, "admin")
			if lockouts != i+1 || until.Sub(c.now()) != want*time.Minute {
				t.Fatalf("lock %d: lockouts %d, for %v, want %v", i+1, lockouts, until.Sub(c.now()), want*time.Minute)
			}
			// Meanwhile the admin's browser gets in, and unknown ones do not.
			if _, _, err := a.LoginDevice(ctx, "admin", "0123456789", "203.0.113.9", ""); !errors.Is(err, ErrLocked) {
				t.Fatalf("unknown browser while locked: %v", err)
			}
			s, _, err := a.LoginDevice(ctx, "admin", "0123456789", "10.0.0.1", device)
			if err != nil {
				t.Fatalf("the admin's browser while locked (lock %d): %v", i+1, err)
			}
			if s.Device == device || s.Device == "" {
				t.Fatal("the device cookie is not renewed")
			}
			device = s.Device
			c.advance(want*time.Minute + time.Second)
		}
		// A day after the last lock ended, locks start at 5 minutes again.
		c.advance(24 * time.Hour)
		fail(3, "")
		if _, lockouts, until := lockState(t, db, "admin"); lockouts != 1 || until.Sub(c.now()) != 5*time.Minute {
			t.Fatalf("a day later: lockouts %d, for %v", lockouts, until.Sub(c.now()))
		}
		// The known browser's own wrong passwords count on its cookie: the
		// 3rd revokes it, and it is then an unknown browser, locked out.
		fail(3, device)
		if _, _, err := a.LoginDevice(ctx, "admin", "0123456789", "10.0.0.1", device); !errors.Is(err, ErrLocked) {
			t.Fatalf("revoked device cookie: %v", err)
		}
		// Another account's cookie does not help.
		if _, err := a.CreateUser(ctx, "li", "", Viewer, "li-password-1"); err != nil {
			t.Fatal(err)
		}
		ls, _, err := a.Login(ctx, "li", "li-password-1", "10.0.0.2")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.LoginDevice(ctx, "admin", "0123456789", "10.0.0.2", ls.Device); !errors.Is(err, ErrLocked) {
			t.Fatalf("li's device cookie for admin: %v", err)
		}
		// A new password clears the lock and revokes the cookies.
		if err := a.SetPassword(ctx, "admin", "new-password-1"); err != nil {
			t.Fatal(err)
		}
		if failed, lockouts, until := lockState(t, db, "admin"); failed != 0 || lockouts != 0 || until.Unix() != 0 {
			t.Fatalf("after a new password: %d %d %v", failed, lockouts, until)
		}
		var n int
		db.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM web_devices d JOIN web_users u ON u.id = d.user_id WHERE u.username = ?`), "admin").Scan(&n)
		if n != 0 {
			t.Errorf("%d device cookies survive a new password", n)
		}
		// Every refusal is in the audit log, with why.
		log, _ := a.AuditLog(ctx, AuditFilter{Actor: "admin", Action: "login", Limit: 1000})
		var locked, wrong, lockedNow int
		for _, e := range log {
			switch {
			case strings.HasPrefix(e.Detail, "locked until"):
				locked++
			case strings.Contains(e.Detail, ": locked until"):
				lockedNow++
			case strings.HasPrefix(e.Detail, "wrong password"):
				wrong++
			}
		}
		if lockedNow != 7 || locked != 8 || wrong != 19 {
			t.Errorf("audit: %d locks, %d refused while locked, %d wrong passwords", lockedNow, locked, wrong)
		}
	})
}

// TestLoginUsernameRefusedEarly: a username that no account can have
// (too long, odd characters) is refused before it reaches the database:
// the audit log keeps a short quoted prefix and its length, nothing more.
func TestLoginUsernameRefusedEarly(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	a, err := NewAuth(ctx, db, "platform", WithLoginThrottle(1000, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{strings.Repeat("A", 9<<20), "admin' OR '1'='1", "a\x00b", strings.Repeat("a", 65), "x"} {
		start := time.Now()
		if _, _, err := a.Login(ctx, name, "whatever-password", "10.0.0.1"); !errors.Is(err, ErrBadLogin) {
			t.Errorf("%.20q: %v", name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%.20q took %v", name, d)
		}
	}
	log, _ := a.AuditLog(ctx, AuditFilter{})
	if len(log) != 5 {
		t.Fatalf("%d audit rows, want 5", len(log))
	}
	for _, e := range log {
		if len(e.Actor) > 80 || !strings.HasPrefix(e.Actor, "(invalid: ") || e.Detail != "invalid username" {
			t.Errorf("audit row: actor %q (%d bytes), detail %q", truncate(e.Actor, 100), len(e.Actor), e.Detail)
		}
	}
	if !strings.Contains(log[4].Actor, "9437184 bytes") {
		t.Errorf("the 9 MiB name's row: %q", log[4].Actor)
	}
}

// TestConsoleLoginAnswers: what a browser gets when the login is refused
// before any password is checked.
func TestConsoleLoginAnswers(t *testing.T) {
	srv, a, _ := testConsole(t)
	a.throttle = newLoginThrottle(3, time.Minute)
	b := newBrowser(t, srv.URL)

	// A body over 16 KiB is refused before it is read whole.
	big := strings.Repeat("A", 9<<20)
	if code, page, _ := b.do("POST", "/console/login", url.Values{"username": {big}, "password": {"x"}}); code != http.StatusRequestEntityTooLarge || strings.Contains(page, "AAAAAAAAAA") {
		t.Errorf("9 MiB form: %d", code)
	}
	// A username no account can have is not echoed back.
	if code, page, _ := b.do("POST", "/console/login", url.Values{"username": {"<b>" + strings.Repeat("x", 100)}, "password": {"x"}}); code != 401 || strings.Contains(page, "xxxxxxxxxx") {
		t.Errorf("invalid username: %d", code)
	}
	// All slots taken: 503 and Retry-After.
	g := newHashGate(1, 0, time.Millisecond)
	a.gate = g
	hold, held := make(chan struct{}), make(chan struct{})
	go g.do(context.Background(), func() bool { close(held); <-hold; return false })
	<-held
	code, page, h := b.do("POST", "/console/login", url.Values{"username": {"viewer"}, "password": {"viewer-password"}})
	close(hold)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") != "1" || !strings.Contains(page, "服务器正忙") {
		t.Errorf("busy: %d %q", code, h.Get("Retry-After"))
	}
	// The holder frees its slot as it returns: wait for it, or the next
	// login finds it taken (the gate lets none wait).
	for deadline := time.Now().Add(10 * time.Second); len(g.slots) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hashing slot is not freed")
		}
	}
	// The 4th attempt from one address within the minute (the busy one
	// does not count, nor does the body refused unread): 429.
	for range 2 {
		if code, _, _ := b.do("POST", "/console/login", url.Values{"username": {"viewer"}, "password": {"nope-nope-nope"}}); code != 401 {
			t.Fatalf("wrong password: %d", code)
		}
	}
	code, page, h = b.do("POST", "/console/login", url.Values{"username": {"viewer"}, "password": {"nope-nope-nope"}})
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(page, "登录尝试过于频繁") {
		t.Errorf("throttled: %d %q", code, h.Get("Retry-After"))
	}
	log, _ := a.AuditLog(context.Background(), AuditFilter{Action: "login"})
	if len(log) == 0 || !strings.HasPrefix(log[0].Detail, "throttled") {
		t.Errorf("the throttling is not audited: %+v", log)
	}
}

// TestLockedAnswersLikeUnknown: a browser cannot tell a locked account
// from one that does not exist, nor from a wrong password: the console's
// answer is the same page with the same status, and each of them hashes
// the password (with every hashing slot taken, each of them waits for
// one and is answered "busy"), so that the time an answer takes tells
// nothing either. The audit log keeps which it was.
func TestLockedAnswersLikeUnknown(t *testing.T) {
	srv, a, _ := testConsole(t)
	a.throttle = newLoginThrottle(1000, time.Millisecond)
	b := newBrowser(t, srv.URL)
	login := func(user, pass string) (int, string) {
		t.Helper()
		code, page, _ := b.do("POST", "/console/login", url.Values{"username": {user}, "password": {pass}})
		// The page echoes the username back into the form; nothing else
		// may differ.
		return code, strings.ReplaceAll(page, `value="`+user+`"`, `value="NAME"`)
	}
	for range DefaultLockout {
		login("operator", "wrong-password")
	}
	if _, _, err := a.Login(context.Background(), "operator", "operator-password", "203.0.113.1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("operator is not locked: %v", err)
	}
	type answer struct {
		code int
		page string
	}
	answers := map[string]answer{}
	for _, tc := range []struct{ name, user, pass string }{
		{"unknown account", "ghost", "any-password-1"},
		{"locked account, wrong password", "operator", "wrong-password"},
		{"locked account, right password", "operator", "operator-password"},
		{"wrong password", "viewer", "wrong-password"},
	} {
		code, page := login(tc.user, tc.pass)
		if code != http.StatusUnauthorized || !strings.Contains(page, html.EscapeString(errLoginFailed.Error())) {
			t.Errorf("%s: HTTP %d, want 401 with %q", tc.name, code, errLoginFailed)
		}
		answers[tc.name] = answer{code, page}
	}
	for name, got := range answers {
		if want := answers["unknown account"]; got != want {
			t.Errorf("%s is answered otherwise than an unknown account", name)
		}
	}

	// The same work: each waits for a hashing slot.
	g := newHashGate(1, 1, 50*time.Millisecond)
	a.gate = g
	hold, held := make(chan struct{}), make(chan struct{})
	go g.do(context.Background(), func() bool { close(held); <-hold; return false })
	<-held
	for _, user := range []string{"ghost", "operator", "viewer"} {
		if code, page := login(user, "wrong-password"); code != http.StatusServiceUnavailable || !strings.Contains(page, "服务器正忙") {
			t.Errorf("%s with no hashing slot free: HTTP %d, want 503 (busy): it does not hash", user, code)
		}
	}
	close(hold)

	log, _ := a.AuditLog(context.Background(), AuditFilter{Action: "login", Limit: 100})
	details := map[string]string{}
	for _, e := range log {
		if _, ok := details[e.Actor]; !ok {
			details[e.Actor] = e.Detail // the newest
		}
	}
	if details["ghost"] != "unknown user" || !strings.HasPrefix(details["viewer"], "wrong password") {
		t.Errorf("audit: ghost %q, viewer %q", details["ghost"], details["viewer"])
	}
	var lockedRows int
	for _, e := range log {
		if e.Actor == "operator" && strings.HasPrefix(e.Detail, "locked until") {
			lockedRows++
		}
	}
	if lockedRows != 3 { // two by the console, one by a.Login
		t.Errorf("the audit log has %d refusals of the locked account, want 3", lockedRows)
	}
}
