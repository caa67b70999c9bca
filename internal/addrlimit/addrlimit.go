// Package addrlimit is a token bucket per client address, with bounded
// memory: the consoles' login throttle and the institution's public
// verification (验真) draw on it.
package addrlimit

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// DefaultMax bounds the addresses a Limiter remembers; past it the least
// recently seen one is forgotten.
const DefaultMax = 10000

// Limiter is a token bucket per client address (IPv6 addresses
// count per /64, what one subscriber usually gets). An address is
// forgotten once its bucket is full again (it is then the same as a new
// one), and the least recently seen addresses go when there are more
// than max: memory stays bounded whatever the number of addresses.
type Limiter struct {
	burst    float64
	interval time.Duration
	max      int

	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *addrBucket, most recently seen first
}

type addrBucket struct {
	key     string
	tokens  float64
	last    time.Time // when tokens was computed
	refused bool      // the last attempt was refused (its first refusal was audited)
}

// New is a Limiter of burst attempts at once, then one every interval.
func New(burst int, interval time.Duration) *Limiter {
	return &Limiter{burst: float64(max(burst, 1)), interval: max(interval, time.Millisecond), max: DefaultMax,
		m: map[string]*list.Element{}}
}

// bucketKey is the bucket of a client address: the address, or its
// /64 for IPv6; anything unparsable ("unknown") shares one bucket.
func bucketKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "?"
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// refill brings b's tokens to now.
func (t *Limiter) refill(b *addrBucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(t.burst, b.tokens+float64(d)/float64(t.interval))
		b.last = now
	}
}

// Take takes one attempt from ip's bucket at now. When it is empty, ok is
// false, wait says when the next attempt is allowed, and first is true
// for the first refusal in a row (to audit once, not every refusal).
func (t *Limiter) Take(ip string, now time.Time) (ok bool, wait time.Duration, first bool) {
	return t.takeFor(ip, now, true)
}

// TakeQuiet is Take for a step whose refusals are not audited (a login
// challenge): it leaves the run of refusals to the next take, so that the
// first audited refusal is still audited.
func (t *Limiter) TakeQuiet(ip string, now time.Time) (ok bool, wait time.Duration) {
	ok, wait, _ = t.takeFor(ip, now, false)
	return ok, wait
}

func (t *Limiter) takeFor(ip string, now time.Time, audited bool) (ok bool, wait time.Duration, first bool) {
	key := bucketKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.evict(now)
	var b *addrBucket
	if el := t.m[key]; el != nil {
		b = el.Value.(*addrBucket)
		t.lru.MoveToFront(el)
		t.refill(b, now)
	} else {
		b = &addrBucket{key: key, tokens: t.burst, last: now}
		t.m[key] = t.lru.PushFront(b)
		if t.lru.Len() > t.max {
			old := t.lru.Back()
			t.lru.Remove(old)
			delete(t.m, old.Value.(*addrBucket).key)
		}
	}
	if b.tokens >= 1 {
		b.tokens--
		b.refused = false
		return true, 0, false
	}
	if !audited {
		return false, time.Duration((1 - b.tokens) * float64(t.interval)), false
	}
	first = !b.refused
	b.refused = true
	return false, time.Duration((1 - b.tokens) * float64(t.interval)), first
}

// GiveBack returns n attempts (of a successful login) to ip's bucket.
func (t *Limiter) GiveBack(ip string, n int, now time.Time) {
	key := bucketKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	if el := t.m[key]; el != nil {
		b := el.Value.(*addrBucket)
		t.refill(b, now)
		b.tokens = min(t.burst, b.tokens+float64(n))
	}
}

// evict forgets the least recently seen addresses whose buckets are full
// again by now.
func (t *Limiter) evict(now time.Time) {
	full := time.Duration(t.burst * float64(t.interval))
	for el := t.lru.Back(); el != nil; el = t.lru.Back() {
		b := el.Value.(*addrBucket)
		if now.Sub(b.last) < full {
			return
		}
		t.lru.Remove(el)
		delete(t.m, b.key)
	}
}

// Len is the number of addresses remembered.
func (t *Limiter) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// SetMax bounds the addresses remembered (at least 1; DefaultMax unless set).
func (t *Limiter) SetMax(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.max = max(n, 1)
}
