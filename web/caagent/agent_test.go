package caagent

import (
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

func mustOpen(t *testing.T, doc []byte) *ofd.Package {
	t.Helper()
	p, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const origin = "http://127.0.0.1:8080"

// selfSigned makes an SM2 certificate carrying a credit code the way the
// test CA does (Subject SERIALNUMBER).
func selfSigned(t *testing.T, name, code string) (*sm2.PrivateKey, *smx509.Certificate) {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: name, SerialNumber: code},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     smx509.KeyUsageDigitalSignature,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func newAgent(t *testing.T) (*Agent, *sm2.PrivateKey, *smx509.Certificate) {
	t.Helper()
	key, cert := selfSigned(t, "某某建设有限公司", "91110000MA01ABCDEX")
	a, err := New(Config{
		Key: key, Cert: cert, Origins: []string{origin + "/", "https://fi.example.cn"}, Unattended: true,
		SignAgreement: func(ctx context.Context, ofd []byte, k *sm2.PrivateKey, c *smx509.Certificate) ([]byte, error) {
			if k != key || c != cert {
				t.Error("SignAgreement got another key or certificate")
			}
			return append([]byte("signed:"), ofd...), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, key, cert
}

type call struct {
	method, path, host, origin, ctype, body string
}

func (c call) do(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(c.method, "http://"+c.host+c.path, strings.NewReader(c.body))
	r.Host = c.host
	if c.origin != "" {
		r.Header.Set("Origin", c.origin)
	}
	if c.ctype != "" {
		r.Header.Set("Content-Type", c.ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestNewRefuses(t *testing.T) {
	key, cert := selfSigned(t, "A", "1")
	other, _ := selfSigned(t, "B", "2")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{Cert: cert, Origins: []string{origin}, Unattended: true}, "key and a certificate"},
		{"wrong key", Config{Key: other, Cert: cert, Origins: []string{origin}, Unattended: true}, "does not belong"},
		{"no origin", Config{Key: key, Cert: cert, Unattended: true}, "--origin"},
		{"path in origin", Config{Key: key, Cert: cert, Origins: []string{"http://a.example/console"}, Unattended: true}, "not scheme://host"},
		{"not http", Config{Key: key, Cert: cert, Origins: []string{"file://x"}, Unattended: true}, "not scheme://host"},
		{"star", Config{Key: key, Cert: cert, Origins: []string{"*"}, Unattended: true}, "not scheme://host"},
		{"nobody to ask", Config{Key: key, Cert: cert, Origins: []string{origin}}, "Confirm is required"},
		{"unattended and asking", Config{Key: key, Cert: cert, Origins: []string{origin}, Unattended: true,
			Confirm: func(context.Context, Operation) error { return nil }}, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestGatekeeping(t *testing.T) {
	a, _, _ := newAgent(t)
	h := a.Handler("127.0.0.1:9999", "localhost:9999")
	for _, tc := range []struct {
		name     string
		c        call
		status   int
		wantACAO bool
		errHas   string
	}{
		{"allowed origin", call{"GET", "/v1/cert", "127.0.0.1:9999", origin, "", ""}, 200, true, ""},
		{"allowed origin, localhost host", call{"GET", "/v1/cert", "localhost:9999", "https://fi.example.cn", "", ""}, 200, true, ""},
		{"origin case-insensitive", call{"GET", "/v1/cert", "127.0.0.1:9999", "HTTPS://FI.EXAMPLE.CN", "", ""}, 200, true, ""},
		{"other origin", call{"GET", "/v1/cert", "127.0.0.1:9999", "https://evil.example", "", ""}, 403, false, "not allowed"},
		{"origin with other port", call{"GET", "/v1/cert", "127.0.0.1:9999", "http://127.0.0.1:8081", "", ""}, 403, false, "not allowed"},
		{"null origin", call{"GET", "/v1/cert", "127.0.0.1:9999", "null", "", ""}, 403, false, "not allowed"},
		{"no origin", call{"GET", "/v1/cert", "127.0.0.1:9999", "", "", ""}, 403, false, "no Origin"},
		{"rebinding host", call{"GET", "/v1/cert", "evil.example:9999", origin, "", ""}, 403, false, "host"},
		{"other port in host", call{"GET", "/v1/cert", "127.0.0.1:80", origin, "", ""}, 403, false, "host"},
		{"form post", call{"POST", "/v1/challenge", "127.0.0.1:9999", origin, "application/x-www-form-urlencoded", "challenge=x"}, 415, true, "application/json"},
		{"unknown path", call{"GET", "/v1/key", "127.0.0.1:9999", origin, "", ""}, 404, true, ""},
		{"wrong method", call{"GET", "/v1/challenge", "127.0.0.1:9999", origin, "", ""}, 405, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.c.do(h)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin") != ""; got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin present = %v, want %v", got, tc.wantACAO)
			}
			if tc.errHas != "" {
				var e ErrorBody
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
					t.Fatalf("refusal is not JSON: %q", w.Body)
				}
				if !strings.Contains(e.Error, tc.errHas) {
					t.Errorf("error %q, want it to mention %q", e.Error, tc.errHas)
				}
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	a, _, _ := newAgent(t)
	h := a.Handler("127.0.0.1:9999")
	r := httptest.NewRequest("OPTIONS", "http://127.0.0.1:9999/v1/challenge", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Private-Network", "true")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
	for k, v := range map[string]string{
		"Access-Control-Allow-Origin":          origin,
		"Access-Control-Allow-Headers":         "Content-Type",
		"Access-Control-Allow-Private-Network": "true",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	r.Header.Set("Origin", "https://evil.example")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", w.Code, w.Header())
	}
}

func TestCert(t *testing.T) {
	a, _, cert := newAgent(t)
	w := call{"GET", "/v1/cert", "h:1", origin, "", ""}.do(a.Handler("h:1"))
	var ci CertInfo
	if err := json.Unmarshal(w.Body.Bytes(), &ci); err != nil {
		t.Fatal(err)
	}
	got, err := gm.ParseCertificate([]byte(ci.Cert))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(cert) || ci.CreditCode != "91110000MA01ABCDEX" || ci.Subject != "某某建设有限公司" {
		t.Fatalf("cert info %+v", ci)
	}
}

func TestChallenge(t *testing.T) {
	a, _, cert := newAgent(t)
	h := a.Handler("h:1")
	const ch = "Zm9vYmFyYmF6cXV4cXV1eA"
	for _, p := range bidderauth.Purposes() {
		t.Run(string(p), func(t *testing.T) {
			w := call{"POST", "/v1/challenge", "h:1", origin, "application/json", `{"challenge":"` + ch + `","purpose":"` + string(p) + `"}`}.do(h)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var resp ChallengeResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			sig, err := base64.StdEncoding.DecodeString(resp.Signature)
			if err != nil {
				t.Fatal(err)
			}
			if err := bidderauth.Verify(cert, p, origin, ch, sig); err != nil {
				t.Fatalf("signature does not verify: %v", err)
			}
			// The signature is good for this purpose, origin and challenge only.
			for _, q := range bidderauth.Purposes() {
				if q != p && bidderauth.Verify(cert, q, origin, ch, sig) == nil {
					t.Errorf("a %s signature verified as %s", p, q)
				}
			}
			if bidderauth.Verify(cert, p, "https://fi.example.cn", ch, sig) == nil {
				t.Error("signature verified for another origin")
			}
			if bidderauth.Verify(cert, p, origin, ch+"x", sig) == nil {
				t.Error("signature verified for another challenge")
			}
			// It is not a signature of the bare challenge either.
			if gm.SM2Verify(&a.key.PublicKey, []byte(ch), sig) {
				t.Error("the agent signed the page's bytes as they were")
			}
		})
	}
	// The origin signed is the page's, as browsers send it (no default port).
	w := call{"POST", "/v1/challenge", "h:1", "https://FI.example.cn:443", "application/json", `{"challenge":"` + ch + `","purpose":"institution-quit"}`}.do(h)
	var resp ChallengeResponse
	json.Unmarshal(w.Body.Bytes(), &resp)
	sig, _ := base64.StdEncoding.DecodeString(resp.Signature)
	if w.Code != 200 || bidderauth.Verify(cert, bidderauth.InstitutionQuit, "https://fi.example.cn", ch, sig) != nil {
		t.Errorf("origin with its default port: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"challenge":"short","purpose":"platform-login"}`, "challenge"},
		{`{"challenge":"` + strings.Repeat("a", 257) + `","purpose":"platform-login"}`, "challenge"},
		{`{"challenge":"has a space in it, sixteen+","purpose":"platform-login"}`, "challenge"},
		{`{"challenge":"` + ch + `"}`, "purpose: required"},
		{`{"challenge":"` + ch + `","purpose":"login"}`, "not one of"},
		{`{"challenge":"` + ch + `","purpose":"platform-login","applyno":"a b"}`, "applyno"},
		{`{"challenge":"x","extra":1}`, "unknown field"},
		{`{"challenge":"0123456789abcdef","purpose":"platform-login"} {}`, "one JSON object"},
		{`[`, "body"},
	} {
		w := call{"POST", "/v1/challenge", "h:1", origin, "application/json", tc.body}.do(h)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want 400 mentioning %q", tc.body, w.Code, w.Body, tc.want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	a, key, _ := newAgent(t)
	h := a.Handler("h:1")
	plain := []byte(`{"biddername":"某某建设有限公司","bzjamount":"20000.00"}`)
	for _, layout := range []gm.CipherLayout{gm.C1C3C2, gm.C1C2C3, gm.ASN1} {
		t.Run(layout.String(), func(t *testing.T) {
			applydata, env, err := gm.SealEnvelope(&key.PublicKey, plain, layout)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(EnvelopeRequest{DigitalEnvelope: env, ApplyData: applydata, Layout: layout.String()})
			w := call{"POST", "/v1/envelope", "h:1", origin, "application/json", string(body)}.do(h)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var resp EnvelopeResponse
			json.Unmarshal(w.Body.Bytes(), &resp)
			if resp.ApplyData != string(plain) {
				t.Errorf("applydata %q", resp.ApplyData)
			}
			k, _ := base64.StdEncoding.DecodeString(resp.Key)
			if got, err := gm.DecryptField(k, applydata); err != nil || got != string(plain) {
				t.Errorf("the returned key does not decrypt applydata: %v", err)
			}
		})
	}
	// Key only, default layout.
	_, env, _ := gm.SealEnvelope(&key.PublicKey, plain, gm.C1C3C2)
	w := call{"POST", "/v1/envelope", "h:1", origin, "application/json", `{"digitalenvelope":"` + env + `"}`}.do(h)
	if w.Code != 200 || strings.Contains(w.Body.String(), "applydata") {
		t.Fatalf("key only: %d %s", w.Code, w.Body)
	}
	// Sealed for someone else.
	other, _ := selfSigned(t, "B", "2")
	_, env, _ = gm.SealEnvelope(&other.PublicKey, plain, gm.C1C3C2)
	w = call{"POST", "/v1/envelope", "h:1", origin, "application/json", `{"digitalenvelope":"` + env + `"}`}.do(h)
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "某某建设有限公司") {
		t.Fatalf("foreign envelope: %d %s", w.Code, w.Body)
	}
	for _, bad := range []string{`{}`, `{"digitalenvelope":"x","layout":"pkcs7"}`} {
		if w := (call{"POST", "/v1/envelope", "h:1", origin, "application/json", bad}).do(h); w.Code != 400 {
			t.Errorf("%s: status %d", bad, w.Code)
		}
	}
}

func TestAgreement(t *testing.T) {
	a, key, cert := newAgent(t)
	h := a.Handler("h:1")
	doc := base64.StdEncoding.EncodeToString([]byte("PK\x03\x04ofd"))
	w := call{"POST", "/v1/agreement", "h:1", origin, "application/json", `{"ofd":"` + doc + `"}`}.do(h)
	var resp AgreementRequest
	json.Unmarshal(w.Body.Bytes(), &resp)
	got, _ := base64.StdEncoding.DecodeString(resp.OFD)
	if w.Code != 200 || string(got) != "signed:PK\x03\x04ofd" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := (call{"POST", "/v1/agreement", "h:1", origin, "application/json", `{"ofd":"!!"}`}).do(h); w.Code != 400 {
		t.Errorf("bad base64: %d", w.Code)
	}
	// The default signer needs an OFD document.
	real, _ := New(Config{Key: key, Cert: cert, Origins: []string{origin}, Unattended: true})
	if w := (call{"POST", "/v1/agreement", "h:1", origin, "application/json", `{"ofd":"` + doc + `"}`}).do(real.Handler("h:1")); w.Code != 422 {
		t.Errorf("not an OFD: %d %s", w.Code, w.Body)
	}
	small, _ := New(Config{Key: key, Cert: cert, Origins: []string{origin}, MaxBody: 10, Unattended: true})
	if w := (call{"POST", "/v1/agreement", "h:1", origin, "application/json", `{"ofd":"` + doc + `"}`}).do(small.Handler("h:1")); w.Code != 413 {
		t.Errorf("too large: %d", w.Code)
	}
}

func TestServe(t *testing.T) {
	a, _, _ := newAgent(t)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Serve on 0.0.0.0: %v", err)
	}
	ln.Close()

	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		host   string
		status int
	}{{ln.Addr().String(), 200}, {net.JoinHostPort("localhost", itoa(port)), 200}, {net.JoinHostPort("rebind.example", itoa(port)), 403}} {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/v1/cert", nil)
		req.Host = tc.host
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Host %s: status %d, want %d", tc.host, resp.StatusCode, tc.status)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestLoadFiles(t *testing.T) {
	key, cert := selfSigned(t, "A", "91110000MA01ABCDEX")
	pk, err := gm.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k.pem"), pk, 0o600)
	os.WriteFile(filepath.Join(dir, "c.pem"), certPEM(cert), 0o644)
	gotKey, gotCert, err := LoadFiles(filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem"))
	if err != nil || !gotKey.Equal(key) || !gotCert.Equal(cert) {
		t.Fatalf("LoadFiles: %v", err)
	}
	if _, _, err := LoadFiles(filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.pem")); err == nil || !strings.Contains(err.Error(), "c.pem") {
		t.Errorf("a certificate as the key: %v", err)
	}
}

// TestCertCreditCodeIn: GET /v1/cert names the credit code where the
// bidder's CA puts it (Config.CreditCodeIn), and none when it is not
// there.
func TestCertCreditCodeIn(t *testing.T) {
	ca, err := pki.New("某CA")
	if err != nil {
		t.Fatal(err)
	}
	const code = "91110000MA01ABCDEX"
	for _, tt := range []struct {
		issued, read pki.CreditCodeIn
		want         string
	}{
		{pki.InSerialNumber, pki.InSerialNumber, code},
		{pki.InCN, pki.InCN, code},
		{pki.InOU, pki.InOU, code},
		{pki.InExtension(pki.OIDOrganizationCode), pki.InExtension(pki.OIDOrganizationCode), code},
		{pki.InCN, pki.InSerialNumber, ""},
		{pki.InSerialNumber, pki.InCN, ""},
	} {
		id, err := ca.Issue("某某建设有限公司", pki.Bidder, pki.WithCreditCode(code), pki.WithCreditCodeIn(tt.issued))
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Config{Key: id.Key, Cert: id.Cert, Origins: []string{origin}, Unattended: true, CreditCodeIn: tt.read})
		if err != nil {
			t.Fatal(err)
		}
		var ci CertInfo
		w := call{"GET", "/v1/cert", "h:1", origin, "", ""}.do(a.Handler("h:1"))
		if err := json.Unmarshal(w.Body.Bytes(), &ci); err != nil || ci.CreditCode != tt.want {
			t.Errorf("issued in %s, read in %s: credit code %q (%v), want %q", tt.issued, tt.read, ci.CreditCode, err, tt.want)
		}
	}
}

func TestSignOFD(t *testing.T) {
	key, cert := selfSigned(t, "某某建设有限公司", "91110000MA01ABCDEX")
	b := ofd.NewBuilder(ofd.Info{Title: "保函委托协议", Created: time.Now()})
	f := b.Font("宋体", "SimSun")
	b.AddPage().Text(20, 30, ofd.TextStyle{Font: f, Size: 5}, "保函委托协议")
	b.AddPage().Text(20, 30, ofd.TextStyle{Font: f, Size: 5}, guarantee.BidderSealLabel)
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Key: key, Cert: cert, Origins: []string{origin}, Unattended: true})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(AgreementRequest{OFD: base64.StdEncoding.EncodeToString(doc)})
	w := call{"POST", "/v1/agreement", "h:1", origin, "application/json", string(body)}.do(a.Handler("h:1"))
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var resp AgreementRequest
	json.Unmarshal(w.Body.Bytes(), &resp)
	signed, _ := base64.StdEncoding.DecodeString(resp.OFD)
	roots := smx509.NewCertPool()
	roots.AddCert(cert)
	rep, err := ses.Verify(signed, roots)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Signatures) != 1 {
		t.Fatalf("signed agreement does not verify: %+v", rep.Signatures[0].Failures())
	}
	sig := rep.Signatures[0]
	if !sig.SignerCert.Equal(cert) || len(sig.Stamps) != 1 || sig.Stamps[0] != "page 2" {
		t.Errorf("signer %s, stamps %v", sig.Signer, sig.Stamps)
	}
	// The stamp sits at the signature label, not at a fixed place.
	want, _ := guarantee.Stamps(doc, guarantee.BidderSealLabel, float64(sig.Seal.WidthMM))
	got := ses.Appearances(mustOpen(t, signed))
	if len(want) != 1 || len(got) != 1 || got[0].Box != want[0].Box {
		t.Errorf("stamp at %+v, want %+v", got, want)
	}
	// A document without the label gets the stamp on its last page.
	plain := ofd.NewBuilder(ofd.Info{Title: "x", Created: time.Now()})
	plain.AddPage()
	plain.AddPage()
	pdoc, _ := plain.Bytes()
	psigned, err := SignOFD(context.Background(), pdoc, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := ses.Verify(psigned, roots); err != nil || !rep.OK() || rep.Signatures[0].Stamps[0] != "page 2" {
		t.Fatalf("unlabelled document: %v %+v", err, rep)
	}
	// A second signature (the institution's seal) keeps the bidder's valid.
	again, err := SignOFD(context.Background(), signed, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := ses.Verify(again, roots); err != nil || !rep.OK() || len(rep.Signatures) != 2 {
		t.Fatalf("after a second signature: %v", err)
	}
}
