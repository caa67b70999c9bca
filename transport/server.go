package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
)

// HandlerFunc serves one interface once the pipeline has accepted the
// request: the peer is known, the sign, timestamp and every field rule
// checked. A nil error answers code 1 with data (nil: {}). A refusal (an
// error that is or wraps a baohan.Error, baohan.IsRefusal) answers code 0
// with err.Error() as the message; any other error is a failure of the
// service: it is logged and the peer is answered code 0 with
// baohan.InternalMessage, no details.
type HandlerFunc func(ctx context.Context, peer *Peer, r *protocol.Request) (data any, err error)

// DefaultRetryWait is Server.RetryWait when unset.
const DefaultRetryWait = 30 * time.Second

// Body limits.
const (
	DefaultMaxBody       = 1 << 20 // every interface but uploadbaohanfile
	DefaultMaxUploadBody = 8 << 20 // uploadbaohanfile: a 512 KiB chunk is ~700 KB of base64; room for 4 MiB chunks
	DefaultMaxViolations = 5       // violations listed in one message
	// MaxUnauthenticatedLog is how much of a request body the message log
	// keeps when the sign did not verify (unknown appkey, bad sign,
	// refused address, unparsable body) or the rate limit refused it:
	// enough to troubleshoot any request but an upload chunk. What all
	// such records of an address add up to is bounded by
	// Server.UnauthenticatedBudget.
	MaxUnauthenticatedLog = 64 << 10
)

// Server is the inbound pipeline, an http.Handler. Set the fields, then
// Handle each interface served; do not change them while serving.
type Server struct {
	Peers PeerDirectory // required
	Log   MessageLog    // optional: every exchange is recorded
	// Seen is the replay guard (optional): a request with a sign already
	// received is a replay and refused, unless it is the same request
	// (same appkey, sign, interface and body) sent again: a retry, which
	// is answered with the answer of the first, or, while the first is
	// still being handled, waits for it (at most RetryWait).
	Seen protocol.ReplayGuard
	// RetryWait bounds how long a retry waits for the first request's
	// answer (0: DefaultRetryWait); the request's own context bounds it
	// too.
	RetryWait time.Duration
	// Rehandle lists the interfaces whose answers hold a secret the
	// replay store must not keep (the institution's baohanapply: the
	// bidder token in the redirecturl): a retry of one is handled again
	// by its handler, which must be idempotent and answer as it did,
	// instead of being answered from the store. The record of the sign
	// is kept, so another body under it is still a replay.
	Rehandle map[protocol.Interface]bool
	Now      func() time.Time // the clock; nil: time.Now
	// MaxBody limits request bodies (0: DefaultMaxBody); uploadbaohanfile
	// gets the larger of MaxBody and DefaultMaxUploadBody. BodyLimits
	// overrides both per interface.
	MaxBody    int64
	BodyLimits map[protocol.Interface]int64
	// Prefix is the path the interfaces are served under: a request for
	// baohannotice goes to <Prefix>/baohannotice. "" serves at the root.
	Prefix string
	Logger *slog.Logger // nil: slog.Default()
	// Metrics is told of every exchange (optional).
	Metrics Metrics
	// MaxViolations is how many violations one answer lists (0:
	// DefaultMaxViolations, negative: all).
	MaxViolations int
	// RateLimit is the token bucket of each appkey whose Peer has no
	// RateLimit of its own (zero: DefaultRateLimit; Unlimited: none). It
	// is charged once the sign verifies, so an outsider who knows an
	// appkey cannot spend its peer's budget. A request over the limit is
	// answered HTTP 429 with Retry-After and the JSON
	// {"code":0,"message":"rate limit exceeded: ..."}.
	RateLimit RateLimit
	// UnauthenticatedLog is how many bodies of unauthenticated
	// exchanges (see UnauthenticatedBudget) the message log keeps per
	// source address (zero: DefaultUnauthenticatedLog; Unlimited: all).
	// Past it the exchange is recorded without its body. The answers do
	// not change.
	UnauthenticatedLog RateLimit
	// UnauthenticatedBudget bounds the bytes of message log records and
	// log lines that unauthenticated exchanges (the sign did not verify,
	// or the rate limit refused them) make the server write, per source
	// address and for all together (zero: the defaults). Past it they
	// are dropped, counted, and reported in the log once a minute. The
	// answers do not change.
	UnauthenticatedBudget UnauthenticatedBudget
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when checking a Peer's AllowFrom. Empty: the TCP peer's
	// address is the client's.
	TrustedProxies []netip.Prefix

	// LimitClock is the clock of the rate limits and of the
	// unauthenticated budget (tests); nil: the wall clock. They never
	// read Now, which tests freeze.
	LimitClock func() time.Time

	mu       sync.RWMutex
	handlers map[protocol.Interface]HandlerFunc
	limits   limiters
	// unauth holds the per-address budgets of UnauthenticatedLog and
	// UnauthenticatedBudget.
	unauth unauthTracker
}

