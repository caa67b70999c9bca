package service

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/gm/testca"
)

func TestReadOrMakeSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.appsecret")
	s, made, err := ReadOrMakeSecret(path)
	if err != nil || !made {
		t.Fatalf("first call: %q, made %v, %v; want a new secret", s, made, err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s) {
		t.Errorf("secret %q, want 32 lowercase hex digits", s)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	again, made, err := ReadOrMakeSecret(path)
	if err != nil || made || again != s {
		t.Errorf("second call: %q, made %v, %v; want %q read back", again, made, err, s)
	}
	other, _, err := ReadOrMakeSecret(filepath.Join(t.TempDir(), "t"))
	if err != nil || other == s {
		t.Errorf("another file: %q, %v; want a different secret", other, err)
	}

	// Kept by hand, with spaces around: read as written.
	if err := os.WriteFile(path, []byte("  given-by-hand \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, made, err := ReadOrMakeSecret(path); err != nil || made || s != "given-by-hand" {
		t.Errorf("hand-written file: %q, made %v, %v", s, made, err)
	}
	// Emptied: an error that names the file, and nothing overwritten.
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadOrMakeSecret(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("empty file: %v, want an error naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "\n" {
		t.Errorf("empty file rewritten to %q", b)
	}
	// A directory that is not there: the error, no secret.
	if s, _, err := ReadOrMakeSecret(filepath.Join(t.TempDir(), "no", "such")); err == nil {
		t.Errorf("missing directory: %q, want an error", s)
	}
}

func TestEnsureTestCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	made, err := EnsureTestCA(dir)
	if err != nil || !made {
		t.Fatalf("first call: made %v, %v; want a new CA", made, err)
	}
	ca, err := testca.Load(dir)
	if err != nil {
		t.Fatalf("the CA made does not load: %v", err)
	}
	made, err = EnsureTestCA(dir)
	if err != nil || made {
		t.Fatalf("second call: made %v, %v; want the CA kept", made, err)
	}
	again, err := testca.Load(dir)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("after the second call the CA changed or broke: %v", err)
	}
	// Only the certificate kept (the key moved away): nothing is made
	// over it; the certificate is all a trust root needs.
	if err := os.Remove(filepath.Join(dir, testca.CAKeyFile)); err != nil {
		t.Fatal(err)
	}
	if made, err := EnsureTestCA(dir); err != nil || made {
		t.Errorf("certificate without key: made %v, %v; want it left alone", made, err)
	}
}
