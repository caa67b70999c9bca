package transport

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/baohan-dev/baohan/protocol"
)

// Defaults of UnauthenticatedBudget.
const (
	DefaultUnauthenticatedPerAddress = 16 << 20  // bytes a day per client address
	DefaultUnauthenticatedTotal      = 256 << 20 // bytes a day, all addresses together
	DefaultUnauthenticatedAddresses  = 16384     // addresses tracked at once
)

// budgetBurst is how much of a day's budget can be spent at once: an
// hour's worth. It is also how long an address must be idle before its
// budget is whole again and its entry can be dropped.
const budgetBurst = time.Hour

const day = 24 * time.Hour

// How often idle addresses are looked for, and how often, at most, the
// drops are reported in the log.
const (
	sweepEvery  = time.Minute
	reportEvery = time.Minute
)

// UnauthenticatedBudget bounds the bytes that unauthenticated exchanges
// make a Server write: message log records and log lines.
//
// An exchange is unauthenticated when nobody proved to hold an
// appsecret: the sign did not verify (unknown appkey, wrong or missing
// sign, an address outside the peer's allow_from, a body that is not
// JSON, no such interface, another method than POST); the exchanges the
// peer's rate limit refused count too. Server records them and logs their
// refusals to help a peer troubleshoot, but within bounds, or anyone who
// can reach the port could fill the disk:
//
//   - every value copied into the record or a log line is clipped: the
//     appkey, applyno, baohanno and sign to the spec's maximum length, the
//     interface named by the path to the longest name of the spec, the
//     answer's message to a fixed length;
//   - the record keeps at most MaxUnauthenticatedLog bytes of the body,
//     and bodies at all only within Server.UnauthenticatedLog per address;
//   - what the records and log lines cost, in bytes, is taken from a token
//     bucket per client address (an IPv6 client: its /64) and from one for
//     all addresses together, each refilled at its daily amount spread
//     over the day and holding an hour's worth at most: in any 24 hours
//     an address writes at most PerAddress plus an hour's worth
//     (Allowance). Past it an exchange is recorded without its body, then
//     not at all, and its log lines are not written; a warning a minute
//     at most says how many were dropped (and a DropMetrics counts them).
//
// The answers never change. The zero value is the default.
type UnauthenticatedBudget struct {
	PerAddress int64 // bytes a day per address; 0: DefaultUnauthenticatedPerAddress; < 0: no bound
	Total      int64 // bytes a day, all addresses; 0: DefaultUnauthenticatedTotal; < 0: no bound
	// MaxAddresses is how many addresses are tracked at once (0:
	// DefaultUnauthenticatedAddresses). An address is forgotten once it
	// has been idle long enough for its budget to be whole again (an
	// hour at most); while MaxAddresses are tracked and none can be
	// forgotten, exchanges from a new address are not recorded.
	MaxAddresses int
}

func (b UnauthenticatedBudget) perAddress() int64 {
	if b.PerAddress == 0 {
		return DefaultUnauthenticatedPerAddress
	}
	return b.PerAddress
}

func (b UnauthenticatedBudget) total() int64 {
	if b.Total == 0 {
		return DefaultUnauthenticatedTotal
	}
	return b.Total
}

func (b UnauthenticatedBudget) maxAddresses() int {
	if b.MaxAddresses <= 0 {
		return DefaultUnauthenticatedAddresses
	}
	return b.MaxAddresses
}

// Allowance is the most one address may make the server write over a
// period d: its burst (an hour's worth of PerAddress) and what refills
// during d. -1 when there is no per-address bound.
func (b UnauthenticatedBudget) Allowance(d time.Duration) int64 {
	return allowance(b.perAddress(), d)
}

// TotalAllowance is Allowance for all addresses together (Total).
func (b UnauthenticatedBudget) TotalAllowance(d time.Duration) int64 {
	return allowance(b.total(), d)
}

func allowance(perDay int64, d time.Duration) int64 {
	if perDay < 0 {
		return -1
	}
	r, burst := bucketOf(perDay)
	return int64(burst) + int64(math.Ceil(float64(r)*d.Seconds()))
}

// bucketOf is the token bucket of a daily budget in bytes.
func bucketOf(perDay int64) (rate.Limit, int) {
	return rate.Limit(float64(perDay) / day.Seconds()), max(1, int(float64(perDay)*budgetBurst.Seconds()/day.Seconds()))
}

