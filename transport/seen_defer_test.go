package transport

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// deferringSeen is a protocol.ReplayGuard that defers: durable holds the
// committed records (digest and answer), held the reservations of this
// process (their digests).
type deferringSeen struct {
	mu                 sync.Mutex
	durable            map[string]protocol.SeenMark
	held               map[string]string
	reserves, releases int
	eager              int // Settle calls
}

func newDeferringSeen() *deferringSeen {
	return &deferringSeen{durable: map[string]protocol.SeenMark{}, held: map[string]string{}}
}

func (d *deferringSeen) SeenBefore(_ context.Context, appkey, sign string, until time.Time) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.durable[appkey+"|"+sign]
	if !ok {
		d.durable[appkey+"|"+sign] = protocol.SeenMark{AppKey: appkey, Sign: sign, Until: until}
	}
	return ok, nil
}

func (d *deferringSeen) Reserve(_ context.Context, m protocol.SeenMark) (protocol.Claim, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reserves++
	k := m.AppKey + "|" + m.Sign
	if r, ok := d.durable[k]; ok {
		c := protocol.Claim{Seen: true, Same: r.Digest == m.Digest}
		if c.Same {
			c.Answer = r.Answer
		}
		return c, nil
	}
	if dg, ok := d.held[k]; ok {
		return protocol.Claim{Seen: true, Same: dg == m.Digest}, nil
	}
	d.held[k] = m.Digest
	return protocol.Claim{Deferred: true}, nil
}

func (d *deferringSeen) Settle(_ context.Context, m protocol.SeenMark) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.eager++
	if !m.Forget {
		d.durable[m.AppKey+"|"+m.Sign] = m
	}
	return nil
}

