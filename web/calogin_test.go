package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
)

const loginBidderCode = "91110000MA01BIDD01"

// loginConsole is a platform console whose listen.public_url is publicURL,
// with one registered bidder.
func loginConsole(t *testing.T, publicURL string) (http.Handler, *testca.Identity) {
	t.Helper()
	svc, bidder := loginPlatform(t, publicURL)
	pc, err := Platform(context.Background(), svc, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return pc.Handler(svc.Handler()), bidder
}

// loginPlatform is a platform whose listen.public_url is publicURL, with
// one registered bidder.
func loginPlatform(t *testing.T, publicURL string) (*platform.Service, *testca.Identity) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(service.MasterKeyEnv, "000102030405060708090a0b0c0d0e0f")
	ca, err := testca.New("login test CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.cert.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	bidder, err := ca.Issue("某某建设工程有限公司", testca.Bidder, testca.WithCreditCode(loginBidderCode))
	if err != nil {
		t.Fatal(err)
	}
	cfg := platform.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true, PublicURL: publicURL},
			Storage:    config.Storage{DataDir: dir},
			TrustRoots: []string{caFile},
		},
		Institutions: []platform.Institution{{
			Peer:     config.Peer{Name: "bank", AppKey: "k", AppSecret: "s", BaseURL: "http://127.0.0.1:1", PlatformCode: "P1"},
			Products: []platform.Product{{Name: "保函", Rate: decimal.RequireFromString("0.005")}},
		}},
	}
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	svc, err := platform.New(ctx, cfg, platform.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.RegisterBidder(ctx, platform.BidderInput{Name: bidder.Name, CreditCode: loginBidderCode, CertPEM: string(bidder.CertPEM)}); err != nil {
		t.Fatal(err)
	}
	return svc, bidder
}

// loginBrowser talks to a console handler as a browser at host would,
// keeping the pre-session cookie.
type loginBrowser struct {
	t       *testing.T
	h       http.Handler
	host    string
	cookies []*http.Cookie
}

func (b *loginBrowser) do(method, path, origin string, body any) (int, map[string]string, *http.Response) {
	b.t.Helper()
	var r *http.Request
	if body != nil {
		j, _ := json.Marshal(body)
		r = httptest.NewRequest(method, "https://"+b.host+path, strings.NewReader(string(j)))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, "https://"+b.host+path, nil)
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
		// What a client other than a browser says: the console's
		// cross-origin check is no defence against it.
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	res := w.Result()
	b.cookies = append(b.cookies, res.Cookies()...)
	var m map[string]string
	json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m, res
}

// TestCALoginOrigin: the console checks a bidder's login signature
// against its own public origin (listen.public_url) and the platform-login
// purpose only, whatever origin the request names; without a public URL
// it refuses CA login and names the setting.
func TestCALoginOrigin(t *testing.T) {
	const platOrigin, instOrigin = "https://ggzy.example.cn", "https://fi.example.cn"
	h, bidder := loginConsole(t, "https://GGZY.example.cn:443/")
	sign := func(p bidderauth.Purpose, origin, ch string) string {
		s, err := gm.SM2Sign(bidder.Key, bidderauth.Message(p, origin, ch))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(s)
	}
	for _, tc := range []struct {
		name          string
		purpose       bidderauth.Purpose
		signedOrigin  string // what the agent put in the message (the asking page's origin)
		requestOrigin string // the login request's Origin header
		status        int
		want          string
	}{
		{"signed for the console, sent from it", bidderauth.PlatformLogin, platOrigin, platOrigin, 200, ""},
		{"signed at an institution, sent with its Origin", bidderauth.PlatformLogin, instOrigin, instOrigin, 403, "不是平台控制台的地址"},
		{"signed at an institution, sent with the console's Origin", bidderauth.PlatformLogin, instOrigin, platOrigin, 401, "签名验证失败"},
		{"signed for withdrawing at the institution", bidderauth.InstitutionQuit, platOrigin, platOrigin, 401, "签名验证失败"},
		{"signed for giving up at the institution", bidderauth.InstitutionGiveUp, platOrigin, platOrigin, 401, "签名验证失败"},
		{"no Origin", bidderauth.PlatformLogin, platOrigin, "", 400, "Origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &loginBrowser{t: t, h: h, host: "ggzy.example.cn"}
			b.do("GET", "/console/login", "", nil)
			code, m, _ := b.do("POST", "/console/login/challenge", platOrigin, struct{}{})
			if code != 200 || m["purpose"] != "platform-login" || m["origin"] != platOrigin {
				t.Fatalf("challenge: %d %v", code, m)
			}
			ch := m["challenge"]
			code, m, res := b.do("POST", "/console/login/ca", tc.requestOrigin,
				CALoginRequest{Challenge: ch, Signature: sign(tc.purpose, tc.signedOrigin, ch), Cert: string(bidder.CertPEM)})
			if code != tc.status || !strings.Contains(m["error"], tc.want) {
				t.Fatalf("login: %d %v, want %d mentioning %q", code, m, tc.status, tc.want)
			}
			var session bool
			for _, c := range res.Cookies() {
				session = session || (c.Name == "baohan_platform_session" && c.Value != "")
			}
			if session != (tc.status == 200) {
				t.Errorf("session cookie set: %v (cookies %v)", session, res.Cookies())
			}
			want := http.StatusSeeOther // to the login page
			if tc.status == 200 {
				want = 200
			}
			if code, _, _ := b.do("GET", "/console/bidder", "", nil); code != want {
				t.Errorf("the bidder portal after the login: %d, want %d", code, want)
			}
		})
	}

	t.Run("a public URL that is no URL", func(t *testing.T) {
		svc, _ := loginPlatform(t, "ggzy.example.cn")
		if _, err := Platform(context.Background(), svc, Options{Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "listen.public_url") {
			t.Fatalf("Platform with public_url \"ggzy.example.cn\": %v", err)
		}
	})

	t.Run("no public URL", func(t *testing.T) {
		h, bidder := loginConsole(t, "")
		b := &loginBrowser{t: t, h: h, host: "127.0.0.1:8080"}
		b.do("GET", "/console/login", "", nil)
		code, m, _ := b.do("POST", "/console/login/challenge", "http://127.0.0.1:8080", struct{}{})
		if code != http.StatusServiceUnavailable || !strings.Contains(m["error"], "listen.public_url") {
			t.Fatalf("challenge: %d %v, want 503 naming listen.public_url", code, m)
		}
		s, _ := gm.SM2Sign(bidder.Key, bidderauth.Message(bidderauth.PlatformLogin, "http://127.0.0.1:8080", "0123456789abcdef0123"))
		code, m, _ = b.do("POST", "/console/login/ca", "http://127.0.0.1:8080",
			CALoginRequest{Challenge: "0123456789abcdef0123", Signature: base64.StdEncoding.EncodeToString(s), Cert: string(bidder.CertPEM)})
		if code != http.StatusServiceUnavailable || !strings.Contains(m["error"], "listen.public_url") {
			t.Fatalf("login: %d %v, want 503 naming listen.public_url", code, m)
		}
	})
}