// Handle serves interface i with h. It panics on an unknown interface or
// a nil handler: that is a programming error.
func (s *Server) Handle(i protocol.Interface, h HandlerFunc) {
	if _, ok := protocol.Lookup(string(i)); !ok {
		panic(fmt.Sprintf("transport: Handle(%q): unknown interface", string(i)))
	}
	if h == nil {
		panic("transport: Handle: nil handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handlers == nil {
		s.handlers = map[protocol.Interface]HandlerFunc{}
	}
	s.handlers[i] = h
}

// Served returns the interfaces with a handler, in spec order.
func (s *Server) Served() []protocol.Interface {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []protocol.Interface
	for _, i := range protocol.All {
		if s.handlers[i] != nil {
			out = append(out, i)
		}
	}
	return out
}

func (s *Server) handler(i protocol.Interface) HandlerFunc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.handlers[i]
}

// BodyLimit returns the body limit of interface i.
func (s *Server) BodyLimit(i protocol.Interface) int64 {
	if n, ok := s.BodyLimits[i]; ok && n > 0 {
		return n
	}
	n := s.MaxBody
	if n <= 0 {
		n = DefaultMaxBody
	}
	if i == protocol.UploadBaohanFile && n < DefaultMaxUploadBody {
		n = DefaultMaxUploadBody
	}
	return n
}

// rateLimitOf returns the limit that applies to peer.
func (s *Server) rateLimitOf(peer *Peer) RateLimit {
	if !peer.RateLimit.IsZero() {
		return peer.RateLimit
	}
	if !s.RateLimit.IsZero() {
		return s.RateLimit
	}
	return DefaultRateLimit
}

// DefaultUnauthenticatedLog is the default UnauthenticatedLog: 10 bodies
// a second per address, 100 at once.
var DefaultUnauthenticatedLog = RateLimit{Rate: 10, Burst: 100}

func (s *Server) unauthLogLimit() RateLimit {
	if s.UnauthenticatedLog.IsZero() {
		return DefaultUnauthenticatedLog
	}
	return s.UnauthenticatedLog
}

func (s *Server) limitNow() time.Time {
	if s.LimitClock != nil {
		return s.LimitClock()
	}
	return time.Now()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Messages of the pipeline that are not about a field.
const (
	msgInternal       = baohan.InternalMessage
	msgHandlerPanic   = "internal error"
	msgMethod         = "method %s not allowed: send POST with a JSON body"
	msgTooLarge       = "request body is larger than %d bytes, the limit for %s"
	msgUnknownAppKey  = "unknown appkey %q"
	msgReplay         = "replayed request: this sign was already received from appkey %q; send a new request with a new timestamp and sign"
	msgAppKeyRequired = `field "appkey" is required`
	msgRateLimited    = "rate limit exceeded: appkey %q may send %s; retry in %s"
	msgNotAllowed     = "address %s may not call as appkey %q: not in the peer's allow_from"
	msgSignRequired   = `field "sign" is required`
	msgNotEnabled     = "%s (optional) not enabled: add it to the extensions of appkey %q"
)

// Bounds of what the answers echo of a request: a name the peer chose
// (interface, appkey), a path, a whole message (a parse error quotes a
// key).
const (
	maxEcho        = 60
	maxEchoPath    = 100
	maxEchoMessage = 1 << 10
)

// readBody reads the request body into one allocation of the announced
// length (bounded by the body limit, checked before), instead of
// io.ReadAll's doubling, which copies a 700 KB chunk upload about twice
// over.
func readBody(r io.Reader, announced int64) ([]byte, error) {
	if announced <= 0 {
		return io.ReadAll(r)
	}
	// One byte more, so that reading the end needs no growth.
	b := make([]byte, 0, announced+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			// More than announced (the HTTP layer would not allow it,
			// but a reader might): grow as ReadAll does.
			b = append(b, 0)[:len(b)]
		}
	}
}