func (b UnauthenticatedBudget) String() string {
	f := func(n int64) string {
		if n < 0 {
			return "unbounded"
		}
		return fmt.Sprintf("%d bytes a day", n)
	}
	return fmt.Sprintf("%s per address, %s in all", f(b.perAddress()), f(b.total()))
}

// UnauthenticatedStats describes the budget's state (Server.UnauthenticatedStats).
type UnauthenticatedStats struct {
	Addresses      int   // addresses (IPv6: /64 prefixes) tracked now
	DroppedRecords int64 // exchanges not recorded since the server started
	DroppedLines   int64 // log lines not written since the server started
}

// DropMetrics is a Metrics that also counts what the unauthenticated
// budget dropped: kind is "record" (a message log record) or "line" (a
// log line). PrometheusMetrics is one.
type DropMetrics interface {
	ObserveDropped(kind string)
}

// Kinds of what the budget drops.
const (
	droppedRecord = "record"
	droppedLine   = "line"
)

// budgetKey is the key of a's budget: the address, an IPv6 address's /64
// (one host commonly holds a whole /64), the zero prefix for no address.
func budgetKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// shownKey is how a budget key appears in diagnoses and log lines.
func shownKey(k netip.Prefix) string {
	switch {
	case !k.IsValid():
		return "(unknown address)"
	case k.Addr().Is4():
		return k.Addr().String()
	}
	return k.String()
}

// unauthTracker holds the budgets of the client addresses.
type unauthTracker struct {
	mu        sync.Mutex
	m         map[netip.Prefix]*addrBudget
	total     *rate.Limiter // nil: no total bound
	totalConf int64
	lastSweep time.Time
	// Drops: since the server started, and since the last report.
	droppedRecords, droppedLines int64
	pendRecords, pendLines       int64
	lastReport                   time.Time
}

// addrBudget is one address's state.
type addrBudget struct {
	bodies     *rate.Limiter // bodies kept (UnauthenticatedLog); nil: all
	bodiesConf RateLimit
	bytes      *rate.Limiter // bytes written (PerAddress); nil: no bound
	bytesConf  int64
}

// whole reports whether the entry holds nothing a new one would not:
// both buckets are full.
func (e *addrBudget) whole(now time.Time) bool {
	return (e.bodies == nil || e.bodies.TokensAt(now) >= float64(e.bodies.Burst())) &&
		(e.bytes == nil || e.bytes.TokensAt(now) >= float64(e.bytes.Burst()))
}

// configure brings e to the current configuration.
func (e *addrBudget) configure(bodies RateLimit, perDay int64, now time.Time) {
	switch {
	case bodies.Off():
		e.bodies = nil
	case e.bodies == nil:
		e.bodies = rate.NewLimiter(rate.Limit(bodies.Rate), bodies.burst())
	case e.bodiesConf != bodies:
		e.bodies.SetLimitAt(now, rate.Limit(bodies.Rate))
		e.bodies.SetBurstAt(now, bodies.burst())
	}
	e.bodiesConf = bodies
	e.bytes = reconfigure(e.bytes, e.bytesConf, perDay, now)
	e.bytesConf = perDay
}

// reconfigure returns the bucket of the daily budget perDay, l changed
// when it was made for another (was).
func reconfigure(l *rate.Limiter, was, perDay int64, now time.Time) *rate.Limiter {
	if perDay < 0 {
		return nil
	}
	r, burst := bucketOf(perDay)
	if l == nil {
		return rate.NewLimiter(r, burst)
	}
	if was != perDay {
		l.SetLimitAt(now, r)
		l.SetBurstAt(now, burst)
	}
	return l
}

// entry returns k's budget, made when needed; nil when MaxAddresses are
// tracked and none can be forgotten. Call with t.mu held.
func (t *unauthTracker) entry(k netip.Prefix, bodies RateLimit, b UnauthenticatedBudget, now time.Time) *addrBudget {
	if t.m == nil {
		t.m = map[netip.Prefix]*addrBudget{}
	}
	if now.Sub(t.lastSweep) >= sweepEvery || now.Before(t.lastSweep) {
		t.sweep(now)
	}
	e := t.m[k]
	if e == nil {
		if len(t.m) >= b.maxAddresses() {
			// Full: look again, at most once a second.
			if now.Sub(t.lastSweep) < time.Second {
				return nil
			}
			t.sweep(now)
			if len(t.m) >= b.maxAddresses() {
				return nil
			}
		}
		e = &addrBudget{}
		t.m[k] = e
	}
	e.configure(bodies, b.perAddress(), now)
	return e
}

