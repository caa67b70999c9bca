package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// Check is one thing the kit verifies.
type Check struct {
	ID        string
	Title     string
	Interface protocol.Interface
	Expected  string
	// Optional checks warn instead of failing (an optional interface, a
	// recommendation of the profile).
	Optional bool
	// Needs lists checks that must have passed for this one to run;
	// otherwise it is skipped.
	Needs []string
	Run   func(ctx context.Context, t *T)
}

// T is the state of one running check.
type T struct {
	r     *Result
	w     *wire
	done  bool
	start time.Time
}

func (t *T) conclude(s Status, format string, a ...any) {
	if !t.done {
		t.r.Status = s
		t.r.Got = fmt.Sprintf(format, a...)
		t.done = true
	}
	runtime.Goexit()
}

// Pass ends the check as passed with what was seen.
func (t *T) Pass(format string, a ...any) { t.conclude(Pass, format, a...) }

// Fail ends the check as failed with what was seen instead.
func (t *T) Fail(format string, a ...any) { t.conclude(Fail, format, a...) }

// Skip ends the check as skipped with the reason.
func (t *T) Skip(format string, a ...any) { t.conclude(Skip, format, a...) }

// Observe adds an exchange the check looked at (a call the
// implementation made to the kit).
func (t *T) Observe(ex Exchange) { t.r.Exchanges = append(t.r.Exchanges, ex) }

// call signs fields, sends them to interface i and records the exchange.
func (t *T) call(ctx context.Context, i protocol.Interface, fields map[string]string) *reply {
	rep := t.w.call(ctx, i, fields)
	t.r.Exchanges = append(t.r.Exchanges, rep.Ex)
	return rep
}

// sign signs fields with a sign never made before (see wire.signUnique).
func (t *T) sign(ctx context.Context, fields map[string]string) map[string]string {
	f, err := t.w.signUnique(ctx, fields)
	if err != nil {
		t.Fail("%v", err)
	}
	return f
}

// callEventually is call, retried while the answer is code 0 for up to
// d: for steps that depend on the implementation having recorded an
// earlier answer of the kit.
func (t *T) callEventually(ctx context.Context, d time.Duration, i protocol.Interface, fields map[string]string) *reply {
	deadline := time.Now().Add(d)
	for {
		rep := t.call(ctx, i, fields)
		if rep.code() != protocol.CodeFail || time.Now().After(deadline) {
			return rep
		}
		select {
		case <-time.After(d / 10):
		case <-ctx.Done():
			return rep
		}
	}
}

// post sends a raw body and records the exchange.
func (t *T) post(ctx context.Context, i protocol.Interface, body []byte) *reply {
	rep := t.w.post(ctx, i, body)
	t.r.Exchanges = append(t.r.Exchanges, rep.Ex)
	return rep
}

// mustAccept fails the check unless the answer is a JSON envelope with
// code 1; what describes the call for the message.
func (t *T) mustAccept(rep *reply, what string) {
	if rep.code() != protocol.CodeOK {
		t.Fail("%s: %s", what, rep.describe())
	}
}

// expectRefused ends the check: passed when the answer is a JSON envelope
// with code 0, failed otherwise.
func (t *T) expectRefused(rep *reply) {
	switch rep.code() {
	case protocol.CodeFail:
		t.Pass("refused: %q", clipText(rep.Resp.Message, 160))
	case protocol.CodeOK:
		t.Fail("accepted (code 1 %q)", clipText(rep.Resp.Message, 120))
	}
	t.Fail("%s", rep.describe())
}

// expectSameAnswer ends the check: passed when again is the answer of
// first (code, message and data), as a retry must be answered.
func (t *T) expectSameAnswer(first, again *reply) {
	if first.Resp == nil || again.Resp == nil {
		t.Fail("%s", again.describe())
	}
	if again.Resp.Code == first.Resp.Code && again.Resp.Message == first.Resp.Message && bytes.Equal(again.Resp.Data, first.Resp.Data) {
		t.Pass("answered as the first: code %d", again.Resp.Code)
	}
	t.Fail("answered %s; the first was code %d %q (a retry must get the first answer, not be refused or handled anew)",
		again.describe(), first.Resp.Code, clipText(first.Resp.Message, 80))
}

// expectAccepted ends the check: passed on code 1.
func (t *T) expectAccepted(rep *reply) {
	if rep.code() == protocol.CodeOK {
		t.Pass("accepted: code 1")
	}
	t.Fail("%s", rep.describe())
}