// ServeHTTP runs the pipeline.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	start := s.now()
	addr := clientAddr(hr, s.TrustedProxies)
	ex := &protocol.Exchange{Direction: protocol.Inbound, At: start, Code: -1}
	seenRecorded := false
	defer func() {
		// The record of a request the replay guard reserved (ex.Seen),
		// with its answer, rides in the message log entry; it is let go
		// once that entry is committed. When the log did not record it
		// (a log that records no seen marks, a failed write, a panic),
		// the guard records it on its own first.
		m := ex.Seen
		if m == nil {
			return
		}
		if !seenRecorded {
			ctx := context.WithoutCancel(hr.Context())
			if err := s.Seen.Settle(ctx, *m); err != nil {
				s.logger().ErrorContext(ctx, "replay store failed", "interface", ex.Interface, "peer", ex.Peer, "err", err)
			}
		}
		s.Seen.Release(m.AppKey, m.Sign)
	}()
	var stored []byte
	status, resp := s.serve(w, hr, ex, addr, &stored)
	full := resp.Message
	if clipped := protocol.ClipMessage(full); clipped != full {
		// The spec's message is 100 characters: the peer gets the start,
		// the message log (ex.Error) and the console the whole of it.
		resp.Message = clipped
		if ex.SignOK { // what nobody signed goes to the log within the unauthenticated budget only
			s.logger().InfoContext(hr.Context(), "answer message clipped to 100 characters", "interface", ex.Interface,
				"peer", ex.Peer, "applyno", ex.ApplyNo, "message", full)
		}
	}
	body := stored
	if body == nil {
		body = resp.Marshal()
	}
	if m := ex.Seen; m != nil {
		// What a retry of this request will be answered (unless it is
		// handled again); an internal failure is not an answer: the
		// record goes, and a retry is handled anew.
		if !m.Rehandle {
			m.Answer = body
		}
		m.Forget = resp.Code != protocol.CodeOK && (full == msgInternal || full == msgHandlerPanic)
	}

	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusMethodNotAllowed {
		h.Set("Allow", http.MethodPost)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)

	ex.Response = body
	ex.HTTPStatus = status
	ex.Code = resp.Code
	if resp.Code != protocol.CodeOK {
		ex.Error = full
	}
	ex.Latency = s.now().Sub(start)
	ctx := context.WithoutCancel(hr.Context())
	// Nobody proved to hold an appsecret (or the rate limit refused the
	// request): record what the address's budget allows, or an outsider
	// could fill the disk through the log.
	record, unauth := true, unauthenticated(ex)
	if unauth && s.Log != nil {
		record = s.admit(ctx, ex, addr)
	}
	if s.Log != nil && record {
		recorded, logErr := s.Log.Record(ctx, ex)
		seenRecorded = recorded && logErr == nil
		if logErr != nil {
			args := []any{"interface", ex.Interface, "peer", ex.Peer, "applyno", ex.ApplyNo, "err", logErr.Error()}
			const msg = "message log: recording an inbound exchange failed"
			if unauth {
				s.logUnauthenticated(ctx, addr, slog.LevelError, msg, args...)
			} else {
				s.logger().ErrorContext(ctx, msg, args...)
			}
		}
	}
	if s.Metrics != nil {
		s.Metrics.ObserveExchange(ex)
	}
}

