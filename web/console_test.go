package web

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// testConsole is the shared machinery with one action per role, as the
// platform and institution consoles use it.
func testConsole(t *testing.T) (*httptest.Server, *Auth, *store.DB) {
	t.Helper()
	db := openSQLite(t)
	a, err := NewAuth(context.Background(), db, "platform")
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConsole(a, "测试控制台", Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.msgs = storeMessages{store.NewMessageLog(db)}
	c.nav = []NavItem{{"/", "首页", Viewer}, {"/messages", "报文日志", Viewer}, {"/users", "账号", Admin}}
	c.handle("GET /{$}", Viewer, func(w http.ResponseWriter, r *http.Request, s *Session) error {
		c.render(w, r, s, 200, "error", "首页", "home of "+s.Subject)
		return nil
	})
	c.handle("POST /act", Operator, func(w http.ResponseWriter, r *http.Request, s *Session) error {
		return c.act(w, r, s, "test.act", r.PostFormValue("target"), c.base+"/", func() (string, error) { return "done", nil })
	})
	for _, u := range []struct {
		name string
		role Role
	}{{"viewer", Viewer}, {"operator", Operator}, {"admin", Admin}} {
		if _, err := a.CreateUser(context.Background(), u.name, "", u.role, u.name+"-password"); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, a, db
}

// storeMessages is a service's message log for the machinery alone.
type storeMessages struct{ l *store.MessageLog }

func (m storeMessages) Messages(ctx context.Context, f store.LogFilter) ([]store.LogEntry, error) {
	return m.l.List(ctx, f)
}
func (m storeMessages) Message(ctx context.Context, id int64) (*store.LogEntry, error) {
	return m.l.Get(ctx, id)
}
func (m storeMessages) VerifyMessages(ctx context.Context) (*store.ChainBreak, error) {
	return m.l.VerifyChain(ctx)
}
func (m storeMessages) MessagePeers(ctx context.Context) ([]string, error) { return m.l.Peers(ctx) }

type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	s, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(s), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) login(user, pass string) string {
	b.t.Helper()
	code, _, h := b.do("POST", "/console/login", url.Values{"username": {user}, "password": {pass}})
	if code != http.StatusSeeOther {
		b.t.Fatalf("login %s: status %d", user, code)
	}
	_ = h
	_, page, _ := b.do("GET", "/console/", nil)
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on the home page: %s", page)
	}
	return m[1]
}

