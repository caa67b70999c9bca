package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// fakeTime is a settable clock for the rate limiter.
type fakeTime struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeTime) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeTime) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// noticeAt returns a signed baohannotice with a distinct timestamp (a
// distinct sign, so the replay check does not interfere).
func noticeAt(i int) []byte {
	ts := testNow.Add(-time.Duration(i) * time.Second).Format("2006-01-02 15:04:05")
	return signed(with(noticeFields(), "timestamp", ts), testSecret)
}

func TestServerRateLimit(t *testing.T) {
	tests := []struct {
		name      string
		server    RateLimit
		peer      RateLimit
		n         int // requests at one instant
		wantOK    int
		afterWait time.Duration // then one more request
		wantAfter int           // its code
	}{
		{"default burst", RateLimit{}, RateLimit{}, DefaultRate*DefaultBurstFactor + 3, DefaultRate * DefaultBurstFactor, 10 * time.Millisecond, 1},
		{"server limit", RateLimit{Rate: 2, Burst: 3}, RateLimit{}, 5, 3, 499 * time.Millisecond, 0},
		{"server limit refills", RateLimit{Rate: 2, Burst: 3}, RateLimit{}, 5, 3, 500 * time.Millisecond, 1},
		{"peer overrides", RateLimit{Rate: 2, Burst: 3}, RateLimit{Rate: 1, Burst: 1}, 4, 1, time.Second, 1},
		{"burst from rate", RateLimit{Rate: 1}, RateLimit{}, 6, 4, 0, 0},
		{"unlimited", Unlimited, RateLimit{}, 600, 600, 0, 1},
		{"peer unlimited", RateLimit{Rate: 1, Burst: 1}, Unlimited, 20, 20, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			clk := &fakeTime{t: time.Unix(1e9, 0)}
			f.srv.LimitClock = clk.now
			f.srv.RateLimit = tc.server
			f.peer.RateLimit = tc.peer
			ok := 0
			seq := 0
			for ; seq < tc.n; seq++ {
				a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(seq))
				switch {
				case a.resp.Code == 1 && a.status == 200:
					ok++
				case a.status == http.StatusTooManyRequests:
					if a.resp.Code != 0 || !strings.HasPrefix(a.resp.Message, `rate limit exceeded: appkey "`+testAppKey+`" may send `) {
						t.Fatalf("429 answer %+v", a.resp)
					}
					if ra := a.header.Get("Retry-After"); ra == "" || ra == "0" {
						t.Fatalf("Retry-After %q", ra)
					}
				default:
					t.Fatalf("request %d: HTTP %d %+v", seq, a.status, a.resp)
				}
			}
			if ok != tc.wantOK {
				t.Fatalf("%d of %d accepted, want %d", ok, tc.n, tc.wantOK)
			}
			clk.add(tc.afterWait)
			a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(seq))
			if a.resp.Code != tc.wantAfter {
				t.Fatalf("after %s: code %d %q, want %d", tc.afterWait, a.resp.Code, a.resp.Message, tc.wantAfter)
			}
		})
	}
}

func TestServerRateLimitMessage(t *testing.T) {
	f := newFixture(t)
	f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9, 0)}).now
	f.peer.RateLimit = RateLimit{Rate: 0.5, Burst: 1}
	f.do(t, "POST", "/baohan/baohannotice", noticeAt(1))
	a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(2))
	want := `rate limit exceeded: appkey "` + testAppKey + `" may send 0.5 requests/s, burst 1; retry in 2s`
	if a.status != 429 || a.resp.Code != 0 || a.resp.Message != want || a.header.Get("Retry-After") != "2" {
		t.Fatalf("HTTP %d Retry-After %q %+v\nwant %q", a.status, a.header.Get("Retry-After"), a.resp, want)
	}
	// The refused request was recorded, with its status.
	ex := f.log.Exchanges()
	if last := ex[len(ex)-1]; last.HTTPStatus != 429 || last.Code != 0 || last.Error != want {
		t.Fatalf("recorded %+v", last)
	}
	// A rate-limited sign was not marked as seen: the same request is
	// accepted once the bucket refills.
	f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9+10, 0)}).now
	if a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(2)); a.resp.Code != 1 {
		t.Fatalf("after refill: %+v", a.resp)
	}
}

