package bidderauth

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
)

func keyAndCert(t *testing.T) (*sm2.PrivateKey, *smx509.Certificate) {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "某某建设有限公司"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
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

func TestMessage(t *testing.T) {
	got := string(Message(InstitutionQuit, "https://fi.example.cn", "quit-0123456789abcdef"))
	want := "baohan-bidder-auth/1\npurpose=institution-quit\norigin=https://fi.example.cn\nchallenge=quit-0123456789abcdef"
	if got != want {
		t.Fatalf("Message = %q, want %q", got, want)
	}
}

// TestVerify: a signature holds for its purpose, origin and challenge
// only.
func TestVerify(t *testing.T) {
	key, cert := keyAndCert(t)
	const origin, ch = "https://ggzy.example.cn", "Zm9vYmFyYmF6cXV4cXV1eA"
	sig, err := gm.SM2Sign(key, Message(PlatformLogin, origin, ch))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(cert, PlatformLogin, origin, ch, sig); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	_, other := keyAndCert(t)
	for _, tc := range []struct {
		name    string
		cert    *smx509.Certificate
		p       Purpose
		origin  string
		ch      string
		wantErr string
	}{
		{"another purpose", cert, InstitutionQuit, origin, ch, "does not verify"},
		{"another purpose (give-up)", cert, InstitutionGiveUp, origin, ch, "does not verify"},
		{"another origin", cert, PlatformLogin, "https://fi.example.cn", ch, "does not verify"},
		{"another challenge", cert, PlatformLogin, origin, ch + "x", "does not verify"},
		{"another key", other, PlatformLogin, origin, ch, "does not verify"},
		{"unknown purpose", cert, Purpose("login"), origin, ch, "not one of"},
		{"no origin", cert, PlatformLogin, "", ch, "not a normalized origin"},
		{"origin not normalized", cert, PlatformLogin, "https://GGZY.example.cn/", ch, "not a normalized origin"},
		{"short challenge", cert, PlatformLogin, origin, "short", "challenge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.cert, tc.p, tc.origin, tc.ch, sig)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
	// The format before purposes ("baohan-login\n<origin>\n<challenge>")
	// is no message of this one.
	old, _ := gm.SM2Sign(key, []byte("baohan-login\n"+origin+"\n"+ch))
	for _, p := range Purposes() {
		if Verify(cert, p, origin, ch, old) == nil {
			t.Errorf("a signature of the old login message verified as %s", p)
		}
	}
}

func TestOrigins(t *testing.T) {
	for _, tc := range []struct{ in, norm, of string }{
		{"https://GGZY.example.cn", "https://ggzy.example.cn", "https://ggzy.example.cn"},
		{"https://ggzy.example.cn/", "https://ggzy.example.cn", "https://ggzy.example.cn"},
		{"https://ggzy.example.cn:443", "https://ggzy.example.cn", "https://ggzy.example.cn"},
		{"http://127.0.0.1:80", "http://127.0.0.1", "http://127.0.0.1"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://ggzy.example.cn:8443", "https://ggzy.example.cn:8443", "https://ggzy.example.cn:8443"},
		{"http://[::1]:17650", "http://[::1]:17650", "http://[::1]:17650"},
		{"https://ggzy.example.cn/baohan", "", "https://ggzy.example.cn"},
		{"https://ggzy.example.cn/?x", "", "https://ggzy.example.cn"},
		{"https://u@ggzy.example.cn", "", ""},
		{"ftp://ggzy.example.cn", "", ""},
		{"ggzy.example.cn", "", ""},
		{"*", "", ""},
		{"", "", ""},
		{"http://a\nb", "", ""},
	} {
		n, err := NormalizeOrigin(tc.in)
		if n != tc.norm || (err == nil) != (tc.norm != "") {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tc.in, n, err, tc.norm)
		}
		o, err := OriginOf(tc.in)
		if o != tc.of || (err == nil) != (tc.of != "") {
			t.Errorf("OriginOf(%q) = %q, %v; want %q", tc.in, o, err, tc.of)
		}
	}
}

func TestPurposes(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Purposes() {
		if q, err := ParsePurpose(string(p)); err != nil || q != p {
			t.Errorf("ParsePurpose(%q) = %q, %v", p, q, err)
		}
		if p.Describe() == "unknown purpose" || seen[p.Describe()] {
			t.Errorf("%s: description %q", p, p.Describe())
		}
		seen[p.Describe()] = true
	}
	for _, bad := range []string{"", "login", "PLATFORM-LOGIN", "platform-login\n"} {
		if _, err := ParsePurpose(bad); err == nil || !strings.Contains(err.Error(), "platform-login") {
			t.Errorf("ParsePurpose(%q): %v", bad, err)
		}
	}
}

func TestCheckChallenge(t *testing.T) {
	for _, tc := range []struct {
		c  string
		ok bool
	}{
		{"0123456789abcdef", true},
		{"quit-" + strings.Repeat("x", 43), true},
		{strings.Repeat("a", 256), true},
		{strings.Repeat("a", 257), false},
		{"0123456789abcde", false},
		{"has a space in it, sixteen+", false},
		{"0123456789abcdef\n", false},
		{"0123456789abcdef中", false},
	} {
		if err := CheckChallenge(tc.c); (err == nil) != tc.ok {
			t.Errorf("CheckChallenge(%q) = %v", tc.c, err)
		}
	}
}