func (d *deferringSeen) Wait(ctx context.Context, appkey, sign string) (protocol.Claim, error) {
	for {
		d.mu.Lock()
		r, ok := d.durable[appkey+"|"+sign]
		_, held := d.held[appkey+"|"+sign]
		d.mu.Unlock()
		if ok {
			return protocol.Claim{Answer: r.Answer}, nil
		}
		if !held {
			return protocol.Claim{}, nil
		}
		select {
		case <-ctx.Done():
			return protocol.Claim{}, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (d *deferringSeen) Release(appkey, sign string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releases++
	delete(d.held, appkey+"|"+sign)
}

func (d *deferringSeen) state() (durable, held int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.durable), len(d.held)
}

// recordingLog, when records, writes an exchange's SeenMark into seen
// "in the same write" as the entry (as store.MessageLog does), or fails.
type recordingLog struct {
	MemoryLog
	seen    *deferringSeen
	records bool
	fail    bool
	marks   []protocol.SeenMark
}

func (l *recordingLog) Record(ctx context.Context, e *protocol.Exchange) (bool, error) {
	if l.fail {
		return false, errors.New("disk full")
	}
	if _, err := l.MemoryLog.Record(ctx, e); err != nil {
		return false, err
	}
	if e.Seen == nil || !l.records {
		return false, nil
	}
	l.marks = append(l.marks, *e.Seen)
	l.seen.mu.Lock()
	l.seen.durable[e.Seen.AppKey+"|"+e.Seen.Sign] = *e.Seen
	l.seen.mu.Unlock()
	return true, nil
}

// copyingLog wraps a log as the services do (a metrics count, a redacted
// answer): it hands the inner log a copy of the exchange.
type copyingLog struct{ inner MessageLog }

func (l copyingLog) Record(ctx context.Context, e *protocol.Exchange) (bool, error) {
	c := *e
	c.Response = append([]byte(nil), e.Response...)
	return l.inner.Record(ctx, &c)
}

// droppingLog wraps a log carelessly: it rebuilds the exchange and loses
// the seen mark.
type droppingLog struct{ inner MessageLog }

func (l droppingLog) Record(ctx context.Context, e *protocol.Exchange) (bool, error) {
	return l.inner.Record(ctx, &protocol.Exchange{Interface: e.Interface, Direction: e.Direction, Peer: e.Peer,
		Request: e.Request, Response: e.Response, HTTPStatus: e.HTTPStatus, Code: e.Code, At: e.At})
}

// TestServerDefersSeenToLog: with a deferring replay guard and a log that
// records seen marks, a request's sign is held while it is handled,
// written with its log entry, then released; a replay in flight or after
// is answered as the first was, another request with the sign refused as
// a replay. A failed log write, a log that records no seen marks, and a
// wrapper that loses the mark all leave the sign to be recorded on its
// own: a log can cost the guard a write, never turn it off. A wrapper
// that passes the mark on keeps the one write.
func TestServerDefersSeenToLog(t *testing.T) {
	const replay = "replayed request"
	sign := strings.ToLower(protocol.Sign(noticeFields(), testSecret))
	until := time.Date(2024, 3, 15, 14, 15, 12, 0, protocol.CST) // timestamp + the 10-minute window
	tests := []struct {
		name                      string
		records, fail             bool
		wrap                      func(MessageLog) MessageLog
		wantMarks, wantEager      int
		wantReserves, wantRelease int
	}{
		{"deferred to the log", true, false, nil, 1, 0, 3, 1},
		{"deferred through a wrapper that copies the exchange", true, false,
			func(l MessageLog) MessageLog { return copyingLog{l} }, 1, 0, 3, 1},
		{"the log fails: recorded on its own", true, true, nil, 0, 1, 3, 1},
		{"the log does not record seen marks: recorded on its own", false, false, nil, 0, 1, 3, 1},
		{"a wrapper loses the mark: recorded on its own", true, false,
			func(l MessageLog) MessageLog { return droppingLog{l} }, 0, 1, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			seen := newDeferringSeen()
			log := &recordingLog{seen: seen, records: tt.records, fail: tt.fail}
			f.srv.Seen, f.srv.Log = seen, log
			if tt.wrap != nil {
				f.srv.Log = tt.wrap(log)
			}
			body := signed(noticeFields(), testSecret)
			first := f.do(t, "POST", "/baohan/baohannotice", body)
			if first.resp.Code != 1 {
				t.Fatalf("first: %s", first.raw)
			}
			if durable, held := seen.state(); durable != 1 || held != 0 {
				t.Fatalf("after the first: %d records, %d held; want 1, 0", durable, held)
			}
			if a := f.do(t, "POST", "/baohan/baohannotice", body); a.raw != first.raw {
				t.Fatalf("retry: %s, want %s", a.raw, first.raw)
			}
			if a := f.do(t, "POST", "/baohan/giveupnotice", body); !strings.HasPrefix(a.resp.Message, replay) {
				t.Fatalf("replay: %s", a.raw)
			}
			if len(log.marks) != tt.wantMarks || seen.eager != tt.wantEager || seen.reserves != tt.wantReserves || seen.releases != tt.wantRelease {
				t.Fatalf("marks %v, eager %d, reserves %d, releases %d; want %d, %d, %d, %d", log.marks, seen.eager, seen.reserves,
					seen.releases, tt.wantMarks, tt.wantEager, tt.wantReserves, tt.wantRelease)
			}
			if tt.wantMarks == 1 {
				m := log.marks[0]
				if m.AppKey != testAppKey || m.Sign != sign || !m.Until.Equal(until) || string(m.Answer) != first.raw ||
					m.Digest != protocol.ReplayDigest(protocol.BaohanNotice, body) {
					t.Fatalf("mark %+v, want %s %s %s with the answer %s", m, testAppKey, sign, until, first.raw)
				}
			}
			for _, ex := range log.Exchanges() {
				if ex.Seen != nil && ex.Code != 1 {
					t.Errorf("a refused replay carries a seen mark: %+v", ex)
				}
			}
		})
	}
}

// TestServerDeferredSeenInFlight: a retry that arrives while the first
// request is still being handled waits for it and is answered as it is;
// another request with the sign is refused at once (the reservation).
func TestServerDeferredSeenInFlight(t *testing.T) {
	f := newFixture(t)
	seen := newDeferringSeen()
	f.srv.Seen, f.srv.Log = seen, &recordingLog{seen: seen, records: true}
	entered, release := make(chan struct{}), make(chan struct{})
	f.srv.Handle(protocol.BaohanNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		close(entered)
		<-release
		return nil, nil
	})
	body := signed(noticeFields(), testSecret)
	first := make(chan answer, 1)
	go func() { first <- f.do(t, "POST", "/baohan/baohannotice", body) }()
	<-entered
	if _, held := seen.state(); held != 1 {
		t.Fatalf("%d signs held while the first is handled, want 1", held)
	}
	if a := f.do(t, "POST", "/baohan/giveupnotice", body); !strings.HasPrefix(a.resp.Message, "replayed request") {
		t.Fatalf("replay in flight: %s", a.raw)
	}
	second := make(chan answer, 1)
	go func() { second <- f.do(t, "POST", "/baohan/baohannotice", body) }()
	for { // the retry has found the first in flight
		seen.mu.Lock()
		n := seen.reserves
		seen.mu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	a1 := <-first
	if a1.resp.Code != 1 {
		t.Fatalf("first: %s", a1.raw)
	}
	if a2 := <-second; a2.raw != a1.raw {
		t.Fatalf("retry in flight: %s, want %s", a2.raw, a1.raw)
	}
	if durable, held := seen.state(); durable != 1 || held != 0 {
		t.Fatalf("after: %d records, %d held", durable, held)
	}
}
