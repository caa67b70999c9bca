package protocol

import (
	"container/heap"
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// DefaultTimestampWindow is how far a request's timestamp may be from the
// receiver's clock, either way (PROFILE.md; configurable per peer).
const DefaultTimestampWindow = 10 * time.Minute

// CheckTimestamp checks that ts is a wire time within window of now
// (window <= 0: DefaultTimestampWindow). The error says how far off it is.
func CheckTimestamp(ts string, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultTimestampWindow
	}
	if ts == "" {
		return fmt.Errorf(`field "timestamp" is required`)
	}
	t, err := ParseTime(ts)
	if err != nil {
		return fmt.Errorf(`field "timestamp" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got %q`, clip(ts))
	}
	d := now.Sub(t)
	switch {
	case d > window:
		return fmt.Errorf("timestamp %q is %s behind the receiver's clock (%s); the allowed difference is %s",
			ts, roundDuration(d), FormatTime(now), window)
	case -d > window:
		return fmt.Errorf("timestamp %q is %s ahead of the receiver's clock (%s); the allowed difference is %s",
			ts, roundDuration(-d), FormatTime(now), window)
	}
	return nil
}

func roundDuration(d time.Duration) time.Duration { return d.Round(time.Second) }

// SeenStore remembers the signs already received, to refuse replays.
// SeenBefore records (appkey, sign) until the given time and reports
// whether it was already recorded and not yet expired. Implementations
// must be safe for concurrent use; the check-and-record is atomic.
// Callers pass the sign lowercased (it is compared case-insensitively).
type SeenStore interface {
	SeenBefore(ctx context.Context, appkey, sign string, until time.Time) (bool, error)
}

// ReplayGuard is the replay guard of a receiver (transport.Server.Seen).
// It remembers, for every (appkey, sign) received within its timestamp
// window, the digest of the request (ReplayDigest: interface and body)
// and the answer it was given, so that a retry (the same request sent
// again, byte for byte, because its answer was lost) is answered as the
// first was, while a different request under a seen sign is a replay.
//
// Reserve checks and records the request of mark (AppKey, Sign, Digest,
// Until) atomically: the first of two concurrent requests with one sign
// gets a Claim that is not Seen, the other a Seen one. The receiver then
// handles the request and settles the record with the answer
// (mark.Answer) or, when handling failed for a reason of its own
// (mark.Forget), drops it so that a retry is handled anew. When the Claim
// is Deferred, the record is held in this process only, so that a request
// costs one durable write (its message log entry, which carries the
// record: Exchange.Seen) instead of two; otherwise it is recorded and the
// settlement updates it. A log that cannot write the mark leaves it to
// Settle. Either way Release ends the reservation in this process and
// wakes the requests waiting for the answer (Wait). Implementations defer
// only where one process holds every request of the store (SQLite), so
// the check stays exact; MemorySeen never defers.
type ReplayGuard interface {
	SeenStore
	Reserve(ctx context.Context, mark SeenMark) (Claim, error)
	// Settle records the outcome of a reserved request: mark.Answer as
	// its answer, or with mark.Forget, no record at all.
	Settle(ctx context.Context, mark SeenMark) error
	// Wait returns, once the request with (appkey, sign) is settled,
	// what a retry of it gets: its Answer, or Rehandle; neither when it
	// was forgotten; ctx.Err() when ctx ends first.
	Wait(ctx context.Context, appkey, sign string) (Claim, error)
	Release(appkey, sign string)
}

// Claim is what ReplayGuard.Reserve found of a request's sign.
type Claim struct {
	// Seen: the sign was already received, and its record has not
	// expired.
	Seen bool
	// Same: Seen, by a request of the same digest: this one is a retry.
	Same bool
	// Answer: Same, and the first one is answered: its answer (the raw
	// body). Nil while the first is being handled (see Wait).
	Answer []byte
	// Rehandle: Same, the first one is answered, and its answer was not
	// kept (SeenMark.Rehandle): the retry is handled again.
	Rehandle bool
	// Deferred: not Seen, and the record is held in this process until
	// the message log entry writes it (or Settle does).
	Deferred bool
}