// An outsider who knows the appkey but not the secret cannot spend the
// peer's budget: bad signs are refused before the bucket is charged.
func TestServerRateLimitNotSpentByBadSigns(t *testing.T) {
	f := newFixture(t)
	f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9, 0)}).now
	f.peer.RateLimit = RateLimit{Rate: 1, Burst: 2}
	for i := 0; i < 50; i++ {
		a := f.do(t, "POST", "/baohan/baohannotice", signed(with(noticeFields(), "timestamp", testNow.Add(-time.Duration(i)*time.Second).Format("2006-01-02 15:04:05")), "wrong-secret"))
		if a.status != 200 || !strings.HasPrefix(a.resp.Message, "sign mismatch") {
			t.Fatalf("bad sign %d: HTTP %d %+v", i, a.status, a.resp)
		}
	}
	for i := 0; i < 2; i++ {
		if a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(100+i)); a.resp.Code != 1 {
			t.Fatalf("genuine request %d refused: HTTP %d %+v", i, a.status, a.resp)
		}
	}
}

// Two appkeys have separate buckets.
func TestServerRateLimitPerAppKey(t *testing.T) {
	f := newFixture(t)
	f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9, 0)}).now
	f.srv.RateLimit = RateLimit{Rate: 1, Burst: 1}
	other := &Peer{Name: "other", AppKey: "other-key", AppSecret: "other-secret", Profile: DefaultProfile()}
	f.srv.Peers = NewStaticPeers(f.peer, other)
	if a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(1)); a.resp.Code != 1 {
		t.Fatal(a.resp)
	}
	if a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(2)); a.status != 429 {
		t.Fatal(a.resp)
	}
	body := signed(with(noticeFields(), "appkey", "other-key"), "other-secret")
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Code != 1 {
		t.Fatalf("other appkey: %+v", a.resp)
	}
}

