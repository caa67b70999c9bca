package security

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// unlimited turns the rate limit off: the corpus sends hundreds of signed
// requests a second under one appkey.
func unlimited(p *config.Peer) { p.RateLimit = -1 }

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// send posts one case to url and returns the HTTP status and body.
func send(t *testing.T, url string, c badCase) (int, []byte) {
	t.Helper()
	var body io.Reader = bytes.NewReader(c.body)
	if c.length > 0 {
		body = io.LimitReader(zeros{}, c.length)
	}
	req, err := http.NewRequest("POST", url+"/"+string(c.iface), body)
	if err != nil {
		t.Fatal(err)
	}
	if c.length > 0 {
		req.ContentLength = c.length
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// checkAnswer says what is wrong with the answer to c, "" when right.
func checkAnswer(c badCase, status int, b []byte) string {
	want := c.status
	if want == 0 {
		want = 200
	}
	r, ok := harness.Answer(b)
	switch {
	case !ok:
		return fmt.Sprintf("HTTP %d, not a {code,message,data} answer: %.200q", status, b)
	case status == 413 && c.want == "" && r.Code == 0 && strings.Contains(r.Message, "larger than"):
		return "" // a hostile shape that is also over a small limit
	case status != want:
		return fmt.Sprintf("HTTP %d, want %d (%q)", status, want, r.Message)
	case r.Code != 0:
		return fmt.Sprintf("code %d (%q), want 0", r.Code, r.Message)
	case strings.TrimSpace(r.Message) == "":
		return "empty message"
	case c.want != "" && !containsAny(r.Message, strings.Split(c.want, "|")):
		return fmt.Sprintf("message %q does not name %q", r.Message, c.want)
	case strings.Contains(strings.ToLower(r.Message), "panic") || strings.Contains(r.Message, "goroutine"):
		return fmt.Sprintf("message leaks internals: %q", r.Message)
	}
	return ""
}

// rowCounts counts the rows of every table but those that record
// traffic (the message log, the replay guard).
func rowCounts(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int{}
	for _, n := range names {
		switch n {
		case "message_log", "message_log_head", "message_log_bodies", "seen_sign": // the log of the exchanges themselves
			continue
		}
		var c int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+n+`"`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	if len(out) < 5 {
		t.Fatalf("only %d tables: %v", len(out), out)
	}
	return out
}

func diffCounts(before, after map[string]int) string {
	var d []string
	for k, v := range after {
		if before[k] != v {
			d = append(d, fmt.Sprintf("%s %d→%d", k, before[k], v))
		}
	}
	return strings.Join(d, ", ")
}

// TestBadInput sends the generated corpus to every interface served by
// each side: every request gets a JSON answer with code 0 and a message
// that names what is wrong (HTTP 413 for a body over the limit), never a
// 500 or a panic, and no table gains or loses a row.
func TestBadInput(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(unlimited), harness.WithInstitutionPeer(unlimited))
	sec := s.Section(time.Hour)
	applyNo := s.Apply(sec.No)
	s.Token(applyNo, 10*time.Second)
	s.Eventually("the institution to store the application", 10*time.Second, func() bool { return s.InstApp(applyNo) != nil })
	time.Sleep(100 * time.Millisecond) // let the outbox record the answer

	for _, side := range []struct {
		name string
		side protocol.Side
		h    http.Handler
		db   *store.DB
		logs *harness.LogBuffer
	}{
		{"platform", protocol.Platform, s.Plat.Handler(), s.Plat.DB(), s.PlatLog},
		{"institution", protocol.Institution, s.Inst.Handler(), s.Inst.DB(), s.InstLog},
	} {
		t.Run(side.name, func(t *testing.T) {
			srv := httptest.NewServer(side.h)
			defer srv.Close()
			before := rowCounts(t, side.db)
			cases := corpus(side.side, harness.AppKey, harness.AppSecret, harness.PlatformCode, s.Clock.Now())
			bad := 0
			for _, c := range cases {
				status, b := send(t, srv.URL, c)
				if msg := checkAnswer(c, status, b); msg != "" {
					bad++
					if bad <= 40 {
						t.Errorf("%s: %s", c.name, msg)
					}
				}
			}
			if bad > 40 {
				t.Errorf("... %d wrong answers in all, of %d cases", bad, len(cases))
			}
			if d := diffCounts(before, rowCounts(t, side.db)); d != "" {
				t.Errorf("rows changed: %s", d)
			}
			if l := side.logs.String(); strings.Contains(l, "handler panic") {
				t.Errorf("a handler panicked: %.2000s", l[strings.Index(l, "handler panic"):])
			}
			t.Logf("%d cases", len(cases))
		})
	}
	// Both services still work: the application goes on to the guarantee.
	s.BidderSignsAndPays(s.Token(applyNo, 10*time.Second))
	s.Eventually("the guarantee after the corpus", 30*time.Second, func() bool { return s.PlatApp(applyNo).BaohanNo != "" })
}

// TestBadInputAdminAndBidderAPIs: the JSON APIs beside the protocol
// (admin, bidder) answer hostile input with a 4xx JSON error, never a 500.
func TestBadInputAdminAndBidderAPIs(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	sec := s.Section(time.Hour)
	applyNo := s.Apply(sec.No)
	token := s.Token(applyNo, 10*time.Second)
	bodies := [][]byte{nil, []byte("{"), []byte(`[]`), []byte(`{"section_no":1}`), []byte(`{"kaibiaotime":"yesterday"}`),
		[]byte(strings.Repeat(`{"a":`, 50000)), []byte("\xff\xfe"), []byte(`{"key":"` + strings.Repeat("A", 1<<20) + `"}`),
		[]byte(`{"section_no":"../../etc/passwd","name":"x","tenderer":"y","bond_amount":"1e400","kaibiaotime":"2030-01-01T00:00:00Z"}`),
		[]byte(`{"bidder_code":"1' OR '1'='1","section_no":"'; DROP TABLE plat_sections; --","institution":"x","product":"y"}`)}
	type target struct {
		base, auth string
		paths      []string
	}
	evil := []string{"1'%20OR%20'1'='1", "..%2f..%2fetc%2fpasswd", "%00", "%ff", applyNo}
	var pp, ip []string
	for _, e := range evil {
		pp = append(pp, "POST /api/sections", "POST /api/bidders", "POST /api/applications", "GET /api/applications/"+e,
			"POST /api/applications/"+e+"/quit", "POST /api/applications/"+e+"/"+e, "GET /api/sections/"+e, "POST /api/sections/"+e+"/postpone",
			"GET /api/guarantees/"+e+"/1/ofd", "GET /api/messages/"+e, "POST /api/outbox/"+e+"/retry", "GET /api/applications?limit="+e)
		ip = append(ip, "GET /api/applications/"+e, "POST /api/applications/"+e+"/approve", "POST /api/applications/"+e+"/reject",
			"POST /api/invoices/"+e+"/issue", "GET /api/applications/"+e+"/guarantee", "POST /api/outbox/"+e+"/retry",
			"GET /bidder/"+e, "POST /bidder/"+e+"/open", "POST /bidder/"+e+"/agreement", "POST /bidder/"+e+"/pay",
			"POST /bidder/"+token+"/open", "POST /bidder/"+token+"/agreement", "POST /bidder/"+token+"/pay", "GET /invoices/"+e)
	}
	for _, tg := range []target{{s.PlatDoor.URL, harness.PlatformAdmin, pp}, {s.InstDoor.URL, harness.InstAdmin, ip}} {
		for _, p := range tg.paths {
			method, path, _ := strings.Cut(p, " ")
			for _, b := range bodies {
				req, err := http.NewRequest(method, tg.base+path, bytes.NewReader(b))
				if err != nil {
					continue // a path Go itself refuses to send
				}
				req.Header.Set("Authorization", "Bearer "+tg.auth)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode >= 500 {
					t.Errorf("%s %.60q: HTTP %d %.200s", p, b, res.StatusCode, out)
				}
				// /invoices/ is a page for people (a download), not a JSON API
				if res.StatusCode >= 400 && !json.Valid(out) && !strings.HasPrefix(path, "/invoices/") {
					t.Errorf("%s: HTTP %d error is not JSON: %.200q", p, res.StatusCode, out)
				}
			}
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
