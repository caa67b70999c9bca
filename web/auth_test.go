package web

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/store"
)

func newAuth(t *testing.T, db *store.DB, realm string, c *clock, opts ...AuthOption) *Auth {
	t.Helper()
	a, err := NewAuth(context.Background(), db, realm, append([]AuthOption{WithClock(c.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		r, min Role
		want   bool
	}{
		{Viewer, Viewer, true}, {Viewer, Operator, false}, {Viewer, Admin, false},
		{Operator, Viewer, true}, {Operator, Operator, true}, {Operator, Admin, false},
		{Admin, Viewer, true}, {Admin, Operator, true}, {Admin, Admin, true},
		{Bidder, Viewer, false}, {Bidder, Bidder, true}, {Admin, Bidder, false}, {"", Viewer, false}, {"root", Viewer, false},
	} {
		if got := tc.r.Allows(tc.min); got != tc.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tc.r, tc.min, got, tc.want)
		}
	}
	if _, err := ParseRole("Operator"); err != nil {
		t.Error(err)
	}
	if _, err := ParseRole("bidder"); err == nil {
		t.Error("bidder parsed as a staff role")
	}
}

func TestAuth(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		a := newAuth(t, db, "platform", c)
		other := newAuth(t, db, "institution", c) // same database, other console

		acc, err := a.EnsureAdmin(ctx, "", "")
		if err != nil || acc == nil || acc.Username != "admin" || len(acc.Password) < 20 {
			t.Fatalf("EnsureAdmin: %+v %v", acc, err)
		}
		if again, err := a.EnsureAdmin(ctx, "", ""); err != nil || again != nil {
			t.Fatalf("EnsureAdmin twice: %+v %v", again, err)
		}
		if _, err := a.CreateUser(ctx, "admin", "", Viewer, "0123456789"); !errors.Is(err, ErrUserExists) {
			t.Errorf("duplicate user: %v", err)
		}
		if _, err := a.CreateUser(ctx, "bad name", "", Viewer, "0123456789"); err == nil {
			t.Error("username with a space accepted")
		}
		if _, err := a.CreateUser(ctx, "zhang", "张三", Operator, "0123456789"); err != nil {
			t.Fatal(err)
		}

		// Realms are separate: the institution console knows no platform staff.
		if _, _, err := other.Login(ctx, "zhang", "0123456789", "ip"); !errors.Is(err, ErrBadLogin) {
			t.Errorf("login in the other realm: %v", err)
		}

		s, token, err := a.Login(ctx, "zhang", "0123456789", "10.0.0.1")
		if err != nil || s.Role != Operator || s.Name != "张三" || s.CSRF == "" {
			t.Fatalf("Login: %+v %v", s, err)
		}
		got, err := a.Lookup(ctx, token)
		if err != nil || got.Subject != "zhang" || got.CSRF != s.CSRF {
			t.Fatalf("Lookup: %+v %v", got, err)
		}
		if _, err := other.Lookup(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Errorf("a platform session works on the institution console: %v", err)
		}
		if _, err := a.Lookup(ctx, token+"x"); !errors.Is(err, ErrNoSession) {
			t.Errorf("wrong token: %v", err)
		}
		var stored string
		db.QueryRowContext(ctx, db.Rebind("SELECT token_hash FROM web_sessions LIMIT 1")).Scan(&stored)
		if stored == token {
			t.Error("the session table stores the token itself")
		}

		// Idle timeout: 2h without a request ends the session; activity extends it.
		c.advance(90 * time.Minute)
		if _, err := a.Lookup(ctx, token); err != nil {
			t.Fatalf("after 90 min: %v", err)
		}
		c.advance(90 * time.Minute)
		if _, err := a.Lookup(ctx, token); err != nil {
			t.Fatalf("90 min after the last request: %v", err)
		}
		c.advance(121 * time.Minute)
		if _, err := a.Lookup(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Fatalf("idle for 2h: %v", err)
		}

		// Wrong passwords lock the account after five tries.
		for i := 0; i < 5; i++ {
			if _, _, err := a.Login(ctx, "zhang", "wrong-password", "ip"); !errors.Is(err, ErrBadLogin) {
				t.Fatalf("try %d: %v", i, err)
			}
		}
		if _, _, err := a.Login(ctx, "zhang", "0123456789", "ip"); !errors.Is(err, ErrLocked) {
			t.Fatalf("after five failures: %v", err)
		}
		c.advance(6 * time.Minute)
		s, token, err = a.Login(ctx, "zhang", "0123456789", "ip")
		if err != nil {
			t.Fatalf("after the lockout: %v", err)
		}

		// Demotion and disabling end sessions at once.
		if err := a.UpdateUser(ctx, "zhang", Viewer, false); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Lookup(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Errorf("session survived a role change: %v", err)
		}
		if err := a.UpdateUser(ctx, "zhang", Viewer, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.Login(ctx, "zhang", "0123456789", "ip"); !errors.Is(err, ErrBadLogin) {
			t.Errorf("disabled user logged in: %v", err)
		}
		if err := a.UpdateUser(ctx, "admin", Operator, false); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("demoting the last admin: %v", err)
		}
		if err := a.UpdateUser(ctx, "admin", Admin, true); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("disabling the last admin: %v", err)
		}
		if err := a.UpdateUser(ctx, "nobody", Admin, false); !errors.Is(err, ErrNoUser) {
			t.Errorf("unknown user: %v", err)
		}

		// Password change ends sessions and the new one works.
		_, token, _ = a.Login(ctx, "admin", acc.Password, "ip")
		if err := a.SetPassword(ctx, "admin", "new-password-123"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Lookup(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Error("session survived a password change")
		}
		if _, _, err := a.Login(ctx, "admin", "new-password-123", "ip"); err != nil {
			t.Error(err)
		}

		// Demo accounts: one per role, reset on every call.
		accs, err := a.DemoAccounts(ctx)
		if err != nil || len(accs) != 3 {
			t.Fatalf("DemoAccounts: %v %v", accs, err)
		}
		for _, acc := range accs {
			if s, _, err := a.Login(ctx, acc.Username, acc.Password, "ip"); err != nil || s.Role != acc.Role {
				t.Errorf("demo account %s: %v", acc.Username, err)
			}
		}
		again, err := a.DemoAccounts(ctx)
		if err != nil || again[0].Password == accs[0].Password {
			t.Fatalf("DemoAccounts again: %v", err)
		}
		if _, _, err := a.Login(ctx, "admin", again[0].Password, "ip"); err != nil {
			t.Error(err)
		}

		// Audit: logins and failures are recorded, newest first, filterable.
		log, err := a.AuditLog(ctx, AuditFilter{Actor: "zhang", Action: "login"})
		if err != nil {
			t.Fatal(err)
		}
		var ok, failed int
		for _, e := range log {
			if e.OK {
				ok++
			} else {
				failed++
			}
		}
		if ok != 2 || failed < 6 {
			t.Errorf("audit of zhang's logins: %d ok, %d failed (%+v)", ok, failed, log)
		}
		if len(log) > 1 && log[0].ID < log[1].ID {
			t.Error("audit log is not newest first")
		}
		// The other console saw one failed login, and nothing of this one's.
		if other, _ := other.AuditLog(ctx, AuditFilter{}); len(other) != 1 || other[0].OK || other[0].Detail != "unknown user" {
			t.Errorf("the other realm's audit log: %+v", other)
		}
	})
}

