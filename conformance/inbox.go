package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// maxInbound bounds the bodies the kit accepts (a chunk of 8 MiB in base64
// with room to spare).
const maxInbound = 16 << 20

// Inbound is one call the implementation made to the kit.
type Inbound struct {
	Interface protocol.Interface
	// Req is the parsed request; nil when the body was not a flat JSON
	// object.
	Req *protocol.Request
	At  time.Time
	// Problems lists what was wrong with the call: its sign, timestamp,
	// fields, appkey, a replay. A call with problems is refused (code 0)
	// as a conforming receiver would.
	Problems []string
	// Answer is what the kit answered.
	Answer   protocol.Response
	Exchange Exchange

	claimed bool
}

// Get returns a field of the request ("" when absent or unparsed).
func (in *Inbound) Get(name string) string {
	if in.Req == nil {
		return ""
	}
	return in.Req.Get(name)
}

// responder answers a call that passed the pipeline.
type responder func(ctx context.Context, in *Inbound) protocol.Response

// inbox is the kit's endpoint: it checks every call of the
// implementation like a conforming receiver, answers it, and keeps it for
// the checks to wait on and inspect.
type inbox struct {
	cfg  *Config
	seen *protocol.MemorySeen
	// serves are the interfaces the kit serves (the side it plays).
	serves map[protocol.Interface]responder

	mu      sync.Mutex
	calls   []*Inbound
	changed chan struct{} // closed on every new call
}

func newInbox(cfg *Config) *inbox {
	return &inbox{
		cfg:     cfg,
		seen:    &protocol.MemorySeen{Now: cfg.Now},
		serves:  map[protocol.Interface]responder{},
		changed: make(chan struct{}),
	}
}

func (ib *inbox) handle(i protocol.Interface, r responder) { ib.serves[i] = r }

func (ib *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	i, known := protocol.Lookup(name)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInbound+1))
	in := &Inbound{Interface: i, At: ib.cfg.Now()}
	in.Exchange = Exchange{Direction: "in", Interface: i, URL: r.URL.String(), Request: string(body), At: in.At}
	start := time.Now()
	var resp protocol.Response
	switch {
	case !known || ib.serves[i] == nil:
		resp = protocol.Fail("unknown interface %q: the kit serves %s", name, ib.servedList())
		if s, ok := protocol.Suggest(name); ok && ib.serves[s] != nil {
			resp = protocol.Fail("unknown interface %q (did you mean %q?)", name, s)
		}
		in.Problems = append(in.Problems, resp.Message)
	case r.Method != http.MethodPost:
		resp = protocol.Fail("use POST, not %s", r.Method)
		in.Problems = append(in.Problems, resp.Message)
	case err != nil:
		resp = protocol.Fail("reading the body: %v", err)
		in.Problems = append(in.Problems, resp.Message)
	case len(body) > maxInbound:
		resp = protocol.Fail("body larger than %d bytes", maxInbound)
		in.Problems = append(in.Problems, resp.Message)
	default:
		resp = ib.check(r.Context(), in, body)
	}
	in.Answer = resp
	b := resp.Marshal()
	in.Exchange.HTTPStatus = http.StatusOK
	in.Exchange.Response = string(b)
	in.Exchange.Latency = time.Since(start)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	ib.add(in)
}

