package conformance

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/conformance/faults"
)

// lateHandler lets a server start before its handler exists.
type lateHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (l *lateHandler) set(h http.Handler) { l.mu.Lock(); l.h = h; l.mu.Unlock() }
func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

func kitServer(t *testing.T) (*httptest.Server, *lateHandler) {
	lh := &lateHandler{}
	srv := httptest.NewServer(lh)
	t.Cleanup(srv.Close)
	return srv, lh
}

func testConfig(url, listen string) Config {
	return Config{URL: url, AppKey: fakeAppKey, AppSecret: fakeAppSecret, PlatformCode: fakeCode, ListenURL: listen, Wait: 10 * time.Second, Settle: 50 * time.Millisecond}
}

// runPlatformSuite runs the platform suite against the fake platform,
// wrapped by mw (nil: as is).
func runPlatformSuite(t *testing.T, mw faults.Middleware) *Report {
	t.Helper()
	kit, lh := kitServer(t)
	p, psrv := newFakePlatform(t, kit.URL)
	target := psrv.URL
	if mw != nil {
		target = wrapServer(t, mw(p.ib))
	}
	cfg := testConfig(target, kit.URL)
	cfg.BidderKey = p.bidder.Key
	s, err := NewPlatformSuite(cfg, p, fakeGuarantee)
	if err != nil {
		t.Fatal(err)
	}
	lh.set(s.Handler())
	return s.Run(context.Background())
}

func wrapServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func reportText(r *Report) string {
	var b bytes.Buffer
	r.WriteTable(&b)
	return b.String()
}

func TestPlatformSuiteAgainstConformingFake(t *testing.T) {
	r := runPlatformSuite(t, nil)
	if !r.Passed(false) {
		t.Fatalf("the suite failed against a conforming platform:\n%s", reportText(r))
	}
	if len(r.Interfaces) != 14 {
		t.Errorf("interfaces exchanged: %v, want all 14", r.Interfaces)
	}
}

func TestInstitutionSuiteAgainstConformingFake(t *testing.T) {
	r := runInstitutionSuiteWith(t, nil, nil)
	if !r.Passed(false) {
		t.Fatalf("the suite failed against a conforming institution:\n%s", reportText(r))
	}
	if len(r.Interfaces) != 14 {
		t.Errorf("interfaces exchanged: %v, want all 14", r.Interfaces)
	}
}
