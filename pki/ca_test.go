package pki

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/emmansun/gmsm/smx509"
)

func TestIssueRoles(t *testing.T) {
	ca, err := New("unit CA")
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.SignatureAlgorithm != smx509.SM2WithSM3 {
		t.Fatalf("root: IsCA %v, algorithm %v", ca.Cert.IsCA, ca.Cert.SignatureAlgorithm)
	}
	if err := ca.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("root is not self-signed: %v", err)
	}
	tests := []struct {
		role     Role
		opts     []Option
		wantCode string
		usage    smx509.KeyUsage
		notUsage smx509.KeyUsage
	}{
		{Bidder, []Option{WithCreditCode("91350100M000100Y43")}, "91350100M000100Y43",
			smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment | smx509.KeyUsageKeyEncipherment, 0},
		{Institution, nil, "",
			smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment, smx509.KeyUsageKeyEncipherment | smx509.KeyUsageCertSign},
		{Platform, nil, "", smx509.KeyUsageDigitalSignature, smx509.KeyUsageCertSign},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			id, err := ca.Issue("某某"+string(tt.role), tt.role, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := ca.Verify(id.Cert); err != nil {
				t.Fatalf("smx509 chain: %v", err)
			}
			if id.Cert.SignatureAlgorithm != smx509.SM2WithSM3 {
				t.Errorf("signature algorithm %v", id.Cert.SignatureAlgorithm)
			}
			if id.Cert.KeyUsage&tt.usage != tt.usage || id.Cert.KeyUsage&tt.notUsage != 0 {
				t.Errorf("key usage %b, want %b set and %b clear", id.Cert.KeyUsage, tt.usage, tt.notUsage)
			}
			if id.Cert.IsCA {
				t.Error("leaf is a CA")
			}
			code, _ := CreditCode(id.Cert, InSerialNumber)
			switch {
			case tt.wantCode != "" && code != tt.wantCode:
				t.Errorf("credit code %q, want %q", code, tt.wantCode)
			case tt.role != Platform && CheckCreditCode(code) != nil:
				t.Errorf("credit code %q invalid", code)
			case tt.role == Platform && code != "":
				t.Errorf("platform certificate carries credit code %q", code)
			}
			if code != id.CreditCode || RoleOf(id.Cert) != tt.role {
				t.Errorf("identity fields: %q %q", id.CreditCode, RoleOf(id.Cert))
			}
			// The key in KeyPEM is the certificate's, and gm can use it.
			k, err := gm.ParsePrivateKey(id.KeyPEM)
			if err != nil || !k.PublicKey.Equal(id.Cert.PublicKey) {
				t.Fatalf("KeyPEM: %v", err)
			}
			pub, err := gm.ParsePublicKey(id.CertPEM)
			if err != nil || !pub.Equal(&k.PublicKey) {
				t.Fatalf("CertPEM public key: %v", err)
			}
			// A certificate from another CA does not verify.
			other, _ := New("other")
			if err := other.Verify(id.Cert); err == nil {
				t.Error("verifies under another CA")
			}
		})
	}
}

func TestIssueValidityAndErrors(t *testing.T) {
	ca, _ := New("v")
	nb := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	na := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	id, err := ca.Issue("expired", Bidder, WithValidity(nb, na))
	if err != nil {
		t.Fatal(err)
	}
	if !id.Cert.NotBefore.Equal(nb) || !id.Cert.NotAfter.Equal(na) {
		t.Fatalf("validity %v..%v", id.Cert.NotBefore, id.Cert.NotAfter)
	}
	if err := ca.Verify(id.Cert); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: %v", err)
	}
	if _, err := ca.Issue("x", Bidder, WithValidity(na, nb)); err == nil {
		t.Error("inverted validity accepted")
	}
	if _, err := ca.Issue("x", Role("auditor")); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("bad role: %v", err)
	}
	if _, err := ca.Issue(" ", Bidder); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := New(""); err == nil {
		t.Error("empty CA name accepted")
	}
	id, err = ca.Issue("tls", Platform, WithDNSNames("localhost"))
	if err != nil || id.Cert.VerifyHostname("localhost") != nil {
		t.Fatalf("DNS names: %v", err)
	}
}

func TestInitLoadIssueToDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir); err == nil || !strings.Contains(err.Error(), "already initialised") {
		t.Fatalf("second Init: %v", err)
	}
	checkMode(t, filepath.Join(dir, CAKeyFile), 0o600)
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) || !loaded.Key.Equal(ca.Key) {
		t.Fatal("Load returns another CA")
	}
	if string(loaded.CertPEM()) != string(ca.CertPEM()) {
		t.Fatal("CertPEM differs after Load")
	}
	id, err := loaded.IssueToDir(dir, "bidder1", Bidder, WithCreditCode("91440300708461136T"))
	if err != nil {
		t.Fatal(err)
	}
	checkMode(t, filepath.Join(dir, "bidder1.key.pem"), 0o600)
	key, _ := os.ReadFile(filepath.Join(dir, "bidder1.key.pem"))
	if !strings.HasPrefix(string(key), "-----BEGIN PRIVATE KEY-----") {
		t.Fatal("key file is not PKCS#8 PEM")
	}
	back, err := LoadIdentity(dir, "bidder1")
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != "bidder1" || back.CreditCode != "91440300708461136T" || back.Role != Bidder || !back.Key.Equal(id.Key) {
		t.Fatalf("LoadIdentity: %+v", back)
	}
	if _, err := loaded.IssueToDir(dir, "bidder1", Bidder); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("overwrite: %v", err)
	}
	for _, bad := range []string{"ca", "../x", "a/b", ".hidden", ""} {
		if _, err := loaded.IssueToDir(dir, bad, Bidder); err == nil {
			t.Errorf("IssueToDir name %q accepted", bad)
		}
	}
	// Errors: no CA, key of another identity.
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "ca init") {
		t.Fatalf("Load empty dir: %v", err)
	}
	loaded.IssueToDir(dir, "other", Platform)
	otherKey, _ := os.ReadFile(filepath.Join(dir, "other.key.pem"))
	os.WriteFile(filepath.Join(dir, "bidder1.key.pem"), otherKey, 0o600)
	if _, err := LoadIdentity(dir, "bidder1"); err == nil || !strings.Contains(err.Error(), "do not belong together") {
		t.Fatalf("mismatched key: %v", err)
	}
	if _, err := LoadIdentity(dir, "nobody"); err == nil {
		t.Fatal("LoadIdentity of a missing name")
	}
	os.WriteFile(filepath.Join(dir, CAKeyFile), otherKey, 0o600)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "do not belong together") {
		t.Fatalf("mismatched CA key: %v", err)
	}
}

func TestLoadOrIssue(t *testing.T) {
	dir := t.TempDir()
	ca, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, issued, err := ca.LoadOrIssue(dir, "示例融资担保有限公司", Institution)
	if err != nil || !issued {
		t.Fatalf("first call: issued %v, %v", issued, err)
	}
	again, issued, err := ca.LoadOrIssue(dir, "示例融资担保有限公司", Institution)
	if err != nil || issued || !again.Key.Equal(first.Key) || again.Role != Institution {
		t.Fatalf("second call: issued %v, same key %v, role %q, %v", issued, err == nil && again.Key.Equal(first.Key), again.Role, err)
	}
	if _, _, err := ca.LoadOrIssue(dir, "../escape", Bidder); err == nil {
		t.Error("a name with a path accepted")
	}
	os.WriteFile(filepath.Join(dir, KeyFile("示例融资担保有限公司")), []byte("not a key"), 0o600)
	if _, issued, err := ca.LoadOrIssue(dir, "示例融资担保有限公司", Institution); err == nil || issued {
		t.Errorf("a broken key file is replaced or accepted: issued %v, %v", issued, err)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Fatalf("%s mode %v, want %v", path, st.Mode().Perm(), want)
	}
}

// TestOpenSSLVerify checks the chain with openssl verify. Certificates are
// signed with the GM/T 0009 default SM2 ID 1234567812345678, as Chinese CAs
// do and as smx509 verifies; OpenSSL 3.0 defaults to an empty ID when
// verifying certificates (openssl/openssl#23471, Tongsuo#559), so it needs
// -vfyopt distid:1234567812345678.
func TestOpenSSLVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	ca, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Roles {
		name := "id-" + string(r)
		if _, err := ca.IssueToDir(dir, name, r); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(openssl, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", filepath.Join(dir, CACertFile), filepath.Join(dir, CertFile(name))).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl verify %s: %v\n%s", r, err, out)
		}
		// openssl reads the credit code and the key.
		subj, _ := exec.Command(openssl, "x509", "-in", filepath.Join(dir, CertFile(name)), "-noout", "-subject", "-nameopt", "RFC2253").CombinedOutput()
		if r != Platform && !strings.Contains(string(subj), "serialNumber=") {
			t.Errorf("openssl sees no serialNumber in %s", subj)
		}
		if out, err := exec.Command(openssl, "pkey", "-in", filepath.Join(dir, KeyFile(name)), "-noout").CombinedOutput(); err != nil {
			t.Fatalf("openssl pkey: %v %s", err, out)
		}
	}
	// And refuses a certificate from another CA.
	other, _ := New("other")
	id, _ := other.Issue("stranger", Bidder)
	p := filepath.Join(dir, "stranger.pem")
	os.WriteFile(p, id.CertPEM, 0o644)
	if out, err := exec.Command(openssl, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", filepath.Join(dir, CACertFile), p).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a stranger: %s", out)
	}
}
