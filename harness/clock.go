package harness

import (
	"sync/atomic"
	"time"
)

// Clock is the one clock of a harness: real time plus an offset that a
// test or a benchmark moves forward (Advance) or sets (Jump), so that a
// bid opening an hour away is reached at once while time keeps running.
// Both services, the hand-played peers and the bidder read it.
type Clock struct{ off atomic.Int64 }

// Now is the current time plus the offset.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// Jump moves the clock so that Now() is t.
func (c *Clock) Jump(t time.Time) { c.off.Store(int64(time.Until(t))) }
