package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/web/caagent"
)

// These tests need no browser: they speak HTTP to the consoles as a
// browser would (cookies, Origin, CSRF tokens) and check what the pages
// refuse.

type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) req(method, path, ctype string, body []byte) (int, string) {
	c.t.Helper()
	r, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.Header.Set("Origin", c.base)
	resp, err := c.hc.Do(r)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(b)
}

func (c *client) get(path string) (int, string) { return c.req("GET", path, "", nil) }

func (c *client) form(path string, v url.Values) (int, string) {
	return c.req("POST", path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}

func (c *client) json(path string, v any) (int, map[string]string) {
	b, _ := json.Marshal(v)
	code, body := c.req("POST", path, "application/json", b)
	var m map[string]string
	json.Unmarshal([]byte(body), &m)
	return code, m
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) csrf(path string) string {
	c.t.Helper()
	_, page := c.get(path)
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

// agentSign asks the CA agent to sign a challenge for a platform login
// as a page of origin would.
func agentSign(t *testing.T, st *harness.System, origin, challenge string) caagent.ChallengeResponse {
	t.Helper()
	return agentSignFor(t, st, origin, challenge, bidderauth.PlatformLogin)
}

// agentSignFor asks the CA agent to sign a challenge for purpose as a page
// of origin would.
func agentSignFor(t *testing.T, st *harness.System, origin, challenge string, purpose bidderauth.Purpose) caagent.ChallengeResponse {
	t.Helper()
	b, _ := json.Marshal(caagent.ChallengeRequest{Challenge: challenge, Purpose: string(purpose)})
	r, _ := http.NewRequest("POST", st.AgentURL+"/v1/challenge", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out caagent.ChallengeResponse
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("agent: HTTP %d", resp.StatusCode)
	}
	return out
}

// challenge opens the login page (pre-session cookie) and gets a challenge.
func (c *client) challenge() string {
	c.t.Helper()
	c.get("/console/login")
	code, m := c.json("/console/login/challenge", struct{}{})
	if code != 200 || m["challenge"] == "" || m["purpose"] != string(bidderauth.PlatformLogin) || m["origin"] != c.base {
		c.t.Fatalf("challenge: %d %v", code, m)
	}
	return m["challenge"]
}

func TestCALogin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts both services (-short)")
	}
	st := start(t)
	ctx := context.Background()

	// The happy path: the agent's signature for this origin.
	c := newClient(t, st.PlatformURL())
	ch := c.challenge()
	sig := agentSign(t, st, st.PlatformURL(), ch)
	code, m := c.json("/console/login/ca", map[string]string{"challenge": ch, "signature": sig.Signature, "cert": sig.Cert})
	if code != 200 || m["next"] != "/console/bidder" {
		t.Fatalf("CA login: %d %v", code, m)
	}
	if code, page := c.get("/console/bidder"); code != 200 || !strings.Contains(page, BidderName) {
		t.Fatalf("bidder home: %d", code)
	}
	// A bidder is not staff.
	for _, p := range []string{"/console/", "/console/applications", "/console/messages", "/console/users"} {
		if code, _ := c.get(p); code != http.StatusForbidden {
			t.Errorf("bidder GET %s: %d, want 403", p, code)
		}
	}

	// Refusals.
	other, err := testcaIssue(st, "另一家建设有限公司", "91110000MA01BDD027")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(c *client) (string, string, string) // challenge, signature, cert
		want string
	}{
		{"signed for another origin", func(c *client) (string, string, string) {
			ch := c.challenge()
			s := agentSign(t, st, st.InstitutionURL(), ch)
			return ch, s.Signature, s.Cert
		}, "签名验证失败"},
		{"signed for another purpose", func(c *client) (string, string, string) {
			ch := c.challenge()
			s := agentSignFor(t, st, st.PlatformURL(), ch, bidderauth.InstitutionQuit)
			return ch, s.Signature, s.Cert
		}, "签名验证失败"},
		{"replayed challenge", func(c *client) (string, string, string) {
			ch := c.challenge()
			s := agentSign(t, st, st.PlatformURL(), ch)
			c.json("/console/login/ca", map[string]string{"challenge": ch, "signature": s.Signature, "cert": s.Cert})
			return ch, s.Signature, s.Cert
		}, "登录挑战无效"},
		{"challenge of another browser", func(c *client) (string, string, string) {
			ch := newClient(t, st.PlatformURL()).challenge()
			c.get("/console/login")
			s := agentSign(t, st, st.PlatformURL(), ch)
			return ch, s.Signature, s.Cert
		}, "登录挑战无效"},
		{"unregistered bidder", func(c *client) (string, string, string) {
			ch := c.challenge()
			s, _ := gm.SM2Sign(other.Key, bidderauth.Message(bidderauth.PlatformLogin, st.PlatformURL(), ch))
			return ch, base64.StdEncoding.EncodeToString(s), string(other.CertPEM)
		}, "未在平台登记"},
		{"not the registered certificate", func(c *client) (string, string, string) {
			ch := c.challenge()
			twin, err := testcaIssue(st, BidderName, BidderCode)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := gm.SM2Sign(twin.Key, bidderauth.Message(bidderauth.PlatformLogin, st.PlatformURL(), ch))
			return ch, base64.StdEncoding.EncodeToString(s), string(twin.CertPEM)
		}, "不是该投标人在平台登记的证书"},
		{"signature by another key", func(c *client) (string, string, string) {
			ch := c.challenge()
			s, _ := gm.SM2Sign(other.Key, bidderauth.Message(bidderauth.PlatformLogin, st.PlatformURL(), ch))
			return ch, base64.StdEncoding.EncodeToString(s), string(st.PKI.Bidder.CertPEM)
		}, "签名验证失败"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, st.PlatformURL())
			ch, s, cert := tc.fn(c)
			code, m := c.json("/console/login/ca", map[string]string{"challenge": ch, "signature": s, "cert": cert})
			if code != http.StatusUnauthorized || !strings.Contains(m["error"], tc.want) {
				t.Fatalf("%d %v, want 401 mentioning %q", code, m, tc.want)
			}
			if code, _ := c.get("/console/bidder"); tc.name != "replayed challenge" && code != http.StatusSeeOther {
				t.Errorf("after a refused login the bidder pages answer %d", code)
			}
		})
	}
	audit, _ := st.PlatformConsole.Auth().AuditLog(ctx, webAuditFilter("login"))
	var failed int
	for _, e := range audit {
		if !e.OK {
			failed++
		}
	}
	if failed < 6 {
		t.Errorf("%d failed logins audited, want at least 6", failed)
	}
}

