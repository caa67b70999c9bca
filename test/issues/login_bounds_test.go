package issues

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
	"github.com/baohan-dev/baohan/web"
)

// What an outsider could still do to the consoles and the services after
// the login was throttled and hashing bounded (issue 13):
// the bidder's CA login and its POST /login/challenge went around the
// per-address throttle, and every challenge asked for was a database row,
// as was every refused CA login's audit entry; the redirecturl's
// /challenge made rows without bound too; a locked account answered
// "locked" (and at once) where an unknown one answered "wrong username or
// password" (after a hash); logged-in console forms had no body limit;
// the platform labelled a request metric with whatever path was posted
// to, and neither service counted what the unauthenticated budget drops.
// Bounding the challenges' rows (3 per browser, 10 000 per console, 5 per
// application) then left a denial of service: whoever filled the bound
// (from many addresses, or holding a redirecturl) blocked the CA login of
// new browsers, or the bidder's quit and give-up, for minutes at a time.
// Challenges are now stateless: asking for one writes nothing.

// countRows counts the rows of table.
func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// tableRows counts the rows of every table of db's schema but those
// named in except.
func tableRows(t *testing.T, db *store.DB, except ...string) map[string]int {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialect.String() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int{}
	for _, n := range names {
		if !slices.Contains(except, n) {
			out[n] = countRows(t, db, `"`+n+`"`)
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d tables: %v", len(out), out)
	}
	return out
}

// grown names the tables with more or fewer rows after than before.
func grown(before, after map[string]int) string {
	var d []string
	for k, v := range after {
		if before[k] != v {
			d = append(d, fmt.Sprintf("%s %d→%d", k, before[k], v))
		}
	}
	sort.Strings(d)
	return strings.Join(d, ", ")
}

// onBothDatabases runs fn with the stack's options for SQLite and for
// PostgreSQL.
func onBothDatabases(t *testing.T, fn func(t *testing.T, o []harness.Option)) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			o := []harness.Option{harness.Quiet()}
			if db == "postgres" {
				o = append(o, harness.WithPlatformDB(storetest.FreshSchema(t)))
				o = append(o, harness.WithInstitutionDB(storetest.FreshSchema(t)))
			}
			fn(t, o)
		})
	}
}

// TestCALoginFloodBounded: 60 challenges (each with a fresh pre-session
// cookie, as a script would) and 60 forged CA logins from one address:
// past the login throttle's burst they are refused with 429; the
// challenges write nothing at all (not one row in any table), and the
// forged logins nothing but their audit entries, one for each that got
// past the throttle and one for the run of refusals.
func TestCALoginFloodBounded(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, o []harness.Option) {
		s := harness.Start(t, o...)
		platformConsole(t, s)
		db := s.Plat.DB()
		before := tableRows(t, db, "web_audit", "web_audit_head")
		audit0 := countRows(t, db, "web_audit")
		post := func(path, body string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("POST", s.PlatDoor.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", s.PlatDoor.URL)
			pre := make([]byte, 24)
			rand.Read(pre)
			req.AddCookie(&http.Cookie{Name: "baohan_platform_pre", Value: hex.EncodeToString(pre)})
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode, res.Header.Get("Retry-After")
		}
		const n = 60
		start := time.Now()
		throttled, challenges, logins := 0, 0, 0
		for range n {
			for _, p := range []struct{ path, body string }{
				{"/console/login/challenge", `{}`},
				{"/console/login/ca", `{"challenge":"guess","signature":"AAAA","cert":"x"}`},
			} {
				code, retry := post(p.path, p.body)
				switch {
				case code == http.StatusTooManyRequests:
					throttled++
					if retry == "" {
						t.Errorf("%s: 429 without Retry-After", p.path)
					}
				case p.path == "/console/login/challenge" && code == http.StatusOK:
					challenges++
				case p.path == "/console/login/ca":
					logins++
				}
			}
		}
		// What the throttle allows: its burst, and one more per interval.
		allowed := web.DefaultLoginBurst + int(time.Since(start)/web.DefaultLoginInterval) + 1
		if throttled < 2*n-allowed || challenges == 0 {
			t.Errorf("%d of %d CA login requests from one address throttled, want at least %d; %d challenges issued, want some", throttled, 2*n, 2*n-allowed, challenges)
		}
		if d := grown(before, tableRows(t, db, "web_audit", "web_audit_head")); d != "" {
			t.Errorf("%d challenges and %d refused CA logins wrote rows: %s; want none", challenges, logins, d)
		}
		if a := countRows(t, db, "web_audit") - audit0; a > logins+1 {
			t.Errorf("%d audit entries written for %d refused CA logins past the throttle, want at most %d (one each, one for the run of refusals)", a, logins, logins+1)
		}
	})
}