// ReplayDigest identifies a request for the replay guard: hex SM3 over
// the interface it was sent to and its raw body. The sign does not cover
// the interface, so the same body posted to another interface is not a
// retry of it.
func ReplayDigest(i Interface, body []byte) string {
	h := sm3.New()
	h.Write([]byte(i))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultMemorySeenMax bounds a MemorySeen with Max 0.
const DefaultMemorySeenMax = 100_000

// MemorySeen is an in-memory SeenStore for one process (tests, the demo,
// single-replica deployments). It holds at most Max entries (0:
// DefaultMemorySeenMax); when full, the entry closest to expiry is
// dropped first. Expired entries are dropped as they come due. The zero
// value is ready to use.
type MemorySeen struct {
	Max int
	Now func() time.Time // the clock; nil: time.Now

	mu sync.Mutex
	m  map[seenKey]*seenEntry
	h  seenHeap
}

var _ ReplayGuard = (*MemorySeen)(nil)

// NewMemorySeen returns a MemorySeen holding at most max entries.
func NewMemorySeen(max int) *MemorySeen { return &MemorySeen{Max: max} }

type seenKey struct{ appkey, sign string }

type seenEntry struct {
	key      seenKey
	until    time.Time
	index    int
	digest   string
	answer   []byte
	rehandle bool
	done     chan struct{} // closed once settled (or forgotten)
}

// SeenBefore implements SeenStore.
func (s *MemorySeen) SeenBefore(ctx context.Context, appkey, sign string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.lockedNow()
	k := seenKey{appkey, sign}
	if e, ok := s.m[k]; ok {
		if until.After(e.until) {
			e.until = until
			heap.Fix(&s.h, e.index)
		}
		return true, nil
	}
	if !until.After(now) {
		return false, nil // would expire at once
	}
	s.add(k, until, "")
	return false, nil
}

// add records k; s.mu is held and expired entries dropped.
func (s *MemorySeen) add(k seenKey, until time.Time, digest string) *seenEntry {
	max := s.Max
	if max <= 0 {
		max = DefaultMemorySeenMax
	}
	for len(s.h) >= max {
		e := heap.Pop(&s.h).(*seenEntry)
		delete(s.m, e.key)
	}
	e := &seenEntry{key: k, until: until, digest: digest, done: make(chan struct{})}
	heap.Push(&s.h, e)
	s.m[k] = e
	return e
}

// lockedNow is the clock's time; s.mu is held. It drops the entries
// expired by then.
func (s *MemorySeen) lockedNow() time.Time {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if s.m == nil {
		s.m = map[seenKey]*seenEntry{}
	}
	for len(s.h) > 0 && !s.h[0].until.After(now) {
		e := heap.Pop(&s.h).(*seenEntry)
		delete(s.m, e.key)
	}
	return now
}

// Reserve implements ReplayGuard, never deferred (the memory is the
// record).
func (s *MemorySeen) Reserve(ctx context.Context, m SeenMark) (Claim, error) {
	if err := ctx.Err(); err != nil {
		return Claim{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.lockedNow()
	k := seenKey{m.AppKey, m.Sign}
	if e, ok := s.m[k]; ok {
		c := Claim{Seen: true, Same: e.digest != "" && e.digest == m.Digest}
		if c.Same {
			c.Answer, c.Rehandle = e.answer, e.rehandle
		}
		return c, nil
	}
	if m.Until.After(now) {
		s.add(k, m.Until, m.Digest)
	}
	return Claim{}, nil
}

// Settle implements ReplayGuard.
func (s *MemorySeen) Settle(ctx context.Context, m SeenMark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockedNow()
	e, ok := s.m[seenKey{m.AppKey, m.Sign}]
	if !ok || e.digest != m.Digest || e.answer != nil || e.rehandle {
		return nil
	}
	switch {
	case m.Forget:
		heap.Remove(&s.h, e.index)
		delete(s.m, e.key)
	case m.Rehandle:
		e.rehandle = true
	default:
		e.answer = append([]byte{}, m.Answer...)
	}
	select {
	case <-e.done:
	default:
		close(e.done)
	}
	return nil
}

// Wait implements ReplayGuard.
func (s *MemorySeen) Wait(ctx context.Context, appkey, sign string) (Claim, error) {
	s.mu.Lock()
	e, ok := s.m[seenKey{appkey, sign}]
	s.mu.Unlock()
	if !ok {
		return Claim{}, nil
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return Claim{}, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return Claim{Answer: e.answer, Rehandle: e.rehandle}, nil
}

// Release implements ReplayGuard: nothing is held but the entry, which
// Settle completes.
func (s *MemorySeen) Release(appkey, sign string) {}

// Len returns the number of entries held.
func (s *MemorySeen) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.h)
}

type seenHeap []*seenEntry

func (h seenHeap) Len() int           { return len(h) }
func (h seenHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h seenHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *seenHeap) Push(x any) {
	e := x.(*seenEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *seenHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
