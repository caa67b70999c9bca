package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
)

// testCert makes a self-signed ECDSA certificate for 127.0.0.1 and
// returns its files and a pool that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	pool = x509.NewCertPool()
	c, _ := x509.ParseCertificate(der)
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// tlsServer serves "ok" with service.Listen's TLS on 127.0.0.1 and returns
// its address and certificate pool.
func tlsServer(t *testing.T) (addr string, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile, pool := testCert(t)
	ln, url, err := service.Listen(config.Listen{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("service.Listen with a certificate serves %s", url)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ErrorLog: newDiscardLogger()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), pool
}

// TestTLSEndToEnd: the whole flow with both services behind
// service.TLSConfig, calling each other (and the bidder calling the
// institution) over HTTPS only: every exchange on both sides went over
// TLS 1.2+ with an AEAD suite, and plain HTTP is not served.
func TestTLSEndToEnd(t *testing.T) {
	certFile, keyFile, pool := testCert(t)
	tc, err := service.TLSConfig(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s := harness.Start(t, harness.Quiet(), harness.WithTLS(tc, pool))
	if !strings.HasPrefix(s.PlatDoor.URL, "https://") || !strings.HasPrefix(s.InstDoor.URL, "https://") {
		t.Fatalf("doors %s %s", s.PlatDoor.URL, s.InstDoor.URL)
	}
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	s.Clock.Advance(time.Hour + time.Second)
	s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
	n := 0
	for _, ex := range s.Wire() {
		n++
		if ex.TLSVersion < tls.VersionTLS12 {
			t.Errorf("%s %s over TLS version %x", ex.Method, ex.Path, ex.TLSVersion)
		}
		if name := tls.CipherSuiteName(ex.TLSSuite); !strings.Contains(name, "GCM") && !strings.Contains(name, "CHACHA20") {
			t.Errorf("%s %s with suite %s", ex.Method, ex.Path, name)
		}
	}
	if n < 20 {
		t.Fatalf("only %d exchanges", n)
	}
	if res, err := http.Get("http" + strings.TrimPrefix(s.PlatDoor.URL, "https") + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Error("plain HTTP is served on the TLS port")
		}
	}
}

// TestTLSModernOnly: the services' TLS (service.TLSConfig) refuses TLS 1.0
// and 1.1, CBC, RC4, 3DES and static-RSA suites, and accepts TLS 1.2
// with ECDHE+AEAD and TLS 1.3.
func TestTLSModernOnly(t *testing.T) {
	addr, pool := tlsServer(t)
	tests := []struct {
		name     string
		min, max uint16
		suites   []uint16
		ok       bool
	}{
		{"TLS 1.0", tls.VersionTLS10, tls.VersionTLS10, nil, false},
		{"TLS 1.1", tls.VersionTLS11, tls.VersionTLS11, nil, false},
		{"TLS 1.2 CBC-SHA1", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}, false},
		{"TLS 1.2 CBC-SHA256", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, false},
		{"TLS 1.2 RC4", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA}, false},
		{"TLS 1.2 3DES", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, false},
		{"TLS 1.2 static RSA GCM", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, false},
		{"TLS 1.2 ECDHE AES-GCM", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, true},
		{"TLS 1.2 ECDHE ChaCha20", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, true},
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, nil, true},
	}
	// Control: a permissive server accepts the refused clients, so the
	// refusals below are the server's doing, not the Go client's.
	lax := laxServer(t)
	for _, tc := range tests {
		if tc.ok {
			continue
		}
		c, err := tls.Dial("tcp", lax, &tls.Config{InsecureSkipVerify: true, MinVersion: tc.min, MaxVersion: tc.max, CipherSuites: tc.suites})
		if err != nil {
			t.Logf("control: the Go client cannot do %s at all (%v); the OpenSSL test covers it", tc.name, err)
			continue
		}
		c.Close()
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tc.min, MaxVersion: tc.max, CipherSuites: tc.suites})
			if err == nil {
				st := c.ConnectionState()
				c.Close()
				if !tc.ok {
					t.Fatalf("accepted: version %x suite %s", st.Version, tls.CipherSuiteName(st.CipherSuite))
				}
				return
			}
			if tc.ok {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// The same with OpenSSL as the client (another TLS stack, which can
// still speak the old versions).
func TestTLSModernOnlyOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	addr, _ := tlsServer(t)
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"}, false},
		{[]string{"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, false},
		{[]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0"}, false},
		{[]string{"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, false},
		{[]string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"}, true},
		{[]string{"-tls1_3"}, true},
	}
	for _, tc := range tests {
		args := append([]string{"s_client", "-connect", addr, "-brief"}, tc.args...)
		cmd := exec.Command("openssl", args...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		ok := err == nil && strings.Contains(string(out), "CONNECTION ESTABLISHED")
		if ok != tc.ok {
			t.Errorf("openssl %s: established=%v, want %v\n%s", strings.Join(tc.args, " "), ok, tc.ok, out)
		}
	}
}

func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// laxServer accepts every version and suite Go has (RSA certificate, for
// the static-RSA suites).
func laxServer(t *testing.T) string {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "lax"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ekey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	etmpl := *tmpl
	eder, _ := x509.CreateCertificate(rand.Reader, &etmpl, &etmpl, &ekey.PublicKey, ekey)
	var suites []uint16
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		suites = append(suites, cs.ID)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS10, CipherSuites: suites,
		Certificates: []tls.Certificate{{Certificate: [][]byte{eder}, PrivateKey: ekey}, {Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return ln.Addr().String()
}