func TestServerAllowFrom(t *testing.T) {
	allow, err := ParseCIDRs([]string{"10.1.0.0/16", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	proxies, _ := ParseCIDRs([]string{"127.0.0.1"})
	tests := []struct {
		name    string
		remote  string
		xff     []string
		proxies []netip.Prefix
		want    string // "" accepted, else the exact message
	}{
		{"in prefix", "10.1.200.3:5555", nil, nil, ""},
		{"single address", "192.0.2.7:443", nil, nil, ""},
		{"ipv4-mapped", "[::ffff:10.1.0.9]:80", nil, nil, ""},
		{"ipv6 prefix", "[2001:db8::1]:80", nil, nil, ""},
		{"outside", "10.2.0.1:5555", nil, nil, `address 10.2.0.1 may not call as appkey "BH-FI-3201-0001": not in the peer's allow_from`},
		{"neighbour", "192.0.2.8:1", nil, nil, `address 192.0.2.8 may not call as appkey "BH-FI-3201-0001": not in the peer's allow_from`},
		{"x-forwarded-for ignored without trusted proxies", "203.0.113.9:1", []string{"10.1.0.1"}, nil, `address 203.0.113.9 may not call as appkey "BH-FI-3201-0001": not in the peer's allow_from`},
		{"trusted proxy", "127.0.0.1:1", []string{"10.1.0.1"}, proxies, ""},
		{"trusted proxy, spoofed first hop", "127.0.0.1:1", []string{"10.1.0.1, 203.0.113.9"}, proxies, `address 203.0.113.9 may not call as appkey "BH-FI-3201-0001": not in the peer's allow_from`},
		{"trusted proxy, garbage header", "127.0.0.1:1", []string{"not-an-ip"}, proxies, `address (unknown) may not call as appkey "BH-FI-3201-0001": not in the peer's allow_from`},
		{"unparseable remote", "@unix", nil, nil, `address (unknown) may not call as appkey "BH-FI-3201-0001": not in the peer's allow_from`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.peer.AllowFrom = allow
			f.srv.TrustedProxies = tc.proxies
			req := httptest.NewRequest("POST", "/baohan/baohannotice", bytes.NewReader(noticeAt(i)))
			req.RemoteAddr = tc.remote
			for _, h := range tc.xff {
				req.Header.Add("X-Forwarded-For", h)
			}
			a := f.serve(t, req)
			if tc.want == "" {
				if a.status != 200 || a.resp.Code != 1 {
					t.Fatalf("refused: HTTP %d %+v", a.status, a.resp)
				}
				return
			}
			if a.status != http.StatusForbidden || a.resp.Code != 0 || a.resp.Message != tc.want {
				t.Fatalf("HTTP %d %+v\nwant 403 %q", a.status, a.resp, tc.want)
			}
		})
	}
}

func TestParseCIDRs(t *testing.T) {
	got, err := ParseCIDRs([]string{" 10.0.0.1/8 ", "::ffff:192.0.2.1", "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::1/128"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("%d: %s, want %s", i, p, want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "", "10.0.0.0/"} {
		if _, err := ParseCIDRs([]string{bad}); err == nil || !strings.Contains(err.Error(), "allow_from entry") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The rate limiter keeps the wall clock even when the protocol clock is
// frozen (tests freeze Now): tokens come back as real time passes.
func TestServerRateLimitWallClock(t *testing.T) {
	f := newFixture(t)
	f.peer.RateLimit = RateLimit{Rate: 50, Burst: 1}
	if a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(1)); a.resp.Code != 1 {
		t.Fatal(a.resp)
	}
	time.Sleep(40 * time.Millisecond)
	if a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(2)); a.resp.Code != 1 {
		t.Fatalf("after 40ms at 50/s: %+v", a.resp)
	}
}

// A request this side sent, posted back to it (to any interface), is a
// replay when the Client shares the Server's replay store.
func TestClientSeenRefusesReflection(t *testing.T) {
	f := newFixture(t)
	seen := &protocol.MemorySeen{Now: func() time.Time { return testNow }}
	f.srv.Seen = seen
	var sent []byte
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent, _ = io.ReadAll(r.Body)
		w.Write([]byte(`{"code":1,"message":"success","data":{}}`))
	}))
	defer remote.Close()
	peer := *f.peer
	peer.BaseURL = remote.URL
	for _, withSeen := range []bool{false, true} {
		c := &Client{Now: func() time.Time { return testNow.Add(time.Second) }}
		if withSeen {
			c = NewClient(WithClock(func() time.Time { return testNow.Add(2 * time.Second) }), WithSeen(seen))
		}
		if _, err := c.Call(context.Background(), &peer, protocol.BaohanNotice, with(noticeFields(), "timestamp", "")); err != nil {
			t.Fatal(err)
		}
		a := f.do(t, "POST", "/baohan/baohannotice", sent) // reflected to this side
		if withSeen && (a.resp.Code != 0 || !strings.HasPrefix(a.resp.Message, "replayed request")) {
			t.Fatalf("reflected with Seen: %+v", a.resp)
		}
		if !withSeen && a.resp.Code != 1 {
			t.Fatalf("control (no Seen): the reflected request should pass: %+v", a.resp)
		}
	}
}

