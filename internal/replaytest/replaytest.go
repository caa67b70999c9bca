// Package replaytest helps tests watch a replay guard at work.
package replaytest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// CountingGuard is a protocol.ReplayGuard that counts how its user (the
// inbound pipeline) calls the guard it wraps.
type CountingGuard struct {
	protocol.ReplayGuard

	mu       sync.Mutex
	eager    int // SeenBefore and Settle: records of the guard's own
	reserved int // Reserve
	deferred int // Reserve answers deferred: the record left to the message log
}

// Counts returns the calls of SeenBefore and Settle, of Reserve, and the
// reservations that were deferred.
func (g *CountingGuard) Counts() (eager, reserved, deferred int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.eager, g.reserved, g.deferred
}

// SeenBefore implements protocol.ReplayGuard.
func (g *CountingGuard) SeenBefore(ctx context.Context, appkey, sign string, until time.Time) (bool, error) {
	g.mu.Lock()
	g.eager++
	g.mu.Unlock()
	return g.ReplayGuard.SeenBefore(ctx, appkey, sign, until)
}

// Settle implements protocol.ReplayGuard.
func (g *CountingGuard) Settle(ctx context.Context, m protocol.SeenMark) error {
	g.mu.Lock()
	g.eager++
	g.mu.Unlock()
	return g.ReplayGuard.Settle(ctx, m)
}

// Reserve implements protocol.ReplayGuard.
func (g *CountingGuard) Reserve(ctx context.Context, m protocol.SeenMark) (protocol.Claim, error) {
	c, err := g.ReplayGuard.Reserve(ctx, m)
	g.mu.Lock()
	g.reserved++
	if c.Deferred {
		g.deferred++
	}
	g.mu.Unlock()
	return c, err
}

// WantRecordedByLog posts body, a signed request that h answers with code
// 1, to h at path twice: the second must be answered as a retry (the
// first answer, byte for byte), and the guard g (the one h's pipeline
// uses) must never have recorded a sign of its own: its records rode in
// the message log entries (deferred, when deferring), or Reserve made
// them. It calls h from the test's goroutine.
func WantRecordedByLog(t testing.TB, h http.Handler, path string, body []byte, g *CountingGuard, deferring bool) {
	t.Helper()
	post := func() (protocol.Response, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		var r protocol.Response
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatalf("%s: answer %q: %v", path, w.Body.String(), err)
		}
		return r, w.Body.String()
	}
	r, first := post()
	if r.Code != 1 {
		t.Fatalf("%s: %+v", path, r)
	}
	if _, again := post(); again != first {
		t.Fatalf("%s again: %s, want the first answer %s (a retry)", path, again, first)
	}
	want := 0
	if deferring {
		want = 1
	}
	if eager, reserved, deferred := g.Counts(); eager != 0 || reserved != 2 || deferred != want {
		t.Fatalf("replay guard: %d records of its own, %d reserved, %d deferred; want 0, 2, %d (the message log records the sign)",
			eager, reserved, deferred, want)
	}
}
