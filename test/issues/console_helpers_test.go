package issues

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/web"
)

// The consoles in front of the stack's services, over real HTTP at their
// doors, and staff members logged in to them as a browser would be
// (cookies, CSRF tokens).

// platformConsole serves the platform's console at the platform's door.
func platformConsole(t *testing.T, s *harness.System) *web.PlatformConsole {
	t.Helper()
	pc, err := web.Platform(context.Background(), s.Plat, web.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.PlatDoor.Set(pc.Handler(s.Plat.Handler()))
	return pc
}

// institutionConsole serves the institution's console at its door.
func institutionConsole(t *testing.T, s *harness.System) *web.InstitutionConsole {
	t.Helper()
	ic, err := web.Institution(context.Background(), s.Inst, web.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.InstDoor.Set(ic.Handler(s.Inst.Handler()))
	return ic
}

// staff is a staff member logged in to a console.
type staff struct {
	t    *testing.T
	base string // the door's URL
	hc   *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// staffLogin creates an account of role on the console's Auth and logs
// in with it through the login form.
func staffLogin(t *testing.T, auth *web.Auth, base, user string, role web.Role) *staff {
	t.Helper()
	pw := "pw-" + user + "-0123456789abcdef"
	if _, err := auth.CreateUser(context.Background(), user, "", role, pw); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	st := &staff{t: t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	st.get("/console/login")
	if code, _ := st.post("/console/login", url.Values{"username": {user}, "password": {pw}}); code != http.StatusSeeOther {
		t.Fatalf("login %s: HTTP %d", user, code)
	}
	_, page := st.get("/console/")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("%s: no CSRF token on the console's home page", user)
	}
	st.csrf = m[1]
	return st
}

func (st *staff) do(method, path string, form url.Values) (int, string) {
	st.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, st.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", st.base)
	}
	res, err := st.hc.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (st *staff) get(path string) (int, string) { return st.do("GET", path, nil) }

func (st *staff) post(path string, form url.Values) (int, string) { return st.do("POST", path, form) }

// act posts a console form with the CSRF token and returns the HTTP
// status and the flash message the page shows after the redirect.
func (st *staff) act(path string, form url.Values) (int, string) {
	st.t.Helper()
	form.Set("csrf", st.csrf)
	code, body := st.post(path, form)
	if code != http.StatusSeeOther {
		return code, body
	}
	_, page := st.get("/console/")
	if m := flashRE.FindStringSubmatch(page); m != nil {
		return code, html.UnescapeString(m[1])
	}
	return code, ""
}

var flashRE = regexp.MustCompile(`<div class="flash [a-z]+" role="status">([^<]*)</div>`)
