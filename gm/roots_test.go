package gm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/smx509"
)

// TestLoadTrustRoots: every certificate of every file, in order, as a
// pool that verifies them; none is empty roots with a nil pool; an error
// names the file.
func TestLoadTrustRoots(t *testing.T) {
	dir := t.TempDir()
	pem1, _ := selfSigned(t, mustKey(t))
	pem2, _ := selfSigned(t, mustKey(t))
	one, two, bad := filepath.Join(dir, "one.pem"), filepath.Join(dir, "two.pem"), filepath.Join(dir, "bad.pem")
	os.WriteFile(one, pem1, 0o600)
	os.WriteFile(two, append(append([]byte{}, pem2...), readTestdata(t, "sm2.cert.pem")...), 0o600)
	os.WriteFile(bad, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o600)

	r, err := LoadTrustRoots(one, two)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 || len(r.Certificates()) != 3 || r.Pool() == nil || len(r.Files()) != 2 {
		t.Fatalf("%d certificates, pool %v, files %v", r.Len(), r.Pool(), r.Files())
	}
	for i, c := range r.Certificates() {
		if _, err := c.Verify(smx509.VerifyOptions{Roots: r.Pool()}); err != nil {
			t.Errorf("certificate %d does not verify against the roots: %v", i, err)
		}
	}
	want, _ := ParseCertificate(pem1)
	if !r.Certificates()[0].Equal(want) {
		t.Error("certificates not in the order of the files")
	}

	none, err := LoadTrustRoots()
	if err != nil || none.Len() != 0 || none.Pool() != nil {
		t.Errorf("no files: %d, pool %v, %v", none.Len(), none.Pool(), err)
	}
	var nilRoots *TrustRoots
	if nilRoots.Len() != 0 || nilRoots.Pool() != nil || nilRoots.Certificates() != nil {
		t.Error("nil roots are not empty")
	}
	for _, f := range []string{bad, filepath.Join(dir, "missing.pem")} {
		if _, err := LoadTrustRoots(one, f); err == nil || !strings.Contains(err.Error(), "trust root "+f) {
			t.Errorf("%s: %v, want an error naming the file", f, err)
		}
	}
	if n := NewTrustRoots(want); n.Len() != 1 || n.Pool() == nil {
		t.Errorf("NewTrustRoots: %d", n.Len())
	}
}
