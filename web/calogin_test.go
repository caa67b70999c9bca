package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

const loginBidderCode = "91110000MA01BDD014"

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
	ca, err := testca.New("login test CA")
	if err != nil {
		t.Fatal(err)
	}
	return loginPlatformOn(t, publicURL, "", ca)
}

// loginPlatformOn is loginPlatform on the database dbURL ("": SQLite in a
// fresh data directory), its bidder's certificate issued by ca; every
// such platform has the same master key.
func loginPlatformOn(t *testing.T, publicURL, dbURL string, ca *testca.CA) (*platform.Service, *testca.Identity) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(service.MasterKeyEnv, "000102030405060708090a0b0c0d0e0f")
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
			Storage:    config.Storage{DB: dbURL, DataDir: dir},
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
	addr    string // the client's address:port (default httptest's 192.0.2.1:1234)
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
	if b.addr != "" {
		r.RemoteAddr = b.addr
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

// TestCALoginThrottled: the CA login and the challenge it signs draw on
// the client address's login budget, as a password login does: past the
// burst both answer 429 with Retry-After, the run of refusals is audited
// once, another address is not concerned, and a login that succeeds gives
// back its attempts (its own and its challenge's).
func TestCALoginThrottled(t *testing.T) {
	const origin = "https://ggzy.example.cn"
	svc, bidder := loginPlatform(t, origin)
	now := time.Now()
	pc, err := Platform(context.Background(), svc, Options{Logger: slog.New(slog.DiscardHandler)}, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	h := pc.Handler(svc.Handler())
	browser := func(addr string) *loginBrowser {
		b := &loginBrowser{t: t, h: h, host: "ggzy.example.cn", addr: addr}
		b.do("GET", "/console/login", "", nil)
		return b
	}
	login := func(b *loginBrowser) int {
		t.Helper()
		code, m, _ := b.do("POST", "/console/login/challenge", origin, struct{}{})
		if code != 200 {
			t.Fatalf("challenge: %d %v", code, m)
		}
		s, err := gm.SM2Sign(bidder.Key, bidderauth.Message(bidderauth.PlatformLogin, origin, m["challenge"]))
		if err != nil {
			t.Fatal(err)
		}
		code, _, _ = b.do("POST", "/console/login/ca", origin,
			CALoginRequest{Challenge: m["challenge"], Signature: base64.StdEncoding.EncodeToString(s), Cert: string(bidder.CertPEM)})
		return code
	}
	b := browser("198.51.100.7:4000")
	for range 2 * DefaultLoginBurst { // they give their attempts back
		if code := login(b); code != 200 {
			t.Fatalf("login: %d", code)
		}
	}
	for i := range DefaultLoginBurst {
		path, body, want := "/console/login/challenge", any(struct{}{}), 200
		if i%2 == 1 {
			path, body, want = "/console/login/ca", any(CALoginRequest{Challenge: "guess"}), http.StatusUnauthorized
		}
		if code, m, _ := b.do("POST", path, origin, body); code != want {
			t.Fatalf("try %d within the burst, %s: %d %v, want %d", i+1, path, code, m, want)
		}
	}
	for _, path := range []string{"/console/login/challenge", "/console/login/ca", "/console/login/challenge"} {
		code, m, res := b.do("POST", path, origin, CALoginRequest{Challenge: "guess"})
		if code != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "6" || !strings.Contains(m["error"], "登录尝试过于频繁") {
			t.Errorf("%s past the burst: %d %v (Retry-After %q), want 429", path, code, m, res.Header.Get("Retry-After"))
		}
	}
	if code := login(browser("203.0.113.9:4000")); code != 200 {
		t.Errorf("another address: login %d", code)
	}
	log, err := pc.Auth().AuditLog(context.Background(), AuditFilter{Action: "login", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	throttled := 0
	for _, e := range log {
		if strings.HasPrefix(e.Detail, "throttled") {
			throttled++
			if e.IP != "198.51.100.7" || e.Role != Bidder {
				t.Errorf("throttled: audited %+v", e)
			}
		}
	}
	if throttled != 1 {
		t.Errorf("%d audit rows for a run of 3 throttled tries, want 1", throttled)
	}
}

// TestCALoginChallengeAcrossReplicas: two platform processes on one
// PostgreSQL database, one master key, a browser logging in over HTTP.
// Asking for challenges writes no row; a challenge of one process serves
// at the other (its key is derived from the master key); a try that
// fails (a signature by another key) does not use it up; the accepted
// login records it, and the same login again is refused at both; another
// browser cannot use a browser's challenge, and an expired one is refused.
func TestCALoginChallengeAcrossReplicas(t *testing.T) {
	const origin = "https://ggzy.example.cn"
	ca, err := testca.New("login test CA")
	if err != nil {
		t.Fatal(err)
	}
	dbURL := storetest.FreshSchema(t)
	now := time.Now()
	clock := func() time.Time { return now }
	var consoles [2]http.Handler
	var bidder *testca.Identity
	var db *store.DB
	for i := range consoles {
		svc, b := loginPlatformOn(t, origin, dbURL, ca) // the last bidder certificate registered is b's
		pc, err := Platform(context.Background(), svc, Options{Logger: slog.New(slog.DiscardHandler)},
			WithClock(clock), WithLoginThrottle(1000, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		consoles[i], bidder, db = pc.Handler(svc.Handler()), b, svc.DB()
	}
	rows := func() string {
		t.Helper()
		var out []string
		for _, table := range []string{"web_used_challenges", "web_sessions", "web_audit", "web_devices"} {
			var n int
			if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d", table, n))
		}
		return strings.Join(out, ", ")
	}
	browser := func() *loginBrowser {
		b := &loginBrowser{t: t, h: consoles[0], host: "ggzy.example.cn"}
		b.do("GET", "/console/login", "", nil)
		return b
	}
	challenge := func(b *loginBrowser) string {
		t.Helper()
		code, m, _ := b.do("POST", "/console/login/challenge", origin, struct{}{})
		if code != 200 {
			t.Fatalf("challenge: %d %v", code, m)
		}
		return m["challenge"]
	}
	login := func(b *loginBrowser, at int, ch string, key *testca.Identity) (int, string) {
		t.Helper()
		s, err := gm.SM2Sign(key.Key, bidderauth.Message(bidderauth.PlatformLogin, origin, ch))
		if err != nil {
			t.Fatal(err)
		}
		b.h = consoles[at]
		code, m, _ := b.do("POST", "/console/login/ca", origin,
			CALoginRequest{Challenge: ch, Signature: base64.StdEncoding.EncodeToString(s), Cert: string(bidder.CertPEM)})
		return code, m["error"]
	}

	b := browser()
	before := rows()
	for i := range 200 {
		b.addr = fmt.Sprintf("198.51.100.%d:4000", i%250)
		challenge(b)
	}
	b.addr = ""
	if after := rows(); after != before {
		t.Fatalf("200 challenges wrote rows: before %s; after %s", before, after)
	}

	other, err := ca.Issue("另一建设有限公司", testca.Bidder)
	if err != nil {
		t.Fatal(err)
	}
	ch := challenge(b) // of the first process
	if code, msg := login(b, 1, ch, other); code != http.StatusUnauthorized || !strings.Contains(msg, "签名验证失败") {
		t.Fatalf("a signature by another key: %d %q", code, msg)
	}
	if code, msg := login(b, 1, ch, bidder); code != 200 {
		t.Fatalf("login at the second process with the first's challenge, after a failed try: %d %q", code, msg)
	}
	for at := range consoles {
		if code, msg := login(b, at, ch, bidder); code != http.StatusUnauthorized || !strings.Contains(msg, "already used") {
			t.Errorf("the same login again at process %d: %d %q, want 401 naming the used challenge", at+1, code, msg)
		}
	}
	if code, msg := login(browser(), 0, challenge(b), bidder); code != http.StatusUnauthorized || !strings.Contains(msg, "not issued by this service for this browser") {
		t.Errorf("another browser with this browser's challenge: %d %q", code, msg)
	}
	old := challenge(b)
	now = now.Add(5 * time.Minute)
	if code, msg := login(b, 1, old, bidder); code != http.StatusUnauthorized || !strings.Contains(msg, "expired") {
		t.Errorf("an expired challenge: %d %q", code, msg)
	}
	var used int
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM web_used_challenges").Scan(&used); err != nil || used != 1 {
		t.Errorf("%d used challenges recorded (%v), want 1", used, err)
	}
}