// check runs the pipeline a conforming receiver runs, then the responder.
func (ib *inbox) check(ctx context.Context, in *Inbound, body []byte) protocol.Response {
	req, err := protocol.ParseRequest(body)
	if err != nil {
		in.Problems = append(in.Problems, "body: "+err.Error())
		return protocol.Fail("%s", err.Error())
	}
	in.Req = req
	if ak := req.Get("appkey"); ak != ib.cfg.AppKey {
		msg := fmt.Sprintf("unknown appkey %q", ak)
		if ak == "" {
			msg = `field "appkey" is required`
		}
		in.Problems = append(in.Problems, msg)
		return protocol.Fail("%s", msg)
	}
	if v := protocol.VerifyAs(req, ib.cfg.AppSecret, ib.cfg.Profile.Sign); !v.OK {
		msg := "sign: " + v.Diagnosis()
		in.Problems = append(in.Problems, msg)
		return protocol.Fail("%s", msg)
	}
	if err := protocol.CheckTimestamp(req.Get("timestamp"), ib.cfg.Now(), ib.cfg.Profile.Window); err != nil {
		in.Problems = append(in.Problems, err.Error())
		return protocol.Fail("%s", err.Error())
	}
	if vs := protocol.ValidateIn(ib.cfg.Profile.Revision, in.Interface, req); len(vs) > 0 {
		msg := protocol.JoinViolations(vs, 5)
		in.Problems = append(in.Problems, msg)
		return protocol.Fail("%s", msg)
	}
	if pc := ib.cfg.PlatformCode; pc != "" && protocol.SpecOf(in.Interface).Field("platformcode") != nil && req.Get("platformcode") != pc &&
		(req.Get("platformcode") != "" || !ib.cfg.Profile.Revision.Flat()) { // the flat revision may send none
		msg := fmt.Sprintf("platformcode %q, expected %q", req.Get("platformcode"), pc)
		in.Problems = append(in.Problems, msg)
		return protocol.Fail("%s", msg)
	}
	// A retry (the same body again) is answered as the first; another
	// body under a sign already received is a replay.
	mark := protocol.SeenMark{AppKey: req.Get("appkey"), Sign: strings.ToLower(req.Get(protocol.SignField)),
		Until: ib.cfg.Now().Add(2 * ib.cfg.Profile.Window), Digest: protocol.ReplayDigest(in.Interface, body)}
	claim, err := ib.seen.Reserve(ctx, mark)
	switch {
	case err != nil:
		return protocol.Fail("%s", err.Error())
	case claim.Seen && !claim.Same:
		msg := "replay: this sign was already received with another body (a new request must be signed again with a new timestamp)"
		in.Problems = append(in.Problems, msg)
		return protocol.Fail("%s", msg)
	case claim.Seen:
		answer := claim.Answer
		if answer == nil {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			w, _ := ib.seen.Wait(wctx, mark.AppKey, mark.Sign)
			answer = w.Answer
			cancel()
		}
		if r, err := protocol.ParseResponse(answer); err == nil {
			return *r
		}
		return protocol.Fail("this request was already received and is still being handled; send it again later for its answer")
	}
	resp := ib.serves[in.Interface](ctx, in)
	mark.Answer = resp.Marshal()
	_ = ib.seen.Settle(ctx, mark)
	return resp
}

func (ib *inbox) servedList() string {
	var names []string
	for _, i := range protocol.All {
		if ib.serves[i] != nil {
			names = append(names, string(i))
		}
	}
	return strings.Join(names, ", ")
}

func (ib *inbox) add(in *Inbound) {
	ib.mu.Lock()
	ib.calls = append(ib.calls, in)
	close(ib.changed)
	ib.changed = make(chan struct{})
	ib.mu.Unlock()
}

// errTimeout is returned by wait when nothing matching arrived in time.
var errTimeout = errors.New("timed out")

// wait returns the first unclaimed call of interface i that satisfies
// match (nil: any) and claims it, waiting up to d for one to arrive.
func (ib *inbox) wait(ctx context.Context, d time.Duration, i protocol.Interface, match func(*Inbound) bool) (*Inbound, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		ib.mu.Lock()
		for _, in := range ib.calls {
			if !in.claimed && in.Interface == i && (match == nil || match(in)) {
				in.claimed = true
				ib.mu.Unlock()
				return in, nil
			}
		}
		ch := ib.changed
		ib.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return nil, fmt.Errorf("%w after %s waiting for %s", errTimeout, d, i)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// all returns the calls of interface i so far ("" for every interface).
func (ib *inbox) all(i protocol.Interface) []*Inbound {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	var out []*Inbound
	for _, in := range ib.calls {
		if i == "" || in.Interface == i {
			out = append(out, in)
		}
	}
	return out
}
