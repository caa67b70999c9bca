package transport

import (
	"bytes"
	"fmt"
	"log/slog"

	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baohan-dev/baohan/protocol"
)

// postFrom posts body to path from remote and returns the answer and
// the exchange recorded for it (nil when none was).
func (f *fixture) postFrom(t *testing.T, path, remote string, body []byte) (answer, *protocol.Exchange) {
	t.Helper()
	n := len(f.log.Exchanges())
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = remote
	a := f.serve(t, req)
	ex := f.log.Exchanges()
	switch len(ex) - n {
	case 0:
		return a, nil
	case 1:
		return a, &ex[len(ex)-1]
	}
	t.Fatalf("%d exchanges recorded for one request", len(ex)-n)
	return a, nil
}

// badSign is a baohannotice with the fixture's appkey signed with the
// wrong secret, distinct per i.
func badSign(i int) []byte {
	return signed(with(noticeFields(), "applyno", fmt.Sprintf("JS%013d", i)), "wrong-secret")
}

// Every value an outsider chooses is clipped to the spec's maximum
// length before it is recorded or logged, whatever the refusal.
func TestServerClipsUnauthenticatedValues(t *testing.T) {
	const huge = 200 << 10
	rep := func(c string) string { return strings.Repeat(c, huge) }
	allow, _ := ParseCIDRs([]string{"10.0.0.0/8"})
	tests := []struct {
		name   string
		path   string
		body   []byte
		remote string
		setup  func(f *fixture)
		status int
	}{
		{"unknown appkey", "/baohan/baohannotice",
			signed(with(noticeFields(), "appkey", rep("K"), "applyno", rep("A"), "baohanno", rep("B")), "x"), "", nil, 200},
		{"bad sign", "/baohan/baohannotice",
			withSign(with(noticeFields(), "applyno", rep("A"), "baohanno", rep("B")), rep("S")), "", nil, 200},
		{"bad sign, wide characters", "/baohan/baohannotice",
			signed(with(noticeFields(), "applyno", strings.Repeat("号", huge/4), "baohanno", strings.Repeat("函\x1b", huge/4)), "x"), "", nil, 200},
		{"refused address", "/baohan/baohannotice",
			signed(with(noticeFields(), "applyno", rep("A"), "baohanno", rep("B")), testSecret), "203.0.113.9:1",
			func(f *fixture) { f.peer.AllowFrom = allow }, 403},
		{"duplicate key", "/baohan/baohannotice",
			[]byte(`{"` + rep("Q") + `":"1","` + rep("Q") + `":"2"}`), "", nil, 200},
		{"nested value", "/baohan/baohannotice",
			[]byte(`{"` + rep("Q") + `":{}}`), "", nil, 200},
		{"unknown interface", "/baohan/" + rep("P"), nil, "", nil, 404},
		{"rate limited", "/baohan/baohannotice",
			signed(with(noticeFields(), "applyno", rep("A"), "baohanno", rep("B"), "timestamp", "2024-03-15 14:05:13"), testSecret), "",
			func(f *fixture) {
				f.peer.RateLimit = RateLimit{Rate: 0.001, Burst: 1}
				f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9, 0)}).now
				f.do(t, "POST", "/baohan/baohannotice", noticeAt(1))
			}, 429},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			f.logs.Reset()
			remote := tc.remote
			if remote == "" {
				remote = "192.0.2.1:1234"
			}
			a, ex := f.postFrom(t, tc.path, remote, tc.body)
			if a.status != tc.status || a.resp.Code != 0 {
				t.Fatalf("HTTP %d %+v, want %d code 0", a.status, a.resp, tc.status)
			}
			if ex == nil {
				t.Fatal("not recorded")
			}
			for _, c := range []struct {
				field, v string
				max      int
			}{
				{"applyno", ex.ApplyNo, identifierMax["applyno"]},
				{"baohanno", ex.BaohanNo, identifierMax["baohanno"]},
				{"peer", ex.Peer, identifierMax["appkey"]},
				{"interface", ex.Interface, maxInterfaceName},
				{"error", ex.Error, maxEchoMessage},
			} {
				if n := utf8.RuneCountInString(c.v); n > c.max+1 { // +1: the "…"
					t.Errorf("%s recorded with %d characters, more than %d", c.field, n, c.max)
				}
			}
			if len(ex.Request) > MaxUnauthenticatedLog || len(ex.Response) > 2*maxEchoMessage {
				t.Errorf("bodies recorded: request %d, response %d bytes", len(ex.Request), len(ex.Response))
			}
			// No log line quotes more of a value than the spec allows.
			logs := f.logs.String()
			for _, c := range []string{"A", "B", "K", "S", "Q", "P", "号", "函"} {
				if strings.Contains(logs, strings.Repeat(c, identifierMax["sign"]+1)) {
					t.Errorf("the log quotes a run of %q longer than any field may be:\n%.300s", c, logs)
				}
			}
			if len(logs) > 4<<10 {
				t.Errorf("%d bytes logged for one request", len(logs))
			}
		})
	}
}

