// Package ofdtest holds helpers for the tests of the ofd packages: the
// fixtures made by other OFD implementations and throw-away SM2
// certificates.
package ofdtest

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// FixtureDir finds the directory of the ofdrw fixtures: $BAOHAN_OFD_FIXTURES,
// else ../shared/fixtures/ofdrw beside the repository (the workspace
// layout). Tests that need it skip when it is absent, unless
// BAOHAN_REQUIRE_FIXTURES=1.
func FixtureDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BAOHAN_OFD_FIXTURES"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	// file is <repo>/ofd/internal/ofdtest/ofdtest.go
	repo := filepath.Join(filepath.Dir(file), "..", "..", "..")
	d := filepath.Join(repo, "..", "shared", "fixtures", "ofdrw")
	if _, err := os.Stat(d); err != nil {
		if os.Getenv("BAOHAN_REQUIRE_FIXTURES") == "1" {
			t.Fatalf("ofdrw fixtures not found at %s (set BAOHAN_OFD_FIXTURES)", d)
		}
		t.Skipf("ofdrw fixtures not found at %s (set BAOHAN_OFD_FIXTURES)", d)
	}
	return d
}

// Fixture reads one fixture file.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(FixtureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// PKI is a throw-away SM2 CA with an institution and a bidder, for tests
// of the ofd packages, which do not depend on pki.
type PKI struct {
	Root        *smx509.Certificate
	RootKey     *sm2.PrivateKey
	Institution Party
	Bidder      Party
	Pool        *smx509.CertPool
}

// Party is a key and its certificate.
type Party struct {
	Key  *sm2.PrivateKey
	Cert *smx509.Certificate
}

// NewPKI makes a root valid 2020–2040 and two leaf certificates valid
// 2024–2030.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	rootKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "baohan test root CA", Organization: []string{"baohan"}},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{Root: root, RootKey: rootKey, Pool: smx509.NewCertPool()}
	p.Pool.AddCert(root)
	p.Institution = p.Issue(t, "测试融资担保股份有限公司", "91110000MA00TET01N", 2)
	p.Bidder = p.Issue(t, "测试建设工程有限公司", "91330000MA00TET02F", 3)
	return p
}

// Issue makes a leaf certificate valid 2024–2030 with the credit code in
// Subject SERIALNUMBER.
func (p *PKI) Issue(t testing.TB, name, creditCode string, serial int64) Party {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name, Organization: []string{name}, SerialNumber: creditCode},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, p.Root, &key.PublicKey, p.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Party{Key: key, Cert: cert}
}