// TestChallenges: a login challenge is stateless: issuing and checking
// one writes nothing; it serves the browser it was issued to, until it
// expires, once: UseChallenge records it, and a second use is refused, on
// this console or another process with the same key on the same database
// (a replica), while a console with another key refuses it; an altered
// challenge is refused; Sweep drops the records of expired challenges.
func TestChallenges(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		key := []byte("0123456789abcdef")
		a := newAuth(t, db, "platform", c, WithChallengeKey(key))
		replica := newAuth(t, db, "platform", c, WithChallengeKey(key))
		stranger := newAuth(t, db, "platform", c) // a key of its own
		used := func() int {
			t.Helper()
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM web_used_challenges`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		ch := a.NewChallenge("browser-1")
		for range 100 {
			a.NewChallenge("browser-1")
		}
		if n := used(); n != 0 {
			t.Fatalf("%d rows after issuing challenges, want 0", n)
		}
		refused := []struct {
			name, challenge, binding string
			a                        *Auth
		}{
			{"another browser", ch, "browser-2", a},
			{"a console with another key", ch, "browser-1", stranger},
			{"altered", ch[:20] + map[bool]string{true: "B", false: "A"}[ch[20] == 'A'] + ch[21:], "browser-1", a},
			{"guessed", "guess", "browser-1", a},
		}
		for _, r := range refused {
			if err := r.a.CheckChallenge(r.challenge, r.binding); !errors.Is(err, ErrBadChallenge) {
				t.Errorf("check, %s: %v", r.name, err)
			}
			if err := r.a.UseChallenge(ctx, r.challenge, r.binding); !errors.Is(err, ErrBadChallenge) {
				t.Errorf("use, %s: %v", r.name, err)
			}
		}
		if n := used(); n != 0 {
			t.Fatalf("%d rows after refused uses, want 0", n)
		}
		// A check does not use it up; a use does, once.
		if err := a.CheckChallenge(ch, "browser-1"); err != nil {
			t.Fatal(err)
		}
		if err := a.CheckChallenge(ch, "browser-1"); err != nil {
			t.Fatalf("checked twice: %v", err)
		}
		if err := replica.UseChallenge(ctx, ch, "browser-1"); err != nil {
			t.Fatalf("used at a replica: %v", err)
		}
		for _, x := range []*Auth{a, replica} {
			if err := x.UseChallenge(ctx, ch, "browser-1"); !errors.Is(err, ErrBadChallenge) || !strings.Contains(err.Error(), "already used") {
				t.Errorf("replayed: %v", err)
			}
		}
		if n := used(); n != 1 {
			t.Fatalf("%d rows after one use, want 1", n)
		}

		old := a.NewChallenge("browser-1")
		c.advance(challengeTTL)
		if err := a.UseChallenge(ctx, old, "browser-1"); !errors.Is(err, ErrBadChallenge) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("expired: %v", err)
		}
		if err := a.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := used(); n != 0 {
			t.Errorf("%d rows after the sweep, want 0", n)
		}

		s, token, err := a.LoginBidder(ctx, "91110000MA01ABCDEX", "某某建设有限公司", "ip")
		if err != nil || !s.IsBidder() || s.Role != Bidder {
			t.Fatal(s, err)
		}
		c.advance(13 * time.Hour)
		if err := a.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Lookup(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Error("session survived the sweep")
		}
	})
}