// The record itself is budgeted: past what its address may write, an
// exchange is recorded without its body, then not at all; the answers
// do not change, another address keeps its budget, and the budget
// refills over time.
func TestServerUnauthenticatedRecordBudget(t *testing.T) {
	f := newFixture(t)
	clk := &fakeTime{t: time.Unix(1e9, 0)}
	f.srv.LimitClock = clk.now
	f.srv.UnauthenticatedLog = Unlimited // bodies: only the bytes count here
	// A burst of 200 KiB: three records with a 64 KiB body head, and a
	// few without.
	const burst = 200 << 10
	f.srv.UnauthenticatedBudget = UnauthenticatedBudget{PerAddress: burst * int64(day/budgetBurst), Total: -1}
	if got := f.srv.UnauthenticatedBudget.Allowance(0); got != burst {
		t.Fatalf("Allowance(0) = %d, want %d", got, burst)
	}
	body := signed(with(noticeFields(), "bak1", strings.Repeat("x", 100<<10)), "wrong")
	var (
		spent                  int64
		whole, summary, absent int
	)
	for i := 0; i < 40; i++ {
		a, ex := f.postFrom(t, "/baohan/baohannotice", "203.0.113.5:1", body)
		if a.status != 200 || !strings.HasPrefix(a.resp.Message, "sign mismatch") {
			t.Fatalf("request %d: the answer changed: %d %+v", i, a.status, a.resp)
		}
		switch {
		case ex == nil:
			absent++
		case len(ex.Request) == MaxUnauthenticatedLog:
			if summary > 0 || absent > 0 {
				t.Fatalf("request %d: a body kept after the budget ran short", i)
			}
			whole++
		case len(ex.Request) == 0:
			if absent > 0 {
				t.Fatalf("request %d: recorded after records were dropped", i)
			}
			if !strings.Contains(ex.Diagnosis, "not kept: the unauthenticated log budget of 203.0.113.5 is spent") {
				t.Fatalf("request %d: diagnosis %q", i, ex.Diagnosis)
			}
			summary++
		default:
			t.Fatalf("request %d: %d bytes of body kept", i, len(ex.Request))
		}
		if ex != nil {
			spent += recordCost(ex)
		}
	}
	if whole != 3 || summary == 0 || absent == 0 {
		t.Fatalf("%d records with a body, %d without, %d dropped", whole, summary, absent)
	}
	// What was recorded and logged fits the allowance.
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		if strings.Contains(line, "sign mismatch") {
			spent += int64(len(line))
		}
	}
	if spent > burst {
		t.Errorf("%d bytes written, more than the allowance of %d", spent, burst)
	}
	st := f.srv.UnauthenticatedStats()
	if st.DroppedRecords != int64(absent) || st.DroppedLines == 0 {
		t.Errorf("stats %+v, want %d dropped records and some lines", st, absent)
	}
	if n := strings.Count(f.logs.String(), "over their log budget"); n != 1 {
		t.Errorf("the drops were reported %d times, want once:\n%s", n, f.logs.String())
	}
	if _, ex := f.postFrom(t, "/baohan/baohannotice", "198.51.100.7:1", body); ex == nil || len(ex.Request) == 0 {
		t.Error("another address lost its budget")
	}
	// Signed requests are always recorded whole.
	if a, ex := f.postFrom(t, "/baohan/baohannotice", "203.0.113.5:1", noticeAt(3)); a.resp.Code != 1 || ex == nil || len(ex.Request) == 0 {
		t.Fatalf("a signed request from the spent address: %+v, recorded %v", a.resp, ex != nil)
	}
	// The budget refills: an hour later the address has its burst again.
	clk.add(budgetBurst)
	if _, ex := f.postFrom(t, "/baohan/baohannotice", "203.0.113.5:1", body); ex == nil || len(ex.Request) == 0 {
		t.Error("the budget did not refill")
	}
	// A minute after the first report, the next drop is reported with
	// the count since.
	for i := 0; i < 40; i++ {
		f.postFrom(t, "/baohan/baohannotice", "203.0.113.5:1", body)
	}
	if n := strings.Count(f.logs.String(), "over their log budget"); n != 2 {
		t.Errorf("the drops were reported %d times, want twice", n)
	}
}