// An outsider's big bodies are not kept whole in the message log; a
// peer's signed ones are.
func TestServerLogBoundsUnauthenticatedBodies(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("A", 700<<10)
	for _, tc := range []struct {
		name   string
		body   []byte
		whole  bool
		remote string
	}{
		{"unknown appkey", signed(with(noticeFields(), "appkey", "nobody", "baohanfile", big), "x"), false, ""},
		{"bad sign", signed(with(noticeFields(), "baohanfile", big), "wrong"), false, ""},
		{"not JSON", []byte(big), false, ""},
		{"signed", signed(with(noticeFields(), "baohanfile", big, "timestamp", "2024-03-15 14:05:01"), testSecret), true, ""},
	} {
		a := f.do(t, "POST", "/baohan/uploadbaohanfile", tc.body)
		ex := f.log.Exchanges()
		last := ex[len(ex)-1]
		if tc.whole {
			if !bytes.Equal(last.Request, tc.body) {
				t.Errorf("%s: the signed body was not kept whole (%d of %d bytes)", tc.name, len(last.Request), len(tc.body))
			}
			continue
		}
		if a.resp.Code != 0 || len(last.Request) != MaxUnauthenticatedLog || !bytes.Equal(last.Request, tc.body[:MaxUnauthenticatedLog]) ||
			!strings.Contains(last.Diagnosis, "not authenticated: first 65536 kept") {
			t.Errorf("%s: kept %d bytes, diagnosis %q", tc.name, len(last.Request), last.Diagnosis)
		}
	}
}

// Past the per-address budget, unauthenticated bodies are not kept; the
// answers do not change, and other addresses keep their budget.
func TestServerUnauthenticatedLogBudget(t *testing.T) {
	f := newFixture(t)
	f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9, 0)}).now
	f.srv.UnauthenticatedLog = RateLimit{Rate: 1, Burst: 3}
	post := func(remote string) protocol.Exchange {
		req := httptest.NewRequest("POST", "/baohan/baohannotice", bytes.NewReader(signed(noticeFields(), "wrong")))
		req.RemoteAddr = remote
		a := f.serve(t, req)
		if a.status != 200 || !strings.HasPrefix(a.resp.Message, "sign mismatch") {
			t.Fatalf("answer changed: %d %+v", a.status, a.resp)
		}
		ex := f.log.Exchanges()
		return ex[len(ex)-1]
	}
	for i := 0; i < 3; i++ {
		if ex := post("203.0.113.5:1"); len(ex.Request) == 0 {
			t.Fatalf("request %d: body not kept within the budget", i)
		}
	}
	ex := post("203.0.113.5:2")
	if len(ex.Request) != 0 || !strings.Contains(ex.Diagnosis, "not kept: too many unauthenticated requests from 203.0.113.5") {
		t.Fatalf("past the budget: %d bytes kept, %q", len(ex.Request), ex.Diagnosis)
	}
	if ex := post("198.51.100.7:1"); len(ex.Request) == 0 {
		t.Fatal("another address lost its budget")
	}
	// Signed requests are always kept.
	if a := f.do(t, "POST", "/baohan/baohannotice", noticeAt(1)); a.resp.Code != 1 {
		t.Fatal(a.resp)
	}
	if ex := f.log.Exchanges(); len(ex[len(ex)-1].Request) == 0 {
		t.Fatal("a signed body was not kept")
	}
}

// A redirect is not followed: the signed body goes to the peer's URL only.
func TestClientNoRedirects(t *testing.T) {
	var elsewhere int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere++
		w.Write([]byte(`{"code":1,"message":"success","data":{}}`))
	}))
	defer other.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		peerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/collect", status)
		}))
		peer := &Peer{Name: "bank", AppKey: testAppKey, AppSecret: testSecret, BaseURL: peerSrv.URL, Profile: DefaultProfile()}
		_, err := (&Client{HTTP: &http.Client{}}).Call(context.Background(), peer, protocol.BaohanRestore,
			map[string]string{"applyno": "A1", "key": "W3x2hzyALHrO8nquPnbrtg=="})
		peerSrv.Close()
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", status)) {
			t.Errorf("%d: %v", status, err)
		}
	}
	if elsewhere != 0 {
		t.Fatalf("the redirect target got %d requests", elsewhere)
	}
}