func TestConsoleAuth(t *testing.T) {
	srv, a, _ := testConsole(t)
	b := newBrowser(t, srv.URL)

	// Not logged in: pages redirect to the login, actions are refused.
	code, _, h := b.do("GET", "/console/messages?applyno=X", nil)
	if code != http.StatusSeeOther || h.Get("Location") != "/console/login?next=%2Fconsole%2Fmessages%3Fapplyno%3DX" {
		t.Fatalf("anonymous page: %d %s", code, h.Get("Location"))
	}
	if code, _, _ := b.do("POST", "/console/act", url.Values{}); code != http.StatusUnauthorized {
		t.Errorf("anonymous action: %d", code)
	}
	code, page, h := b.do("GET", "/console/login", nil)
	if code != 200 || !strings.Contains(page, "登录") || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("login page: %d %v", code, h)
	}
	if code, page, _ := b.do("POST", "/console/login", url.Values{"username": {"viewer"}, "password": {"nope-nope-nope"}}); code != 401 || !strings.Contains(page, "用户名或密码错误") {
		t.Errorf("wrong password: %d", code)
	}

	// The session cookie: HttpOnly, SameSite=Lax, named after the realm.
	code, _, h = b.do("POST", "/console/login", url.Values{"username": {"viewer"}, "password": {"viewer-password"}, "next": {"/console/messages"}})
	ck := h.Get("Set-Cookie")
	if code != 303 || h.Get("Location") != "/console/messages" || !strings.Contains(ck, "baohan_platform_session=") ||
		!strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") || strings.Contains(ck, "Secure") {
		t.Fatalf("login: %d %s %s", code, h.Get("Location"), ck)
	}
	// An open redirect is not followed.
	b2 := newBrowser(t, srv.URL)
	if _, _, h := b2.do("POST", "/console/login", url.Values{"username": {"viewer"}, "password": {"viewer-password"}, "next": {"//evil.example/"}}); h.Get("Location") != "/console/" {
		t.Errorf("next=//evil.example: redirected to %s", h.Get("Location"))
	}

	csrf := b.login("viewer", "viewer-password")
	if code, page, _ := b.do("GET", "/console/", nil); code != 200 || !strings.Contains(page, "home of viewer") || strings.Contains(page, "/console/users") {
		t.Errorf("viewer home: %d, nav shows admin pages: %v", code, strings.Contains(page, "/console/users"))
	}
	// Roles: a viewer may not act, nor manage users.
	if code, page, _ := b.do("POST", "/console/act", url.Values{"csrf": {csrf}}); code != 403 || !strings.Contains(page, "经办员") {
		t.Errorf("viewer acts: %d", code)
	}
	if code, _, _ := b.do("GET", "/console/users", nil); code != 403 {
		t.Errorf("viewer on users: %d", code)
	}

	ob := newBrowser(t, srv.URL)
	ocsrf := ob.login("operator", "operator-password")
	// CSRF: missing or wrong token is refused, right token passes.
	for _, tok := range []string{"", "x", csrf} {
		if code, _, _ := ob.do("POST", "/console/act", url.Values{"csrf": {tok}, "target": {"A1"}}); code != 403 {
			t.Errorf("token %q: %d", tok, code)
		}
	}
	if code, _, h := ob.do("POST", "/console/act", url.Values{"csrf": {ocsrf}, "target": {"A1"}}); code != 303 || h.Get("Location") != "/console/" {
		t.Errorf("operator acts: %d", code)
	}
	if code, _, _ := ob.do("POST", "/console/act", nil, "X-CSRF-Token", ocsrf, "Content-Type", "application/json"); code != 303 {
		t.Errorf("header token: %d", code)
	}
	// The outcome comes back once as a flash message.
	if _, page, _ := ob.do("GET", "/console/", nil); !strings.Contains(page, "done") {
		t.Error("no flash after the action")
	}
	if _, page, _ := ob.do("GET", "/console/", nil); strings.Contains(page, `class="flash`) {
		t.Error("the flash shows twice")
	}
	// Cross-site POSTs are refused before the token is even looked at.
	if code, _, _ := ob.do("POST", "/console/act", url.Values{"csrf": {ocsrf}}, "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("cross-site: %d", code)
	}

	// Admin: manage users; the audit log shows who did what.
	ab := newBrowser(t, srv.URL)
	acsrf := ab.login("admin", "admin-password")
	if code, _, _ := ab.do("POST", "/console/users", url.Values{"csrf": {acsrf}, "username": {"li"}, "role": {"operator"}, "password": {"li-password-1"}}); code != 303 {
		t.Errorf("create user: %d", code)
	}
	if code, _, _ := ab.do("POST", "/console/users/operator", url.Values{"csrf": {acsrf}, "role": {"viewer"}, "disabled": {"0"}}); code != 303 {
		t.Errorf("demote: %d", code)
	}
	// The demoted operator's session is gone.
	if code, _, _ := ob.do("POST", "/console/act", url.Values{"csrf": {ocsrf}}); code != 401 {
		t.Errorf("demoted operator acts: %d", code)
	}
	code, page, _ = ab.do("GET", "/console/audit?target=A1", nil)
	if code != 200 || !strings.Contains(page, "test.act") || !strings.Contains(page, "operator") {
		t.Errorf("audit page: %d", code)
	}
	entries, _ := a.AuditLog(context.Background(), AuditFilter{})
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action+"/"+e.Actor] = true
	}
	for _, want := range []string{"test.act/operator", "user.create/admin", "user.update/admin", "forbidden/viewer", "csrf/operator", "login/viewer"} {
		if !seen[want] {
			t.Errorf("audit log lacks %s", want)
		}
	}

	// Logout ends the session server-side.
	if code, _, _ := ab.do("POST", "/console/logout", url.Values{"csrf": {acsrf}}); code != 303 {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := ab.do("GET", "/console/users", nil); code != 303 {
		t.Errorf("after logout: %d", code)
	}
}

