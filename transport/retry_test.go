package transport

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// TestAnswerKinds: which refusals a sender sends again as they were, later
// (StillHandled), which it sends again signed anew
// (RefusedUnprocessed), which it takes for "already have it"
// (AlreadyProcessed), and which are the peer's decision (neither). The
// messages of baohan's own services are among them, so that a decision
// of one of them is never mistaken for either.
func TestAnswerKinds(t *testing.T) {
	tests := []struct {
		msg                 string
		unprocessed, dupAns bool
		still               bool
	}{
		{msgRetryPending, false, false, true},
		{"该请求正在处理中，请稍后重试", false, false, true},
		{`replayed request: this sign was already received from appkey "K"; send a new request with a new timestamp and sign`, true, true, false},
		{`timestamp "2024-03-15 14:05:12" is 11m0s behind the receiver's clock (2024-03-15 14:16:12); the allowed difference is 10m0s`, true, false, false},
		{"时间戳已过期", true, false, false},
		{"internal error; try again later", true, false, false},
		{"重放请求", true, false, false},
		{"duplicate applyno", false, true, false},
		{"重复提交：申请编号已存在", false, true, false},
		{"该保函已处理，请勿重复提交", false, true, false},
		{"notice already processed", false, true, false},
		// Decisions, whatever words they share with the above.
		{`applyno "A1" was already received with other applydata or digitalenvelope; a new application needs a new applyno`, false, false, false},
		{"index 3 was already received with different content (sm3 ab…, now cd…); a chunk cannot be replaced", false, false, false},
		{"baohanno B1 is already used by another application of institution X", false, false, false},
		{"the ciphertext guarantee of applyno A1 already has 9 chunks, the most a file of at most 10 bytes can have", false, false, false},
		{`applyno "A1" already has a guarantee issued; it cannot be given up`, false, false, false},
		{"conflicting baohannotice for applyno A1: rate was \"0.005\" in the notice received at 2024-03-15 14:05:12, now \"0.006\"", false, false, false},
		{`field "timestamp" is required`, false, false, false},
		{"product unknown", false, false, false},
	}
	for _, tt := range tests {
		if got := RefusedUnprocessed(tt.msg); got != tt.unprocessed {
			t.Errorf("RefusedUnprocessed(%q) = %v", tt.msg, got)
		}
		if got := AlreadyProcessed(tt.msg); got != tt.dupAns {
			t.Errorf("AlreadyProcessed(%q) = %v", tt.msg, got)
		}
		if got := StillHandled(tt.msg); got != tt.still {
			t.Errorf("StillHandled(%q) = %v", tt.msg, got)
		}
	}
}

// TestClientSendKeepsBody: Send sends a kept body as it is, recorded as a
// retry, and the server answers it as the first; a kept body whose
// timestamp is about to leave the window, or none, is signed anew.
func TestClientSendKeepsBody(t *testing.T) {
	f := newFixture(t)
	hs := httptest.NewServer(f.srv)
	defer hs.Close()
	now := testNow
	log := &MemoryLog{}
	c := NewClient(WithHTTPClient(hs.Client()), WithMessageLog(log), WithClock(func() time.Time { return now }))
	peer := &Peer{Name: "p", AppKey: testAppKey, AppSecret: testSecret, BaseURL: hs.URL + "/baohan", Profile: DefaultProfile()}
	fields := protocol.Encode(protocol.DownloadPublicKeyRequest{ApplyNo: "JS2024031500017"})
	ctx := context.Background()

	r1, body, err := c.Send(ctx, peer, protocol.DownloadPublicKey, fields, nil)
	if err != nil || r1.Code != 1 {
		t.Fatal(r1, err)
	}
	r2, again, err := c.Send(ctx, peer, protocol.DownloadPublicKey, fields, body)
	if err != nil || !bytes.Equal(again, body) || r2.Code != 1 || string(r2.Data) != string(r1.Data) {
		t.Fatalf("kept body: sent %s (first %s), answer %+v, %v", again, body, r2, err)
	}
	out, in := log.Exchanges(), f.log.Exchanges()
	if !out[1].Retry || out[0].Retry || !in[1].Retry || in[0].Retry {
		t.Fatalf("retry flags: out %v %v, in %v %v; want the second marked on both sides", out[0].Retry, out[1].Retry, in[0].Retry, in[1].Retry)
	}
	// Other fields than the kept body carries (the request changed since):
	// signed anew.
	changed := protocol.Encode(protocol.DownloadPublicKeyRequest{ApplyNo: "JS2024031500018"})
	if _, sent, err := c.Send(ctx, peer, protocol.DownloadPublicKey, changed, body); err != nil || bytes.Equal(sent, body) {
		t.Fatalf("a kept body of other fields was sent again (%v)", err)
	}
	// Nine minutes on, the body's timestamp is too close to the edge of
	// the ten-minute window: signed anew.
	now = now.Add(9 * time.Minute)
	_, fresh, err := c.Send(ctx, peer, protocol.DownloadPublicKey, fields, body)
	if err != nil || bytes.Equal(fresh, body) {
		t.Fatalf("stale kept body sent again as it was (%v)", err)
	}
	if log.Exchanges()[3].Retry {
		t.Error("a body signed anew is marked as a retry")
	}
}

// TestMayBeProcessed: a request that went out and got no answer may have
// been processed (kept for the retry); one that never left, or that the
// peer's HTTP layer turned away, was not.
func TestMayBeProcessed(t *testing.T) {
	serve := func(h http.HandlerFunc) string {
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		return hs.URL
	}
	refused := func() string { // a port nobody listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	tests := []struct {
		name string
		url  string
		want bool
	}{
		{"connection refused", refused, false},
		{"connection cut after the request was read", serve(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close()
			}
		}), true},
		{"HTTP 502", serve(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", http.StatusBadGateway) }), true},
		{"HTTP 200, not JSON", serve(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }), true},
		{"HTTP 429", serve(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "slow down", http.StatusTooManyRequests) }), false},
		{"HTTP 404", serve(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient()
			peer := &Peer{Name: "p", AppKey: testAppKey, AppSecret: testSecret, BaseURL: tt.url, Profile: DefaultProfile()}
			_, _, err := c.Send(context.Background(), peer, protocol.BaohanNotice, noticeFields(), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if got := MayBeProcessed(err); got != tt.want {
				t.Fatalf("MayBeProcessed(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
	// A timeout after sending: may have been processed.
	block, got := make(chan struct{}), make(chan struct{})
	defer close(block)
	url := serve(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); close(got); <-block })
	ctx, cancel := context.WithCancel(context.Background())
	c := NewClient()
	peer := &Peer{Name: "p", AppKey: testAppKey, AppSecret: testSecret, BaseURL: url, Profile: DefaultProfile()}
	done := make(chan error, 1)
	go func() { _, _, err := c.Send(ctx, peer, protocol.BaohanNotice, noticeFields(), nil); done <- err }()
	<-got
	cancel()
	if err := <-done; !MayBeProcessed(err) {
		t.Fatalf("a call cancelled after sending: MayBeProcessed(%v) = false", err)
	}
}
