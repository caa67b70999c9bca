package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// DefaultMaxResponse bounds the answers a Client reads.
const DefaultMaxResponse = 4 << 20

// Client calls a peer's interfaces.
type Client struct {
	// HTTP sends the requests (nil: http.DefaultClient; set timeouts
	// through ctx). Redirects are not followed unless its CheckRedirect
	// says otherwise.
	HTTP *http.Client
	Log  MessageLog       // optional: every exchange is recorded
	Now  func() time.Time // the clock for timestamps and latency; nil: time.Now
	// Logger gets warnings (e.g. an outgoing request that breaks a rule).
	Logger      *slog.Logger
	Metrics     Metrics // optional
	MaxResponse int64   // 0: DefaultMaxResponse
	UserAgent   string  // "" : "baohan"
	// Seen, when set, is told of the sign of every request Call sends,
	// until its timestamp leaves the peer's window. Give it the replay
	// store of this service's Server: one appsecret signs both
	// directions and the sign does not cover the interface, so a
	// request this service sent could otherwise be sent back to it, to
	// another interface, and pass its sign and replay checks (e.g. its
	// own baohanapply posted to its giveupnotice).
	Seen protocol.SeenStore

	// stamps holds the timestamp seconds Call has used per request.
	stamps stampBook
}

// Option configures a Client made by NewClient.
type Option func(*Client)

// NewClient returns a Client with the options applied.
func NewClient(opts ...Option) *Client {
	c := &Client{}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithHTTPClient sets the http.Client (TLS, proxies, connection pool).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.HTTP = h } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.Logger = l } }

// WithClock sets the clock used for timestamps and latencies.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.Now = now } }

// WithMessageLog sets where exchanges are recorded.
func WithMessageLog(l MessageLog) Option { return func(c *Client) { c.Log = l } }

// WithSeen records outbound signs in the replay store (see Client.Seen).
func WithSeen(s protocol.SeenStore) Option { return func(c *Client) { c.Seen = s } }