// All addresses together are bounded by Total.
func TestServerUnauthenticatedTotalBudget(t *testing.T) {
	f := newFixture(t)
	f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9, 0)}).now
	const burst = 20 << 10
	f.srv.UnauthenticatedBudget = UnauthenticatedBudget{PerAddress: -1, Total: burst * int64(day/budgetBurst)}
	recorded := 0
	for i := 0; i < 200; i++ {
		if _, ex := f.postFrom(t, "/baohan/baohannotice", fmt.Sprintf("203.0.113.%d:1", i), badSign(i)); ex != nil {
			recorded++
		}
	}
	if recorded == 0 || recorded == 200 {
		t.Fatalf("%d of 200 recorded", recorded)
	}
	if !strings.Contains(f.logs.String(), `reason="the budget of all addresses is spent"`) {
		t.Errorf("the report does not name the total budget:\n%s", f.logs.String())
	}
}

// An address is forgotten once its budget is whole again (then it
// holds nothing a new entry would not): soon when it spent little, after
// up to an hour when it spent all; one that keeps sending is not.
func TestServerUnauthenticatedEviction(t *testing.T) {
	f := newFixture(t)
	clk := &fakeTime{t: time.Unix(1e9, 0)}
	f.srv.LimitClock = clk.now
	const burst = 16 << 10
	f.srv.UnauthenticatedBudget = UnauthenticatedBudget{PerAddress: burst * int64(day/budgetBurst)}
	// 100 addresses spend their whole burst.
	for i := 0; i < 100; i++ {
		for j := 0; ; j++ {
			if _, ex := f.postFrom(t, "/baohan/baohannotice", fmt.Sprintf("203.0.113.%d:1", i), badSign(j)); ex == nil {
				break
			}
		}
	}
	// One sends a single request: its budget is whole again in seconds.
	f.postFrom(t, "/baohan/baohannotice", "198.51.100.1:1", badSign(0))
	if n := f.srv.UnauthenticatedStats().Addresses; n != 101 {
		t.Fatalf("%d addresses tracked, want 101", n)
	}
	// Half an hour on the spenders are still owed half their burst; the
	// light one is forgotten at the sweep (which 198.51.100.2 sets off).
	clk.add(30 * time.Minute)
	f.postFrom(t, "/baohan/baohannotice", "198.51.100.2:1", badSign(1))
	if n := f.srv.UnauthenticatedStats().Addresses; n != 101 {
		t.Fatalf("after 30 minutes: %d addresses tracked, want 101 (100 spenders and 198.51.100.2)", n)
	}
	// One spender keeps sending, and stays.
	f.postFrom(t, "/baohan/baohannotice", "203.0.113.0:1", badSign(2))
	// An hour after they spent their burst the others are whole again.
	clk.add(budgetBurst - 30*time.Minute + sweepEvery)
	f.postFrom(t, "/baohan/baohannotice", "198.51.100.3:1", badSign(3))
	if n := f.srv.UnauthenticatedStats().Addresses; n != 2 {
		t.Fatalf("after an hour: %d addresses tracked, want 2 (203.0.113.0 and 198.51.100.3)", n)
	}
	// They got no new budget from being forgotten: a forgotten address
	// starts from a whole burst, which is what it had refilled to.
	if _, ex := f.postFrom(t, "/baohan/baohannotice", "203.0.113.50:1", badSign(4)); ex == nil {
		t.Error("a forgotten address is refused")
	}
}

