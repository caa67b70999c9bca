package bidderauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestChallenges: a challenge checks for the purpose and binding it was
// issued for, under the key it was issued with (another Challenges of the
// same key, as a replica has, included), until it expires; every other
// use, and any altered byte, is refused with a message naming the rule.
func TestChallenges(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c, err := NewChallenges(key, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	replica, _ := NewChallenges(key, 5*time.Minute)
	other, _ := NewChallenges([]byte("another key of 32 bytes, at last"), 5*time.Minute)
	now := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)
	ch, exp := c.Issue(now, InstitutionQuit, "app-1")
	if err := CheckChallenge(ch); err != nil {
		t.Fatalf("the CA agent would not sign %q: %v", ch, err)
	}
	if want := now.Add(5 * time.Minute).Truncate(time.Microsecond); !exp.Equal(want) {
		t.Errorf("expires %v, want %v", exp, want)
	}
	if ch2, _ := c.Issue(now, InstitutionQuit, "app-1"); ch2 == ch {
		t.Error("two challenges alike")
	}
	got, err := replica.Check(now.Add(time.Minute), ch, InstitutionQuit, "app-1")
	if err != nil {
		t.Fatalf("a replica's check: %v", err)
	}
	if len(got.ID) != 32 || !got.Expires.Equal(exp) {
		t.Errorf("Issued = %+v", got)
	}
	if again, _ := c.Check(now, ch, InstitutionQuit, "app-1"); again.ID != got.ID {
		t.Errorf("one challenge, two IDs: %s, %s", again.ID, got.ID)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(ch[3:])
	alter := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return "c1." + base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name      string
		c         *Challenges
		at        time.Time
		challenge string
		purpose   Purpose
		binding   string
		want      error
		msg       string
	}{
		{"another application", c, now, ch, InstitutionQuit, "app-2", ErrChallengeInvalid, "not issued by this service for this application"},
		{"another purpose", c, now, ch, InstitutionGiveUp, "app-1", ErrChallengeInvalid, "issued for institution-quit, not institution-giveup"},
		{"a login", c, now, ch, PlatformLogin, "app-1", ErrChallengeInvalid, "issued for institution-quit, not platform-login"},
		{"another service's key", other, now, ch, InstitutionQuit, "app-1", ErrChallengeInvalid, "another's, or altered"},
		{"nonce altered", c, now, alter(0), InstitutionQuit, "app-1", ErrChallengeInvalid, "altered"},
		{"expiry altered", c, now, alter(nonceLen + 7), InstitutionQuit, "app-1", ErrChallengeInvalid, "altered"},
		{"mac altered", c, now, alter(len(raw) - 1), InstitutionQuit, "app-1", ErrChallengeInvalid, "altered"},
		{"expired", c, exp, ch, InstitutionQuit, "app-1", ErrChallengeExpired, "valid for 5m0s"},
		{"long expired", c, now.Add(24 * time.Hour), ch, InstitutionQuit, "app-1", ErrChallengeExpired, "expired"},
		{"guessed", c, now, "guess", InstitutionQuit, "app-1", ErrChallengeInvalid, "want 78 characters"},
		{"old format", c, now, "quit-" + strings.Repeat("a", 73), InstitutionQuit, "app-1", ErrChallengeInvalid, `starting "c1."`},
		{"not canonical base64url", c, now, nonCanonical(ch), InstitutionQuit, "app-1", ErrChallengeInvalid, "not base64url"},
		{"not base64url", c, now, "c1." + strings.Repeat("*", 75), InstitutionQuit, "app-1", ErrChallengeInvalid, "not base64url"},
	}
	for _, tt := range tests {
		_, err := tt.c.Check(tt.at, tt.challenge, tt.purpose, tt.binding)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %v saying %q", tt.name, err, tt.want, tt.msg)
		}
	}
	if _, err := NewChallenges(key[:15], time.Minute); err == nil {
		t.Error("a 15-byte key accepted")
	}
	if _, err := NewChallenges(key, 0); err == nil {
		t.Error("a validity of 0 accepted")
	}
}

// nonCanonical sets a padding bit of ch's last character: the same bytes,
// spelt otherwise.
func nonCanonical(ch string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, ch[len(ch)-1])
	return ch[:len(ch)-1] + string(alphabet[i^1])
}