// WithMetrics sets the metrics hook.
func WithMetrics(m Metrics) Option { return func(c *Client) { c.Metrics = m } }

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Call sends interface i to peer with fields: it adds appkey (the
// peer's, unless fields has one) and timestamp (unless fields has one),
// computes the sign (replacing any), posts the JSON with keys sorted,
// records the exchange and returns the decoded answer. The deadline comes
// from ctx. A transport failure, an HTTP status other than 200, a body
// that is not JSON or has no "code" is an error saying what came back; a
// code 0 answer is not an error (check Response.Code).
//
// The timestamp Call adds is now in CST, to the second, unless this
// Client already sent the same fields to the same peer in that second or
// later: then it is the second after the last one used, so that two
// requests made at once never share a sign. (A burst of n identical
// requests runs n seconds ahead of the clock, well inside the timestamp
// window.) A retry of a request the peer may have processed should send
// the same body again instead (see Send): the peer then recognises it.
func (c *Client) Call(ctx context.Context, peer *Peer, i protocol.Interface, fields map[string]string) (*protocol.Response, error) {
	return c.Post(ctx, peer, i, c.Prepare(ctx, peer, i, fields))
}

// Send is Call for a delivery that may be a retry: kept, when not empty,
// is the body of an earlier attempt the peer may have processed (the
// answer was lost); it is sent again as it is, same timestamp and sign,
// and recorded as a retry, so that the peer answers it as it answered the
// first. When kept is empty or its timestamp is about to leave the peer's
// window (the peer would refuse it as too old), the fields are signed
// anew. Send returns the body it sent: keep it for the next attempt when
// the error says the peer may have processed it (MayBeProcessed).
//
// A kept body is sent again only while it carries exactly fields (and the
// peer's appkey): a request whose content changed since (a restore whose
// key or opening time moved) is a new request, signed anew.
func (c *Client) Send(ctx context.Context, peer *Peer, i protocol.Interface, fields map[string]string, kept []byte) (*protocol.Response, []byte, error) {
	if len(kept) > 0 && c.fresh(peer, kept) && carries(peer, kept, fields) {
		resp, err := c.post1(ctx, peer, i, kept, true)
		return resp, kept, err
	}
	body := c.Prepare(ctx, peer, i, fields)
	resp, err := c.Post(ctx, peer, i, body)
	return resp, body, err
}

// carries reports whether body is a request of fields to peer: the same
// fields, the appkey and timestamp added as Prepare adds them, and the
// sign.
func carries(peer *Peer, body []byte, fields map[string]string) bool {
	r, err := protocol.ParseRequest(body)
	if err != nil {
		return false
	}
	want := make(map[string]string, len(fields)+3)
	for k, v := range fields {
		want[k] = v
	}
	if want["appkey"] == "" {
		want["appkey"] = peer.AppKey
	}
	if want["timestamp"] == "" {
		want["timestamp"] = r.Get("timestamp")
	}
	want[protocol.SignField] = r.Get(protocol.SignField)
	if len(r.Fields) != len(want) {
		return false
	}
	for k, v := range want {
		if got, ok := r.Fields[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// fresh reports whether body's timestamp is still well inside the peer's
// window: a margin of a tenth of the window (at least 30 seconds) is left
// for the clocks' difference and the time in transit.
func (c *Client) fresh(peer *Peer, body []byte) bool {
	r, err := protocol.ParseRequest(body)
	if err != nil {
		return false
	}
	ts, err := protocol.ParseTime(r.Get("timestamp"))
	if err != nil {
		return false
	}
	w := peer.Profile.Window()
	margin := max(w/10, 30*time.Second)
	return c.now().Sub(ts) < w-margin
}

// Prepare builds the body Call sends: it adds appkey (the peer's, unless
// fields has one) and timestamp (unless fields has one), computes the
// sign (replacing any) and tells Seen of it.
func (c *Client) Prepare(ctx context.Context, peer *Peer, i protocol.Interface, fields map[string]string) []byte {
	f := make(map[string]string, len(fields)+3)
	for k, v := range fields {
		f[k] = v
	}
	if f["appkey"] == "" {
		f["appkey"] = peer.AppKey
	}
	delete(f, protocol.SignField)
	if f["timestamp"] == "" {
		delete(f, "timestamp")
		f["timestamp"] = protocol.FormatTime(c.stamps.next(peer.BaseURL, f, c.now()))
	}
	sign := protocol.SignAs(peer.Profile.Sign, f, peer.AppSecret)
	f[protocol.SignField] = sign
	if c.Seen != nil {
		if ts, err := protocol.ParseTime(f["timestamp"]); err == nil {
			if _, err := c.Seen.SeenBefore(ctx, f["appkey"], strings.ToLower(sign), ts.Add(peer.Profile.Window())); err != nil {
				c.logger().WarnContext(ctx, "replay store: recording an outbound sign failed", "interface", string(i), "peer", peer.Name, "err", err)
			}
		}
	}
	if vs := protocol.ValidateIn(peer.Profile.Revision, i, protocol.NewRequest(f)); len(vs) > 0 {
		c.logger().WarnContext(ctx, "sending a request that breaks the interface's rules; the peer will likely refuse it",
			"interface", string(i), "peer", peer.Name, "violations", protocol.JoinViolations(vs, 0))
	}
	return protocol.MarshalFields(f)
}

// Post sends a ready body to peer's interface i as it is (no fields
// added, no sign computed: the conformance kit uses it to send broken
// requests), records the exchange and decodes the answer like Call.
func (c *Client) Post(ctx context.Context, peer *Peer, i protocol.Interface, body []byte) (*protocol.Response, error) {
	return c.post1(ctx, peer, i, body, false)
}

// post1 is Post; retry marks the exchange as a body sent again.
func (c *Client) post1(ctx context.Context, peer *Peer, i protocol.Interface, body []byte, retry bool) (*protocol.Response, error) {
	start := c.now()
	ex := &protocol.Exchange{Interface: string(i), Direction: protocol.Outbound, Peer: peer.Name, Request: body, At: start, Code: -1,
		SignOK: true, Retry: retry}
	if r, err := protocol.ParseRequest(body); err == nil {
		ex.ApplyNo, ex.BaohanNo = r.Get("applyno"), r.Get("baohanno")
	}
	resp, err := c.post(ctx, peer, i, body, ex)
	ex.Latency = c.now().Sub(start)
	if err != nil {
		ex.Error = err.Error()
	} else {
		ex.Code = resp.Code
		if resp.Code != protocol.CodeOK {
			ex.Error = resp.Message
		}
	}
	rctx := context.WithoutCancel(ctx)
	if c.Log != nil {
		if _, lerr := c.Log.Record(rctx, ex); lerr != nil {
			c.logger().ErrorContext(rctx, "message log: recording an outbound exchange failed",
				"interface", string(i), "peer", peer.Name, "applyno", ex.ApplyNo, "err", lerr)
		}
	}
	if c.Metrics != nil {
		c.Metrics.ObserveExchange(ex)
	}
	return resp, err
}

func (c *Client) post(ctx context.Context, peer *Peer, i protocol.Interface, body []byte, ex *protocol.Exchange) (*protocol.Response, error) {
	what := fmt.Sprintf("%s to %s", i, peer.Name)
	if peer.BaseURL == "" {
		return nil, fmt.Errorf("%s: the peer has no base URL", what)
	}
	target := strings.TrimRight(peer.BaseURL, "/") + "/" + string(i)
	what += " at " + target
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	hr.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "baohan"
	}
	hr.Header.Set("User-Agent", ua)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	if hc.CheckRedirect == nil {
		// The protocol has no redirects. Following one would send the
		// signed body (and, in baohanrestore, the project key) wherever
		// the answer points: a 3xx is an answer like any non-200.
		cp := *hc
		cp.CheckRedirect = noRedirects
		hc = &cp
	}
	var wrote atomic.Bool
	hr = hr.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	}))
	res, err := hc.Do(hr)
	if err != nil {
		err = unwrapURLError(err)
		return nil, &CallError{msg: fmt.Sprintf("%s: %v", what, err), Err: err, Sent: wrote.Load()}
	}
	defer res.Body.Close()
	ex.HTTPStatus = res.StatusCode
	max := c.MaxResponse
	if max <= 0 {
		max = DefaultMaxResponse
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	ex.Response = b
	if err != nil {
		return nil, &CallError{msg: fmt.Sprintf("%s: reading the answer (HTTP %d): %v", what, res.StatusCode, err), Err: err, Sent: true, Status: res.StatusCode}
	}
	over := int64(len(b)) > max
	if over {
		b = b[:max]
		ex.Response = b
	}
	if res.StatusCode != http.StatusOK {
		return nil, &CallError{msg: fmt.Sprintf("%s: HTTP %s: %s", what, res.Status, first(b, 200)), Sent: true, Status: res.StatusCode}
	}
	if over {
		return nil, &CallError{msg: fmt.Sprintf("%s: the answer is larger than %d bytes (HTTP %d)", what, max, res.StatusCode), Sent: true, Status: res.StatusCode}
	}
	resp, err := protocol.ParseResponse(b)
	if err != nil {
		ct := res.Header.Get("Content-Type")
		if ct == "" {
			ct = "no Content-Type"
		}
		return nil, &CallError{msg: fmt.Sprintf("%s: HTTP 200 (%s) but %v", what, ct, err), Err: err, Sent: true, Status: res.StatusCode}
	}
	return resp, nil
}

// CallError is a call that got no protocol answer: a transport failure,
// an HTTP status other than 200, an answer that is not the protocol's
// JSON.
type CallError struct {
	msg string // the whole message, the cause included
	Err error  // the cause, if any
	// Sent: the request went out (its headers were written): the peer
	// may have processed it.
	Sent bool
	// Status is the HTTP status of the answer (0: none came).
	Status int
}

func (e *CallError) Error() string { return e.msg }

func (e *CallError) Unwrap() error { return e.Err }

// MayBeProcessed reports whether a failed call may have been processed by
// the peer all the same: the request went out and no answer says it was
// not (a timeout or a connection reset after sending, an HTTP 5xx, a 200
// that is not the protocol's JSON). Such a call is retried with its body
// unchanged (Send), so that the peer recognises it. A call that never
// left (connection refused, no route, a failed TLS handshake) or that
// the peer's HTTP layer turned away (3xx, 4xx: a rate limit, a body too
// large, no such path) was certainly not processed: it is signed anew.
func MayBeProcessed(err error) bool {
	var ce *CallError
	if !errors.As(err, &ce) {
		return err != nil
	}
	if !ce.Sent {
		return false
	}
	return ce.Status == 0 || ce.Status == http.StatusOK || ce.Status >= 500
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// unwrapURLError drops the *url.Error wrapper's repetition of method and
// URL, which the caller's message already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// first returns at most n bytes of b as a quoted string, or "empty body".
func first(b []byte, n int) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return "empty body"
	}
	s := string(b)
	if len(b) > n {
		return fmt.Sprintf("%q (first %d of %d bytes)", clip(s, n), n, len(b))
	}
	return fmt.Sprintf("%q", s)
}