// sweep forgets the addresses whose budgets are whole again.
func (t *unauthTracker) sweep(now time.Time) {
	for k, e := range t.m {
		if e.whole(now) {
			delete(t.m, k)
		}
	}
	t.lastSweep = now
}

// Reasons a record or line is dropped.
const (
	reasonAddress = "the address's budget is spent"
	reasonTotal   = "the budget of all addresses is spent"
	reasonFull    = "too many addresses are tracked"
)

// takeBody takes a token of k's body bucket: false when its bodies are
// not to be kept.
func (t *unauthTracker) takeBody(k netip.Prefix, bodies RateLimit, b UnauthenticatedBudget, now time.Time) bool {
	if bodies.Off() {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(k, bodies, b, now)
	return e != nil && e.bodies.AllowN(now, 1)
}

// charge takes n bytes from k's budget and from the total: all or
// nothing. When it cannot, it says why.
func (t *unauthTracker) charge(k netip.Prefix, n int64, bodies RateLimit, b UnauthenticatedBudget, now time.Time) (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total = reconfigure(t.total, t.totalConf, b.total(), now)
	t.totalConf = b.total()
	if b.perAddress() < 0 && t.total == nil {
		return true, ""
	}
	e := t.entry(k, bodies, b, now)
	if e == nil {
		return false, reasonFull
	}
	if e.bytes != nil && e.bytes.TokensAt(now) < float64(n) {
		return false, reasonAddress
	}
	if t.total != nil && t.total.TokensAt(now) < float64(n) {
		return false, reasonTotal
	}
	if e.bytes != nil {
		e.bytes.AllowN(now, int(n))
	}
	if t.total != nil {
		t.total.AllowN(now, int(n))
	}
	return true, ""
}

// dropped counts a drop of kind; report is true when it is time to say
// so in the log, with the counts since the last report.
func (t *unauthTracker) dropped(kind string, now time.Time) (report bool, records, lines int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if kind == droppedRecord {
		t.droppedRecords++
		t.pendRecords++
	} else {
		t.droppedLines++
		t.pendLines++
	}
	if !t.lastReport.IsZero() && now.Sub(t.lastReport) < reportEvery && !now.Before(t.lastReport) {
		return false, 0, 0
	}
	records, lines = t.pendRecords, t.pendLines
	t.pendRecords, t.pendLines, t.lastReport = 0, 0, now
	return true, records, lines
}

func (t *unauthTracker) stats() UnauthenticatedStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return UnauthenticatedStats{Addresses: len(t.m), DroppedRecords: t.droppedRecords, DroppedLines: t.droppedLines}
}

// UnauthenticatedStats returns the state of the unauthenticated budget.
func (s *Server) UnauthenticatedStats() UnauthenticatedStats { return s.unauth.stats() }

// unauthenticated reports whether ex is budgeted: nobody proved to hold
// an appsecret, or the rate limit refused it.
func unauthenticated(ex *protocol.Exchange) bool {
	return ex.Direction == protocol.Inbound && (!ex.SignOK || ex.HTTPStatus == 429)
}

// admit decides what of the unauthenticated exchange ex is recorded, from
// the budget of addr: all of it (its body clipped), all but its body, or
// nothing (false).
func (s *Server) admit(ctx context.Context, ex *protocol.Exchange, addr netip.Addr) bool {
	now, k := s.limitNow(), budgetKey(addr)
	bodies, b := s.unauthLogLimit(), s.UnauthenticatedBudget
	if n := len(ex.Request); n > 0 {
		switch {
		case !s.unauth.takeBody(k, bodies, b, now):
			s.dropBody(ex, fmt.Sprintf("too many unauthenticated requests from %s", shownKey(k)))
		case n > MaxUnauthenticatedLog:
			why := "not authenticated"
			if ex.SignOK {
				why = "refused by the rate limit"
			}
			ex.Diagnosis = join(ex.Diagnosis, fmt.Sprintf("(request body of %d bytes %s: first %d kept)", n, why, MaxUnauthenticatedLog))
			ex.Request = ex.Request[:MaxUnauthenticatedLog]
		}
	}
	ok, reason := s.unauth.charge(k, recordCost(ex), bodies, b, now)
	if !ok && len(ex.Request) > 0 {
		// The record without its body, if that fits.
		req := ex.Request
		s.dropBody(ex, fmt.Sprintf("the unauthenticated log budget of %s is spent", shownKey(k)))
		if ok, reason = s.unauth.charge(k, recordCost(ex), bodies, b, now); !ok {
			ex.Request = req
		}
	}
	if !ok {
		s.drop(ctx, droppedRecord, k, reason)
	}
	return ok
}