// TestBidderChallengeFloodBounded: whoever holds a redirecturl (a
// platform console viewer, say) asks its /challenge 30 times: each gets a
// challenge, and the institution writes nothing at all (a bound on stored
// challenges would let the asker keep the bidder from its own).
func TestBidderChallengeFloodBounded(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, o []harness.Option) {
		s := harness.Start(t, o...)
		token := s.Token(s.Apply(s.Section(time.Hour).No), 30*time.Second)
		before := tableRows(t, s.Inst.DB())
		served := 0
		for range 30 {
			res, err := http.Post(s.InstDoor.URL+"/bidder/"+token+"/challenge", "application/json", strings.NewReader(`{"action":"quit"}`))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				served++
			}
		}
		if d := grown(before, tableRows(t, s.Inst.DB())); d != "" || served != 30 {
			t.Errorf("30 challenge requests for one application: %d served, rows written: %q; want all served and no row", served, d)
		}
	})
}

// TestLockedAccountLooksUnknown: the console's answer to a login for a
// locked account, even with its right password, is the very answer for
// an account that does not exist.
func TestLockedAccountLooksUnknown(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	ic := institutionConsole(t, s)
	if _, err := ic.Auth().CreateUser(context.Background(), "zhang", "", web.Operator, "zhang-password-1"); err != nil {
		t.Fatal(err)
	}
	login := func(user, pass string) (int, string) {
		t.Helper()
		res, err := http.PostForm(s.InstDoor.URL+"/console/login", url.Values{"username": {user}, "password": {pass}})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		// The form echoes the username back; nothing else may differ.
		return res.StatusCode, strings.ReplaceAll(string(b), `value="`+user+`"`, `value=""`)
	}
	for range web.DefaultLockout {
		login("zhang", "wrong-password")
	}
	unknownCode, unknownPage := login("nobody", "zhang-password-1")
	for _, pass := range []string{"zhang-password-1", "wrong-password"} {
		code, page := login("zhang", pass)
		if code != unknownCode || page != unknownPage {
			t.Errorf("the locked account, password %q: HTTP %d %q; an unknown account: HTTP %d %q",
				pass, code, errorText(page), unknownCode, errorText(unknownPage))
		}
	}
	if _, _, err := ic.Auth().Login(context.Background(), "zhang", "zhang-password-1", "203.0.113.1"); err == nil {
		t.Fatal("the account is not locked")
	}
}

var errorTextRE = regexp.MustCompile(`role="alert">([^<]*)<`)

func errorText(page string) string {
	if m := errorTextRE.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// TestConsolePostBodyLimited: a logged-in form of 2 MiB is refused with
// 413 and a message naming the limit, before the action runs.
func TestConsolePostBodyLimited(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	pc := platformConsole(t, s)
	st := staffLogin(t, pc.Auth(), s.PlatDoor.URL, "li", web.Viewer)
	code, page := st.post("/console/password", url.Values{"csrf": {st.csrf}, "current": {strings.Repeat("x", 2<<20)}, "new": {"new-password-1"}, "repeat": {"new-password-1"}})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "提交的内容过大") {
		t.Errorf("2 MiB console form: HTTP %d, want 413 saying the body is too large", code)
	}
}

// TestMetricsLabelsNotChosenByCallers: 40 POSTs to made-up paths at each
// service: no metric takes their names as a label (the platform counts
// them all under interface "unknown", recorded or not), and both
// services count the message log records their unauthenticated budget
// dropped.
func TestMetricsLabelsNotChosenByCallers(t *testing.T) {
	// 48000 bytes a day: an hour's worth, 2000 bytes, records the first
	// few; the others are dropped.
	const budget = 48000
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformConfig(func(c *platform.Config) { c.Listen.UnauthenticatedLogPerAddress = budget }), harness.WithInstitutionConfig(func(c *institution.Config) { c.Listen.UnauthenticatedLogPerAddress = budget }))
	const n = 40
	for _, door := range []string{s.PlatDoor.URL, s.InstDoor.URL} {
		for i := range n {
			res, err := http.Post(fmt.Sprintf("%s/made-up-interface-%d", door, i), "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		res, err := http.Get(door + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		metrics := string(b)
		if strings.Contains(metrics, "made-up-interface") {
			t.Errorf("%s/metrics has labels chosen by callers", door)
		}
		if got := metricValue(metrics, `baohan_unauthenticated_dropped_total{kind="record"}`); got < n/2 {
			t.Errorf("%s/metrics counts %d dropped records, want most of the %d", door, got, n)
		}
		if door == s.PlatDoor.URL {
			if got := metricValue(metrics, `baohan_platform_requests_total{code="0",direction="in",interface="unknown"}`); got != n {
				t.Errorf("the platform counts %d requests to no interface, want %d", got, n)
			}
		}
	}
}

// metricValue is the value of the series named exactly so (-1: none).
func metricValue(metrics, series string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return -1
	}
	v, _ := strconv.Atoi(m[1])
	return v
}