// Suite is an ordered list of checks against one implementation.
type Suite struct {
	side   protocol.Side // under test
	cfg    *Config
	checks []Check
	inbox  *inbox
	wire   *wire
	// state the checks share, set by the suite's constructor.
	closeFn func()
}

// SetProgress sets the function called as each check ends (it replaces
// Config.Progress).
func (s *Suite) SetProgress(fn func(Result)) { s.cfg.Progress = fn }

// Side returns the side under test.
func (s *Suite) Side() protocol.Side { return s.side }

// Checks returns the suite's checks in the order they run.
func (s *Suite) Checks() []Check { return append([]Check(nil), s.checks...) }

// Handler is the kit's endpoint: the implementation under test sends its
// calls to it (its peer base URL is where Handler is served; interfaces
// are matched by the last path element).
func (s *Suite) Handler() http.Handler { return s.inbox }

// Run runs every check in order and returns the report. Checks whose
// needs did not pass are skipped. Run honours ctx: when it is done, the
// remaining checks are skipped.
func (s *Suite) Run(ctx context.Context) *Report {
	rep := &Report{Side: s.side, Target: s.cfg.URL, Listener: s.cfg.ListenURL, Started: s.cfg.Now()}
	start := time.Now()
	status := map[string]Status{}
	for _, c := range s.checks {
		res := s.runOne(ctx, c, status)
		status[c.ID] = res.Status
		rep.Results = append(rep.Results, res)
		if s.cfg.Progress != nil {
			s.cfg.Progress(res)
		}
	}
	rep.Duration = time.Since(start)
	rep.Interfaces = s.interfacesUsed()
	return rep
}

func (s *Suite) runOne(ctx context.Context, c Check, status map[string]Status) Result {
	res := Result{ID: c.ID, Title: c.Title, Interface: c.Interface, Expected: c.Expected, Optional: c.Optional}
	var missing []string
	for _, n := range c.Needs {
		if status[n] != Pass && status[n] != Warn {
			missing = append(missing, n)
		}
	}
	switch {
	case len(missing) > 0:
		res.Status = Skip
		res.Got = "not run: needs " + strings.Join(missing, ", ")
		return res
	case ctx.Err() != nil:
		res.Status = Skip
		res.Got = "not run: " + ctx.Err().Error()
		return res
	}
	t := &T{r: &res, w: s.wire, start: time.Now()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				t.r.Status, t.r.Got, t.done = Fail, fmt.Sprintf("the kit failed: %v", p), true
			}
		}()
		c.Run(ctx, t)
	}()
	<-done
	if !t.done {
		res.Status, res.Got = Fail, "the check ended without a verdict (a bug in the kit)"
	}
	if c.Optional && res.Status == Fail {
		res.Status = Warn
	}
	if res.Status == Pass || res.Status == Skip {
		res.Exchanges = nil // the raw exchanges are for what went wrong
	}
	for k := range res.Exchanges {
		res.Exchanges[k].Request = clipRaw(res.Exchanges[k].Request)
		res.Exchanges[k].Response = clipRaw(res.Exchanges[k].Response)
	}
	res.Duration = time.Since(t.start)
	return res
}

// maxRaw bounds the raw request and response kept per exchange in a
// report (a chunk's base64 is cut, its length noted).
const maxRaw = 16 << 10

func clipRaw(s string) string {
	if len(s) <= maxRaw {
		return s
	}
	return clipText(s, maxRaw)
}

// interfacesUsed lists the interfaces exchanged in either direction, in
// spec order, the optional ones last.
func (s *Suite) interfacesUsed() []protocol.Interface {
	used := map[protocol.Interface]bool{}
	for _, ex := range s.wire.exchanges() {
		if ex.Error == "" {
			used[ex.Interface] = true
		}
	}
	for _, in := range s.inbox.all("") {
		if in.Req != nil {
			used[in.Interface] = true
		}
	}
	var out []protocol.Interface
	for _, i := range protocol.All {
		// An optional interface counts when enabled: the check that a
		// platform refuses one it does not enable exchanges it too.
		if used[i] && (!i.Optional() || s.cfg.enabled(i)) {
			out = append(out, i)
		}
	}
	return out
}

// checkIDs returns the IDs of cs, sorted (for tests and documentation).
func checkIDs(cs []Check) []string {
	ids := make([]string, len(cs))
	for k, c := range cs {
		ids[k] = c.ID
	}
	sort.Strings(ids)
	return ids
}