// serve returns the HTTP status and the answer, filling ex.
// Every value copied from the request into ex, and so into the message
// log, is clipped to the spec's maximum length; so are the values the
// log lines quote before the sign verified.
// A retry answered with the first request's answer sets *stored to it
// (the returned Response is that answer, parsed).
func (s *Server) serve(w http.ResponseWriter, hr *http.Request, ex *protocol.Exchange, addr netip.Addr, stored *[]byte) (int, protocol.Response) {
	name, ok := s.route(hr.URL.Path)
	if !ok {
		return http.StatusNotFound, protocol.Fail("no interface at path %q: interfaces are served at %s/<interface>", clip(hr.URL.Path, maxEchoPath), s.prefix())
	}
	i, known := protocol.Lookup(name)
	ex.Interface = clipChars(name, maxInterfaceName)
	if !known {
		msg := fmt.Sprintf("unknown interface %q", clip(name, maxEcho))
		if sug, ok := protocol.Suggest(name); ok {
			msg += fmt.Sprintf(" (did you mean %q?", string(sug))
			if sug == protocol.CancelNotice {
				msg += " the spec spells it so"
			}
			msg += ")"
		}
		return http.StatusNotFound, protocol.Fail("%s", msg)
	}
	h := s.handler(i)
	if h == nil {
		return http.StatusNotFound, protocol.Fail("interface %q is not served here (it is served by the %s)", name, i.ServedBy())
	}
	if hr.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, protocol.Fail(msgMethod, hr.Method)
	}

	limit := s.BodyLimit(i)
	if hr.ContentLength > limit {
		return http.StatusRequestEntityTooLarge, protocol.Fail(msgTooLarge, limit, name)
	}
	body, err := readBody(http.MaxBytesReader(w, hr.Body, limit), hr.ContentLength)
	ex.Request = body
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return http.StatusRequestEntityTooLarge, protocol.Fail(msgTooLarge, limit, name)
		}
		return http.StatusBadRequest, protocol.Fail("reading the request body: %v", err)
	}

	ctx := hr.Context()
	req, err := protocol.ParseRequest(body)
	if err != nil {
		msg := err.Error()
		if ct := contentType(hr); ct != "" && ct != "application/json" {
			msg += fmt.Sprintf(" (Content-Type %s; send one flat JSON object as application/json)", clip(ct, maxEcho))
		}
		return http.StatusOK, protocol.Fail("%s", clip(msg, maxEchoMessage))
	}
	ex.ApplyNo, ex.BaohanNo = clipField("applyno", req.Get("applyno")), clipField("baohanno", req.Get("baohanno"))

	appkey := req.Get("appkey")
	ex.Peer = clipField("appkey", appkey)
	if appkey == "" {
		return http.StatusOK, protocol.Fail(msgAppKeyRequired)
	}
	peer, err := s.Peers.PeerByAppKey(ctx, appkey)
	if err != nil && !errors.Is(err, ErrUnknownPeer) {
		s.logUnauthenticated(ctx, addr, slog.LevelError, "looking up an appkey failed", "appkey", ex.Peer, "interface", name,
			"err", clip(err.Error(), maxEchoMessage))
		return http.StatusOK, protocol.Fail(msgInternal)
	}
	if peer == nil {
		return http.StatusOK, protocol.Fail(msgUnknownAppKey, clip(appkey, maxEcho))
	}
	ex.Peer = peer.Name

	if len(peer.AllowFrom) > 0 && !allowed(peer.AllowFrom, addr) {
		shown := "(unknown)"
		if addr.IsValid() {
			shown = addr.String()
		}
		s.logUnauthenticated(ctx, addr, slog.LevelWarn, "request from an address outside the peer's allow_from", "interface", name,
			"peer", peer.Name, "addr", shown, "remote", clip(hr.RemoteAddr, maxEcho))
		return http.StatusForbidden, protocol.Fail(msgNotAllowed, shown, clip(appkey, maxEcho))
	}

	vr := protocol.VerifyAs(req, peer.AppSecret, peer.Profile.Sign)
	ex.SignOK, ex.Diagnosis = vr.OK, vr.Diagnosis()
	if !vr.OK {
		if vr.Got == "" {
			return http.StatusOK, protocol.Fail(msgSignRequired)
		}
		// Never log vr.Expected: it is a valid sign for the sender's
		// fields, so whoever reads the logs could send them with it.
		s.logUnauthenticated(ctx, addr, slog.LevelWarn, "sign mismatch", "interface", name, "peer", peer.Name, "applyno", ex.ApplyNo,
			"got", clipField("sign", vr.Got), "diagnosis", ex.Diagnosis)
		// The answer says which variant was used in the spec's 100
		// characters; the whole diagnosis is in the log and the message
		// log (ex.Diagnosis).
		return http.StatusOK, protocol.Fail("%s", vr.Summary())
	}

	if !peer.Enabled(i) {
		return http.StatusOK, protocol.Fail(msgNotEnabled, name, clip(appkey, maxEcho))
	}

	lim := s.rateLimitOf(peer)
	if ok, wait := s.limits.allow(appkey, lim, s.limitNow()); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
		s.logUnauthenticated(ctx, addr, slog.LevelWarn, "rate limit exceeded", "interface", name, "peer", peer.Name, "limit", lim.String())
		return http.StatusTooManyRequests, protocol.Fail(msgRateLimited, clip(appkey, maxEcho), lim.String(), wait.Round(time.Millisecond))
	}

	window := peer.Profile.Window()
	ts := req.Get("timestamp")
	if err := protocol.CheckTimestamp(ts, s.now(), window); err != nil {
		return http.StatusOK, protocol.Fail("%s", err.Error())
	}
	if s.Seen != nil {
		t, _ := protocol.ParseTime(ts) // checked above
		mark := protocol.SeenMark{AppKey: appkey, Sign: strings.ToLower(vr.Got), Until: t.Add(window), Digest: protocol.ReplayDigest(i, body)}
		if ex.Interface == string(i) {
			ex.RequestDigest = mark.Digest // the log's digest of the body: one pass over it, not two
		}
		claim, err := s.Seen.Reserve(ctx, mark)
		if err != nil {
			s.logger().ErrorContext(ctx, "replay store failed", "interface", name, "peer", peer.Name, "err", err)
			return http.StatusOK, protocol.Fail(msgInternal)
		}
		switch {
		case !claim.Seen:
			// Settled with the answer and released by ServeHTTP.
			mark.Rehandle = s.Rehandle[i]
			ex.Seen = &mark
		case !claim.Same:
			return http.StatusOK, protocol.Fail(msgReplay, appkey)
		default:
			if status, resp, again := s.retry(ctx, ex, mark, claim, stored); !again {
				return status, resp
			}
			// Its answer was not kept: handled again, below.
		}
	}

	if vs := protocol.ValidateIn(peer.Profile.Revision, i, req); len(vs) > 0 {
		max := s.MaxViolations
		if max == 0 {
			max = DefaultMaxViolations
		}
		return http.StatusOK, protocol.Fail("%s", protocol.JoinViolations(vs, max))
	}

	data, err := s.call(ctx, h, i, peer, req)
	switch {
	case err == nil:
	case errors.Is(err, errPanic): // logged with its stack by call
		return http.StatusOK, protocol.Fail(msgHandlerPanic)
	case baohan.IsRefusal(err):
		return http.StatusOK, protocol.Fail("%s", err.Error())
	default:
		s.logger().ErrorContext(ctx, "handler failed", "interface", name, "peer", peer.Name,
			"applyno", ex.ApplyNo, "err", err)
		return http.StatusOK, protocol.Fail(msgInternal)
	}
	resp, err := safeOK(data)
	if err != nil {
		s.logger().ErrorContext(ctx, "handler returned data that does not marshal", "interface", name, "err", err)
		return http.StatusOK, protocol.Fail(msgInternal)
	}
	return http.StatusOK, resp
}

