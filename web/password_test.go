package web

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with our parameters", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		hash, pw string
		want     bool
	}{
		{h, "correct horse battery", true},
		{h2, "correct horse battery", true},
		{h, "correct horse batterY", false},
		{h, "", false},
		{strings.Replace(h, "t=2", "t=3", 1), "correct horse battery", false},
		{strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery", false},
		{"$argon2id$v=19$m=0,t=2,p=1$AAAA$AAAA", "x", false},
		{"$argon2id$v=19$m=99999999,t=2,p=1$AAAA$AAAA", "x", false},
		{"plain", "plain", false},
		{"", "", false},
	} {
		if got := CheckPassword(tc.hash, tc.pw); got != tc.want {
			t.Errorf("CheckPassword(%q, %q) = %v", tc.hash, tc.pw, got)
		}
	}
	if _, err := HashPassword("short"); err != ErrWeakPassword {
		t.Errorf("short password: %v", err)
	}
	if CheckPassword(dummyHash, "") || CheckPassword(dummyHash, "admin") {
		t.Error("the dummy hash matches a password")
	}
	if a, b := RandomPassword(), RandomPassword(); a == b || len(a) < 20 {
		t.Errorf("random passwords %q %q", a, b)
	}
}