func TestConsolesEnforceRolesAndOwnership(t *testing.T) {
	if testing.Short() {
		t.Skip("starts both services (-short)")
	}
	st := start(t)
	ctx := context.Background()
	a, err := st.Plat.Apply(ctx, platform.ApplyInput{SectionNo: SectionNo, BidderCode: BidderCode, Institution: InstitutionName, Product: Product})
	if err != nil {
		t.Fatal(err)
	}

	// Another registered bidder cannot see the application.
	other, err := testcaIssue(st, "另一家建设有限公司", "91110000MA01BDD027")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Plat.RegisterBidder(ctx, platform.BidderInput{Name: "另一家建设有限公司", CreditCode: "91110000MA01BDD027", CertPEM: string(other.CertPEM)}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, st.PlatformURL())
	ch := c.challenge()
	s, _ := gm.SM2Sign(other.Key, bidderauth.Message(bidderauth.PlatformLogin, st.PlatformURL(), ch))
	if code, m := c.json("/console/login/ca", map[string]string{"challenge": ch, "signature": base64.StdEncoding.EncodeToString(s), "cert": string(other.CertPEM)}); code != 200 {
		t.Fatalf("second bidder login: %d %v", code, m)
	}
	csrf := c.csrf("/console/bidder")
	if code, _ := c.get("/console/bidder/applications/" + a.ApplyNo); code != http.StatusNotFound {
		t.Errorf("another bidder's application: %d, want 404", code)
	}
	if code, _ := c.form("/console/bidder/applications/"+a.ApplyNo+"/giveup", url.Values{"csrf": {csrf}}); code != http.StatusNotFound {
		t.Errorf("giving up another bidder's application: %d, want 404", code)
	}
	if code, _ := c.form("/console/bidder/apply", url.Values{"section": {SectionNo}, "product": {"0/0"}}); code != http.StatusForbidden {
		t.Errorf("apply without CSRF token: %d, want 403", code)
	}

	// Platform staff: a viewer reads but does not act.
	v := newClient(t, st.PlatformURL())
	if code, loc := v.form("/console/login", url.Values{"username": {"viewer"}, "password": {account(st, "platform", "viewer")}}); code != 303 || loc != "/console/" {
		t.Fatalf("viewer login: %d %s", code, loc)
	}
	vcsrf := v.csrf("/console/applications/" + a.ApplyNo)
	for _, p := range []string{"/cancel", "/claim", "/restore"} {
		if code, _ := v.form("/console/applications/"+a.ApplyNo+p, url.Values{"csrf": {vcsrf}}); code != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", p, code)
		}
	}
	if code, _ := v.form("/console/sections/"+SectionNo+"/postpone", url.Values{"csrf": {vcsrf}, "kaibiaotime": {"2030-01-01T09:00"}}); code != http.StatusForbidden {
		t.Errorf("viewer postpones: %d", code)
	}
	if code, _ := v.get("/console/bidder"); code != http.StatusForbidden {
		t.Errorf("staff on the bidder portal: %d", code)
	}

	// An operator postpones the bid opening; the audit log has it.
	o := newClient(t, st.PlatformURL())
	o.form("/console/login", url.Values{"username": {"operator"}, "password": {account(st, "platform", "operator")}})
	ocsrf := o.csrf("/console/sections")
	if code, loc := o.form("/console/sections/"+SectionNo+"/postpone", url.Values{"csrf": {ocsrf}, "kaibiaotime": {"2030-01-01T09:00"}, "reason": {"答疑延期"}}); code != 303 || loc != "/console/sections" {
		t.Fatalf("postpone: %d %s", code, loc)
	}
	if _, page := o.get("/console/sections"); !strings.Contains(page, "2030-01-01 09:00:00") {
		t.Error("the new bid opening is not shown")
	}
	entries, _ := st.PlatformConsole.Auth().AuditLog(ctx, webAuditFilter("section.postpone"))
	if len(entries) != 1 || entries[0].Actor != "operator" || entries[0].Target != SectionNo || !entries[0].OK {
		t.Errorf("audit of the postponement: %+v", entries)
	}

	// Institution: a viewer cannot approve; the bidder page is public by
	// token only, and a wrong token is 404.
	iv := newClient(t, st.InstitutionURL())
	iv.form("/console/login", url.Values{"username": {"viewer"}, "password": {account(st, "institution", "viewer")}})
	icsrf := iv.csrf("/console/")
	if code, _ := iv.form("/console/applications/x/approve", url.Values{"csrf": {icsrf}}); code != http.StatusForbidden {
		t.Errorf("institution viewer approves: %d", code)
	}
	r, _ := http.NewRequest("GET", st.InstitutionURL()+"/bidder/not-a-token", nil)
	r.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("unknown bidder token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func testcaIssue(st *harness.System, name, code string) (*testca.Identity, error) {
	return st.PKI.CA.Issue(name, testca.Bidder, testca.WithCreditCode(code))
}
