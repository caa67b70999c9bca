package protocol

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
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
// Reserve checks (appkey, sign) as SeenBefore does. When it answers
// deferred, the sign is held in this process only, so that a request
// costs one durable write (its message log entry, which carries the
// record: Exchange.Seen) instead of two: the caller must have it recorded
// durably (by the message log, in the entry's write, or else by
// SeenBefore) and then call Release; until then a second request with the
// sign is a replay. When it answers not deferred, the sign was recorded as
// SeenBefore records it and Release is not needed. Implementations defer
// only where one process holds every request of the store (SQLite), so the
// check stays exact; MemorySeen never defers.
type ReplayGuard interface {
	SeenStore
	Reserve(ctx context.Context, appkey, sign string, until time.Time) (seen, deferred bool, err error)
	Release(appkey, sign string)
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
	key   seenKey
	until time.Time
	index int
}

// SeenBefore implements SeenStore.
func (s *MemorySeen) SeenBefore(ctx context.Context, appkey, sign string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[seenKey]*seenEntry{}
	}
	for len(s.h) > 0 && !s.h[0].until.After(now) {
		e := heap.Pop(&s.h).(*seenEntry)
		delete(s.m, e.key)
	}
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
	max := s.Max
	if max <= 0 {
		max = DefaultMemorySeenMax
	}
	for len(s.h) >= max {
		e := heap.Pop(&s.h).(*seenEntry)
		delete(s.m, e.key)
	}
	e := &seenEntry{key: k, until: until}
	heap.Push(&s.h, e)
	s.m[k] = e
	return false, nil
}

// Reserve implements ReplayGuard: it is SeenBefore, never deferred (the
// memory is the record).
func (s *MemorySeen) Reserve(ctx context.Context, appkey, sign string, until time.Time) (seen, deferred bool, err error) {
	seen, err = s.SeenBefore(ctx, appkey, sign, until)
	return seen, false, err
}

// Release implements ReplayGuard: nothing is ever held.
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