// dropBody leaves the body out of ex's record, saying why.
func (s *Server) dropBody(ex *protocol.Exchange, why string) {
	ex.Diagnosis = join(ex.Diagnosis, fmt.Sprintf("(request body of %d bytes not kept: %s)", len(ex.Request), why))
	ex.Request = nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// logUnauthenticated writes a log line about an unauthenticated request
// from addr when its budget allows; args are key-value pairs.
func (s *Server) logUnauthenticated(ctx context.Context, addr netip.Addr, level slog.Level, msg string, args ...any) {
	k := budgetKey(addr)
	if ok, reason := s.unauth.charge(k, lineCost(msg, args), s.unauthLogLimit(), s.UnauthenticatedBudget, s.limitNow()); !ok {
		s.drop(ctx, droppedLine, k, reason)
		return
	}
	s.logger().Log(ctx, level, msg, args...)
}

// drop counts what was dropped, and says so in the log once a minute at
// most.
func (s *Server) drop(ctx context.Context, kind string, k netip.Prefix, reason string) {
	if m, ok := s.Metrics.(DropMetrics); ok {
		m.ObserveDropped(kind)
	}
	report, records, lines := s.unauth.dropped(kind, s.limitNow())
	if !report {
		return
	}
	s.logger().WarnContext(ctx, "unauthenticated requests over their log budget: their message log records and log lines are dropped",
		"addr", shownKey(k), "reason", reason, "dropped_records", records, "dropped_lines", lines,
		"budget", s.UnauthenticatedBudget.String(), "next_report_in", reportEvery.String())
}

// recordOverhead estimates what a message log row costs beyond its text
// and bodies: its id, times and codes, two SM3 hashes in hex, and index
// entries.
const recordOverhead = 256

// recordCost estimates the bytes that recording ex writes. The columns
// that are indexed (the peer, applyno) count twice.
func recordCost(ex *protocol.Exchange) int64 {
	n := len(ex.Interface) + 2*len(ex.Peer) + 2*len(ex.ApplyNo) + len(ex.BaohanNo) + len(ex.Request) + len(ex.Response) +
		len(ex.Diagnosis) + len(ex.Error)
	return int64(n) + recordOverhead
}

// lineOverhead estimates what a log line costs beyond its message and
// attributes: the time, the level, the keys' punctuation.
const lineOverhead = 96

// lineCost estimates, from above, the bytes of a log line with msg and
// args written by a text or JSON handler: a character that would be
// escaped counts 6 bytes (\u0000).
func lineCost(msg string, args []any) int64 {
	n := lineOverhead + escapedLen(msg)
	for i, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		default:
			s = fmt.Sprint(v)
		}
		n += escapedLen(s) + 4
		if i%2 == 1 {
			n += 2 // the quotes of a value
		}
	}
	return int64(n)
}

func escapedLen(s string) int {
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || r < ' ' || r == '"' || r == '\\' || !unicode.IsPrint(r) {
			n += 6
			continue
		}
		n += utf8.RuneLen(r)
	}
	return n
}

// identifierMax is the spec's maximum length of each field, in
// characters, the largest of any interface's.
var identifierMax = func() map[string]int {
	m := map[string]int{}
	for _, i := range protocol.All {
		for _, f := range protocol.SpecOf(i).Fields {
			m[f.Name] = max(m[f.Name], f.Max)
		}
	}
	for _, name := range []string{"appkey", "applyno", "baohanno", "sign"} {
		if m[name] == 0 {
			panic("transport: the spec gives no maximum length of " + name)
		}
	}
	return m
}()

// maxInterfaceName is the length of the longest interface name.
var maxInterfaceName = func() int {
	n := 0
	for _, i := range protocol.All {
		n = max(n, len(i))
	}
	return n
}()

// clipField clips the value of field name to the spec's maximum length
// (in characters), marking a cut with "…".
func clipField(name, v string) string { return clipChars(v, identifierMax[name]) }

// clipChars clips s to n characters, marking a cut with "…".
func clipChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	c := 0
	for i := range s {
		if c == n {
			return s[:i] + "…"
		}
		c++
	}
	return s
}
