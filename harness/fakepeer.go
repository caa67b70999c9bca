package harness

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// FakePeer answers for a peer that is not there, quickly: it checks the
// appkey and the sign, answers code 1 (a redirecturl to baohanapply) and
// counts, per applyno, the baohanrestore calls it acknowledged (checking
// the key). With FailFirst it fails the first baohanrestore of every
// applyno (so half of its calls when each is retried once): with HTTP
// 500, or every TimeoutEvery-th failure by holding the request until the
// caller gives up (a timeout). The benchmarks put it in place of the
// institutions the platform calls and of the platform the institution
// calls back.
type FakePeer struct {
	Name, AppKey, Secret string

	FailFirst    bool
	TimeoutEvery int           // 0: no timeouts
	HoldMax      time.Duration // longest hold of a timeout (default 1 minute)

	srv *http.Server
	url string
	err chan error

	mu       sync.Mutex
	attempts map[string]int       // applyno -> baohanrestore calls
	acks     map[string]int       // applyno -> code 1 answers to baohanrestore
	ackAt    map[string]time.Time // applyno -> first acknowledgement

	calls, acked, failed, timeouts, refused atomic.Int64
}

// NewFakePeer returns a fake peer; set the failure fields, then Start
// it.
func NewFakePeer(name, appkey, secret string) *FakePeer {
	return &FakePeer{Name: name, AppKey: appkey, Secret: secret,
		attempts: map[string]int{}, acks: map[string]int{}, ackAt: map[string]time.Time{}}
}

// StartFakePeer serves a fake peer that never fails on 127.0.0.1.
func StartFakePeer(name, appkey, secret string) (*FakePeer, error) {
	f := NewFakePeer(name, appkey, secret)
	return f, f.Start()
}

// Start serves the peer on 127.0.0.1.
func (f *FakePeer) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	f.url, f.err = "http://"+ln.Addr().String(), make(chan error, 1)
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { f.err <- f.srv.Serve(ln) }()
	return nil
}

// URL is the peer's base URL.
func (f *FakePeer) URL() string { return f.url }

// Close stops the server at once (connections in flight are cut).
func (f *FakePeer) Close() error {
	if f.srv == nil {
		return nil
	}
	err := f.srv.Close()
	if serr := <-f.err; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	f.srv = nil
	return err
}

func (f *FakePeer) answer(w http.ResponseWriter, r protocol.Response) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(r.Marshal())
}

func (f *FakePeer) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	f.calls.Add(1)
	body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := protocol.ParseRequest(body)
	if err != nil {
		f.refused.Add(1)
		f.answer(w, protocol.Fail("%v", err))
		return
	}
	if req.Get("appkey") != f.AppKey {
		f.refused.Add(1)
		f.answer(w, protocol.Fail("unknown appkey %q", req.Get("appkey")))
		return
	}
	if vr := protocol.Verify(req, f.Secret); !vr.OK {
		f.refused.Add(1)
		f.answer(w, protocol.Fail("sign mismatch: %s", vr.Diagnosis()))
		return
	}
	iface := strings.TrimPrefix(hr.URL.Path, "/")
	switch protocol.Interface(iface) {
	case protocol.BaohanRestore:
		f.restore(w, hr, req)
	case protocol.BaohanApply:
		f.answer(w, protocol.OK(protocol.ApplyResult{RedirectURL: "https://fi.example.cn/bidder/" + req.Get("applyno")}))
	default:
		f.answer(w, protocol.OK(nil))
	}
}

func (f *FakePeer) restore(w http.ResponseWriter, hr *http.Request, req *protocol.Request) {
	applyNo := req.Get("applyno")
	if k, err := base64.StdEncoding.DecodeString(req.Get("key")); err != nil || len(k) != 16 {
		f.refused.Add(1)
		f.answer(w, protocol.Fail("key: not base64 of 16 bytes"))
		return
	}
	f.mu.Lock()
	f.attempts[applyNo]++
	first := f.attempts[applyNo] == 1
	f.mu.Unlock()
	if f.FailFirst && first {
		n := f.failed.Add(1)
		if f.TimeoutEvery > 0 && n%int64(f.TimeoutEvery) == 0 {
			f.timeouts.Add(1)
			hold := f.HoldMax
			if hold <= 0 {
				hold = time.Minute
			}
			t := time.NewTimer(hold)
			defer t.Stop()
			select {
			case <-hr.Context().Done():
			case <-t.C:
			}
		}
		http.Error(w, "institution unavailable (bench failure injection)", http.StatusInternalServerError)
		return
	}
	now := time.Now()
	f.mu.Lock()
	f.acks[applyNo]++
	if _, ok := f.ackAt[applyNo]; !ok {
		f.ackAt[applyNo] = now
	}
	f.mu.Unlock()
	f.acked.Add(1)
	f.answer(w, protocol.OK(nil))
}

// RestoreCounts summarizes the restores: calls received (all
// interfaces), acknowledgements, distinct applynos acknowledged, applynos
// acknowledged more than once, injected failures and timeouts, refusals.
type RestoreCounts struct {
	Calls, Acks, Distinct, Twice, Failed, Timeouts, Refused int
}

// Counts returns the counts so far.
func (f *FakePeer) Counts() RestoreCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := RestoreCounts{Calls: int(f.calls.Load()), Acks: int(f.acked.Load()), Distinct: len(f.acks),
		Failed: int(f.failed.Load()), Timeouts: int(f.timeouts.Load()), Refused: int(f.refused.Load())}
	for _, n := range f.acks {
		if n > 1 {
			c.Twice++
		}
	}
	return c
}

// Acked is the number of acknowledgements so far (cheap; for polling).
func (f *FakePeer) Acked() int { return int(f.acked.Load()) }

// AckTimes returns the first acknowledgement time of every applyno.
func (f *FakePeer) AckTimes() map[string]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]time.Time, len(f.ackAt))
	for k, v := range f.ackAt {
		out[k] = v
	}
	return out
}
