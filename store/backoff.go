package store

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the retry policy of a Dispatcher: after the n-th failed
// attempt the message waits Initial·Multiplier^(n-1), capped at Max, then
// spread by ±Jitter so that many messages failing together do not come
// back together. After MaxAttempts attempts the message is dead.
//
// The zero value means the defaults: 1s, 2s, 4s, ... capped at 5 minutes,
// ±20% jitter, 60 attempts (about four and a half hours).
type Backoff struct {
	Initial     time.Duration // default 1s
	Max         time.Duration // default 5m
	Multiplier  float64       // default 2
	Jitter      float64       // fraction, default 0.2; negative: none
	MaxAttempts int           // default 60; negative: unlimited
}

// DefaultBackoff is the policy used when Dispatcher.Backoff is the zero value.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.2, MaxAttempts: 60}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoff.Jitter
	}
	if b.Jitter < 0 {
		b.Jitter = 0
	}
	if b.Jitter > 1 {
		b.Jitter = 1
	}
	if b.MaxAttempts == 0 {
		b.MaxAttempts = DefaultBackoff.MaxAttempts
	}
	return b
}

// Delay is the wait after the attempt-th failed attempt (attempt >= 1).
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.withDefaults()
	if attempt < 1 {
		attempt = 1
	}
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt-1))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// Exhausted reports whether a message that has had attempts attempts may
// not be tried again.
func (b Backoff) Exhausted(attempts int) bool {
	b = b.withDefaults()
	return b.MaxAttempts > 0 && attempts >= b.MaxAttempts
}