// The map of addresses is bounded: past MaxAddresses, a new address's
// exchanges are not recorded until old ones can be forgotten. An IPv6
// client counts as its /64.
func TestServerUnauthenticatedAddressCap(t *testing.T) {
	f := newFixture(t)
	clk := &fakeTime{t: time.Unix(1e9, 0)}
	f.srv.LimitClock = clk.now
	f.srv.UnauthenticatedBudget = UnauthenticatedBudget{MaxAddresses: 50}
	recorded := 0
	for i := 0; i < 300; i++ {
		if _, ex := f.postFrom(t, "/baohan/baohannotice", fmt.Sprintf("10.%d.%d.1:1", i/256, i%256), badSign(i)); ex != nil {
			recorded++
		}
		clk.add(10 * time.Millisecond)
	}
	st := f.srv.UnauthenticatedStats()
	if st.Addresses != 50 || recorded != 50 || st.DroppedRecords != 250 {
		t.Fatalf("%d addresses tracked, %d recorded, stats %+v; want 50, 50, 250 dropped", st.Addresses, recorded, st)
	}
	if !strings.Contains(f.logs.String(), `reason="too many addresses are tracked"`) {
		t.Errorf("the report does not say why:\n%s", f.logs.String())
	}
	// A tracked address is still served by its budget.
	if _, ex := f.postFrom(t, "/baohan/baohannotice", "10.0.0.1:1", badSign(1000)); ex == nil {
		t.Error("a tracked address lost its budget")
	}
	// Once the old ones are whole again, a new address gets a budget.
	clk.add(budgetBurst + time.Second)
	if _, ex := f.postFrom(t, "/baohan/baohannotice", "10.9.9.9:1", badSign(1001)); ex == nil {
		t.Error("a new address is still refused after the others went idle")
	}
	if n := f.srv.UnauthenticatedStats().Addresses; n != 1 {
		t.Errorf("%d addresses tracked after the sweep, want 1", n)
	}
	// 300 addresses of one /64 are one entry.
	for i := 0; i < 300; i++ {
		f.postFrom(t, "/baohan/baohannotice", fmt.Sprintf("[2001:db8:1:2::%x]:1", i+1), badSign(i))
	}
	if n := f.srv.UnauthenticatedStats().Addresses; n != 2 {
		t.Errorf("%d addresses tracked, want 2 (the IPv6 /64 once)", n)
	}
}

func TestUnauthenticatedBudgetAllowance(t *testing.T) {
	var def UnauthenticatedBudget
	if got, want := def.Allowance(0), int64(DefaultUnauthenticatedPerAddress/24); got != want {
		t.Errorf("default Allowance(0) = %d, want %d", got, want)
	}
	if got, want := def.Allowance(day), int64(DefaultUnauthenticatedPerAddress+DefaultUnauthenticatedPerAddress/24); got < want || got > want+1 {
		t.Errorf("default Allowance(day) = %d, want %d", got, want)
	}
	if got, want := def.TotalAllowance(0), int64(DefaultUnauthenticatedTotal/24); got != want {
		t.Errorf("default TotalAllowance(0) = %d, want %d", got, want)
	}
	if got := (UnauthenticatedBudget{PerAddress: -1}).Allowance(time.Hour); got != -1 {
		t.Errorf("unbounded Allowance = %d", got)
	}
	for _, tc := range []struct{ addr, key string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	} {
		if got := budgetKey(netip.MustParseAddr(tc.addr)).String(); got != tc.key {
			t.Errorf("budgetKey(%s) = %s, want %s", tc.addr, got, tc.key)
		}
	}
	if got := shownKey(budgetKey(netip.Addr{})); got != "(unknown address)" {
		t.Errorf("no address shown as %q", got)
	}
}

// lineCost never underestimates a line of the text or the JSON handler.
func TestLineCostBoundsHandlers(t *testing.T) {
	values := []string{"", "plain", strings.Repeat("号", 50), "\x00\x01\x1b[2J\r\n", `"quoted\"`, "\xff\xfe", "\u2028\u00a0", strings.Repeat("\x00", 50)}
	for _, v := range values {
		args := []any{"interface", "baohannotice", "applyno", v, "got", v, "err", fmt.Errorf("boom %s", v)}
		for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var b bytes.Buffer
			slog.New(h(&b)).Warn("sign mismatch "+v, args...)
			if got, est := b.Len(), lineCost("sign mismatch "+v, args); int64(got) > est {
				t.Errorf("%s handler, value %q: line of %d bytes, estimated %d", name, v, got, est)
			}
		}
	}
}

func TestPrometheusMetricsDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewPrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.srv.Metrics = m
	f.srv.LimitClock = (&fakeTime{t: time.Unix(1e9, 0)}).now
	f.srv.UnauthenticatedBudget = UnauthenticatedBudget{PerAddress: 24 << 10} // 1 KiB at once
	for i := 0; i < 10; i++ {
		f.postFrom(t, "/baohan/baohannotice", "203.0.113.5:1", badSign(i))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "baohan_unauthenticated_dropped_total" {
			continue
		}
		for _, mm := range mf.GetMetric() {
			got[mm.GetLabel()[0].GetValue()] = mm.Counter.GetValue()
		}
	}
	st := f.srv.UnauthenticatedStats()
	if got["record"] != float64(st.DroppedRecords) || got["line"] != float64(st.DroppedLines) || st.DroppedRecords == 0 || st.DroppedLines == 0 {
		t.Errorf("counted %v, stats %+v", got, st)
	}
}
