package gm

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMasterKeySealOpen(t *testing.T) {
	m, err := NewMasterKey(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []string{"", "appsecret-123", strings.Repeat("密", 1000)} {
		s, err := m.Seal([]byte(pt), "appsecret/peer-1")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, "v1:") {
			t.Fatalf("sealed %q", s)
		}
		got, err := m.Open(s, "appsecret/peer-1")
		if err != nil || string(got) != pt {
			t.Fatalf("Open: %q %v", got, err)
		}
	}
	s, _ := m.Seal([]byte("x"), "ctx")
	s2, _ := m.Seal([]byte("x"), "ctx")
	if s == s2 {
		t.Fatal("same nonce twice")
	}
	other, _ := NewMasterKey(NewKey())
	raw, _ := base64.StdEncoding.DecodeString(s[3:])
	raw[len(raw)-1] ^= 1
	tests := []struct {
		name, sealed, ctx, want string
		m                       *MasterKey
		open                    bool
	}{
		{"other context", s, "ctx2", "another context", m, true},
		{"other key", s, "ctx", "another master key", other, true},
		{"altered", "v1:" + base64.StdEncoding.EncodeToString(raw), "ctx", "altered", m, true},
		{"plain text", "appsecret", "ctx", `does not start with "v1:"`, m, false},
		{"short", "v1:AAAA", "ctx", "shorter than nonce and tag", m, false},
		{"bad base64", "v1:***", "ctx", "sealed value", m, false},
	}
	for _, tt := range tests {
		_, err := tt.m.Open(tt.sealed, tt.ctx)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		if errors.Is(err, ErrMasterKeyOpen) != tt.open {
			t.Errorf("%s: errors.Is(ErrMasterKeyOpen) wrong", tt.name)
		}
	}
	var nilKey *MasterKey
	if _, err := nilKey.Seal(nil, ""); err == nil {
		t.Error("nil master key sealed")
	}
	if _, err := NewMasterKey(make([]byte, 15)); err == nil {
		t.Error("15-byte master key accepted")
	}
}

func TestLoadMasterKey(t *testing.T) {
	raw := NewKey()
	fromHex, err := LoadMasterKey(hexs(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	fromB64, err := LoadMasterKey(base64.StdEncoding.EncodeToString(raw), "/nonexistent/ignored")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := fromHex.Seal([]byte("secret"), "c")
	if got, err := fromB64.Open(s, "c"); err != nil || string(got) != "secret" {
		t.Fatalf("hex and base64 forms differ: %v", err)
	}
	for _, bad := range []string{"abc", hexs(raw)[:30], base64.StdEncoding.EncodeToString(make([]byte, 32))} {
		if _, err := LoadMasterKey(bad, ""); err == nil || !strings.Contains(err.Error(), "32 hex characters or base64 of 16 bytes") {
			t.Errorf("LoadMasterKey(%q): %v", bad, err)
		}
	}
	if _, err := LoadMasterKey("", ""); err == nil {
		t.Error("no key and no file accepted")
	}

	// Generated on first use, 0600, then stable.
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	m1, err := LoadMasterKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	m2, err := LoadMasterKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ = m1.Seal([]byte("kept"), "c")
	if got, err := m2.Open(s, "c"); err != nil || string(got) != "kept" {
		t.Fatalf("reloaded key differs: %v", err)
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if _, err := LoadMasterKey("", path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt key file: %v", err)
	}
}

// TestMasterKeyDeriveKey: DeriveKey is HMAC-SM3 over the label under the
// master key (the expected value is from OpenSSL: printf
// 'baohan/derive/v1\0web/login-challenge/platform' | openssl dgst -sm3
// -mac HMAC -macopt hexkey:000102030405060708090a0b0c0d0e0f); two loads
// of one key agree, labels and keys separate.
func TestMasterKeyDeriveKey(t *testing.T) {
	const want = "e4582532f3172816d885a4adcfe2adcb56e56a6926b8ae67ae67fab0c7b6c679"
	m, err := ParseMasterKey("000102030405060708090a0b0c0d0e0f")
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.DeriveKey("web/login-challenge/platform")
	if err != nil || hexs(k) != want {
		t.Fatalf("DeriveKey = %x, %v; want %s", k, err, want)
	}
	again, _ := LoadMasterKey("000102030405060708090a0b0c0d0e0f", "")
	if k2, _ := again.DeriveKey("web/login-challenge/platform"); hexs(k2) != want {
		t.Errorf("another load of the same key derives %x", k2)
	}
	if k2, _ := m.DeriveKey("institution/bidder-challenge"); hexs(k2) == want {
		t.Error("two labels derive one key")
	}
	other, _ := NewMasterKey(NewKey())
	if k2, _ := other.DeriveKey("web/login-challenge/platform"); hexs(k2) == want {
		t.Error("two master keys derive one key")
	}
	var nilKey *MasterKey
	if _, err := nilKey.DeriveKey("x"); err == nil {
		t.Error("nil master key derived a key")
	}
}