// stampBook remembers, per request (peer and fields but the timestamp),
// the last timestamp second Call used, so that no request goes out twice
// with one second (and so one sign). The zero value is ready to use.
type stampBook struct {
	mu    sync.Mutex
	seed  maphash.Seed
	last  map[uint64]int64 // request digest -> Unix second
	prune int              // prune when last grows past this
}

// next returns the timestamp for fields (without "timestamp") to
// baseURL: now to the second, or the second after the last one used for
// the same request when that is not earlier.
func (b *stampBook) next(baseURL string, fields map[string]string, now time.Time) time.Time {
	sec := now.Unix()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		b.seed, b.last, b.prune = maphash.MakeSeed(), map[uint64]int64{}, 1024
	}
	k := b.digest(baseURL, fields)
	if prev, ok := b.last[k]; ok && prev >= sec {
		sec = prev + 1
	}
	b.last[k] = sec
	if len(b.last) > b.prune {
		// A second before now no longer constrains anything.
		for k, s := range b.last {
			if s < now.Unix() {
				delete(b.last, k)
			}
		}
		b.prune = max(1024, 2*len(b.last))
	}
	return time.Unix(sec, 0)
}

// digest identifies a request: two with one digest get distinct seconds
// (a collision only moves a timestamp a second on).
func (b *stampBook) digest(baseURL string, fields map[string]string) uint64 {
	var h maphash.Hash
	h.SetSeed(b.seed)
	h.WriteString(baseURL)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		h.WriteByte(0)
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(fields[k])
	}
	return h.Sum64()
}