func TestMessagesPages(t *testing.T) {
	srv, _, db := testConsole(t)
	ctx := context.Background()
	log := store.NewMessageLog(db)
	// An uploaded chunk's body: above store.InlineBodyMax, kept out of
	// its row (message_log_bodies) and shown as the others.
	chunk := strings.Repeat("QUJD", 50000)
	for _, e := range []store.LogEntry{
		{Direction: "out", Interface: "baohanapply", Peer: "某银行", ApplyNo: "A1", Request: []byte(`{"applyno":"A1","sign":"abc"}`), Response: []byte(`{"code":1,"message":"ok","data":{"redirecturl":"https://fi/bidder/x"}}`), HTTPStatus: 200, Code: 1, SignOK: true},
		{Direction: "in", Interface: "baohannotice", Peer: "某银行", ApplyNo: "A1", Request: []byte(`{"applyno":"A1","sign":"bad"}`), Response: []byte(`{"code":0,"message":"sign mismatch","data":{}}`), HTTPStatus: 200, Code: 0, Diagnosis: "would match with &key= instead of &appsecret="},
		{Direction: "in", Interface: "uploadbaohanfile", Peer: "某银行", ApplyNo: "A2", Request: []byte(`{"baohanfile":"` + chunk + `"}`), Response: []byte(`{"code":1,"message":"ok","data":{}}`), HTTPStatus: 200, Code: 1, SignOK: true},
		{Direction: "in", Interface: "baohanrestore", Peer: "某银行", ApplyNo: "A3", Request: []byte(`{"applyno":"A3","key":"UFJPSkVDVEtFWTAwMDAwMQ==","sign":"abc"}`), Response: []byte(`{"code":1,"message":"ok","data":{}}`), HTTPStatus: 200, Code: 1, SignOK: true},
	} {
		e.At = time.Now()
		if err := log.Append(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	var kept int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM message_log_bodies`).Scan(&kept); err != nil || kept != 1 {
		t.Fatalf("bodies out of their rows: %d, %v; want the chunk's", kept, err)
	}
	b := newBrowser(t, srv.URL)
	csrf := b.login("operator", "operator-password")
	rows := regexp.MustCompile(`<tr>\s*<td data-label="#">`)
	for _, tc := range []struct {
		query string
		n     int
		has   string
	}{
		{"", 4, "uploadbaohanfile"},
		{"?applyno=A1", 2, "baohannotice"},
		{"?interface=baohannotice", 1, "&amp;key="},
		{"?result=failed", 1, "未通过"},
		{"?result=ok&direction=out", 1, "baohanapply"},
		{"?peer=%E6%9F%90%E9%93%B6%E8%A1%8C", 4, "某银行"},
		{"?peer=other", 0, "没有报文"},
	} {
		code, page, _ := b.do("GET", "/console/messages"+tc.query, nil)
		if n := len(rows.FindAllString(page, -1)); code != 200 || n != tc.n || !strings.Contains(page, tc.has) {
			t.Errorf("messages%s: status %d, %d rows (want %d), has %q: %v", tc.query, code, n, tc.n, tc.has, strings.Contains(page, tc.has))
		}
	}
	code, page, _ := b.do("GET", "/console/messages/3", nil)
	if code != 200 || !strings.Contains(page, "共 200000 字节") || strings.Contains(page, chunk) {
		t.Errorf("long chunk not clipped: %d", code)
	}
	code, page, _ = b.do("GET", "/console/messages/2", nil)
	if code != 200 || !strings.Contains(page, "sign mismatch") || !strings.Contains(page, "&amp;key=") || !strings.Contains(page, "未通过") {
		t.Errorf("message 2: %d", code)
	}
	code, body, h := b.do("GET", "/console/messages/3/request", nil)
	if code != 200 || !strings.Contains(body, chunk) || !strings.Contains(h.Get("Content-Disposition"), "3-request.json") {
		t.Errorf("raw body: %d", code)
	}
	// The project key a baohanrestore releases is shown and handed out hidden.
	for _, path := range []string{"/console/messages/4", "/console/messages/4/request"} {
		if code, body, _ := b.do("GET", path, nil); code != 200 || strings.Contains(body, "UFJPSkVDVEtFWTAwMDAwMQ") || !strings.Contains(body, protocol.Hidden) {
			t.Errorf("GET %s: %d, the restore key is not hidden", path, code)
		}
	}
	for _, path := range []string{"/console/messages/99", "/console/messages/99/request", "/console/messages/x3", "/console/messages/x3/response"} {
		if code, _, _ := b.do("GET", path, nil); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	if code, _, _ := b.do("GET", "/console/messages/3/headers", nil); code != 404 {
		t.Errorf("unknown part of a message: %d, want 404", code)
	}
	if code, _, _ := b.do("POST", "/console/messages/verify", url.Values{"csrf": {csrf}}); code != 303 {
		t.Errorf("verify: %d", code)
	}
	if _, page, _ := b.do("GET", "/console/messages", nil); !strings.Contains(page, "哈希链完整") {
		t.Error("verify chain: no success message")
	}
}

// TestConsolePostBodyLimit: a logged-in POST, form or JSON, is read to at
// most maxFormBody bytes before the action runs: past it 413 with a
// message that says the limit, and the action does not run.
func TestConsolePostBodyLimit(t *testing.T) {
	srv, a, _ := testConsole(t)
	b := newBrowser(t, srv.URL)
	csrf := b.login("operator", "operator-password")
	filler := func(n int) string { return strings.Repeat("x", n) }
	multipartBody := func(n int) (string, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("csrf", csrf)
		mw.WriteField("target", "multipart")
		fw, _ := mw.CreateFormFile("file", "big.bin")
		fw.Write([]byte(filler(n)))
		mw.Close()
		return buf.String(), mw.FormDataContentType()
	}
	post := func(body, ctype string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/console/act", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		page, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(page)
	}
	form := func(target string, n int) string {
		return url.Values{"csrf": {csrf}, "target": {target}, "note": {filler(n)}}.Encode()
	}
	big, bigType := multipartBody(maxFormBody)
	small, smallType := multipartBody(1 << 10)
	for _, tc := range []struct {
		name, body, ctype string
		hdr               []string
		status            int
	}{
		{"form under the limit", form("small-form", maxFormBody-1<<10), "application/x-www-form-urlencoded", nil, http.StatusSeeOther},
		{"form over the limit", form("big-form", maxFormBody), "application/x-www-form-urlencoded", nil, http.StatusRequestEntityTooLarge},
		{"form of 9 MiB", form("huge-form", 9<<20), "application/x-www-form-urlencoded", nil, http.StatusRequestEntityTooLarge},
		{"multipart under the limit", small, smallType, nil, http.StatusSeeOther},
		{"multipart over the limit", big, bigType, nil, http.StatusRequestEntityTooLarge},
		{"JSON over the limit", `{"target":"json","note":"` + filler(maxFormBody) + `"}`, "application/json", []string{"X-CSRF-Token", csrf}, http.StatusRequestEntityTooLarge},
		{"JSON under the limit", `{"note":"` + filler(1<<10) + `"}`, "application/json", []string{"X-CSRF-Token", csrf}, http.StatusSeeOther},
	} {
		code, page := post(tc.body, tc.ctype, tc.hdr...)
		if code != tc.status {
			t.Errorf("%s: HTTP %d, want %d", tc.name, code, tc.status)
		}
		if tc.status == http.StatusRequestEntityTooLarge && (!strings.Contains(page, "提交的内容过大") || !strings.Contains(page, "65536 bytes")) {
			t.Errorf("%s: the answer does not say the limit: %.300s", tc.name, page)
		}
		if strings.HasPrefix(tc.ctype, "application/json") && code == http.StatusRequestEntityTooLarge && !strings.Contains(page, `"error"`) {
			t.Errorf("%s: a JSON request gets no JSON answer: %.200s", tc.name, page)
		}
	}
	log, _ := a.AuditLog(context.Background(), AuditFilter{Action: "test.act"})
	targets := map[string]bool{}
	for _, e := range log {
		targets[e.Target] = true
	}
	if !targets["small-form"] || !targets["multipart"] || len(targets) != 3 {
		t.Errorf("the actions that ran: %v, want small-form, multipart and the JSON one (no target)", targets)
	}
}