// Messages of a retry the first request's answer is not there for.
const (
	msgRetryPending   = "the same request is still being handled; send it again as it is, later, for its answer"
	msgRetryForgotten = baohan.InternalMessage
)

// retry answers a retry (the same request again) with the answer of the
// first, waiting for it while the first is handled (at most RetryWait).
// again: the first answer was not kept (Rehandle), the retry is to be
// handled again.
func (s *Server) retry(ctx context.Context, ex *protocol.Exchange, m protocol.SeenMark, c protocol.Claim, stored *[]byte) (status int, resp protocol.Response, again bool) {
	ex.Retry = true
	if c.Answer == nil && !c.Rehandle {
		wait := s.RetryWait
		if wait <= 0 {
			wait = DefaultRetryWait
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		w, err := s.Seen.Wait(wctx, m.AppKey, m.Sign)
		cancel()
		switch {
		case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
			return http.StatusOK, protocol.Fail(msgRetryPending), false
		case err != nil:
			s.logger().ErrorContext(ctx, "replay store failed", "interface", ex.Interface, "peer", ex.Peer, "err", err)
			return http.StatusOK, protocol.Fail(msgInternal), false
		case w.Answer == nil && !w.Rehandle:
			// The first failed inside this service and left no answer.
			return http.StatusOK, protocol.Fail(msgRetryForgotten), false
		}
		c = w
	}
	if c.Rehandle {
		return 0, protocol.Response{}, true
	}
	r, err := protocol.ParseResponse(c.Answer)
	if err != nil {
		s.logger().ErrorContext(ctx, "replay store: a stored answer does not parse", "interface", ex.Interface, "peer", ex.Peer, "err", err)
		return http.StatusOK, protocol.Fail(msgInternal), false
	}
	*stored = c.Answer
	return http.StatusOK, *r, false
}

// errPanic marks a recovered handler panic.
var errPanic = errors.New(msgHandlerPanic)

// call runs the handler, turning a panic into an error (it is still a
// bug: logged with the stack).
func (s *Server) call(ctx context.Context, h HandlerFunc, i protocol.Interface, peer *Peer, req *protocol.Request) (data any, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.logger().ErrorContext(ctx, "handler panic", "interface", string(i), "peer", peer.Name,
				"applyno", req.Get("applyno"), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			data, err = nil, errPanic
		}
	}()
	return h(ctx, peer, req)
}

func safeOK(data any) (resp protocol.Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	return protocol.OK(data), nil
}

func (s *Server) prefix() string { return strings.TrimRight(s.Prefix, "/") }

// route returns the interface name of a path <Prefix>/<name>.
func (s *Server) route(path string) (string, bool) {
	p := s.prefix()
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	rest, ok := strings.CutPrefix(path, p+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return rest, true
}

func contentType(hr *http.Request) string {
	ct := hr.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
