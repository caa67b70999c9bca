package store

import (
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// The time codec of every time column of both services and the
// consoles: an instant as Unix microseconds (a BIGINT, free of any zone),
// 0 for the zero time. What comes back out is in China Standard Time
// (protocol.CST, UTC+8), the zone of the wire and of the people who read
// the consoles, so that a time printed anywhere (a template, a JSON
// answer, a log line) shows the same wall clock. Compare times with
// Equal, Before and After, which ignore the zone.

// Micros is t in Unix microseconds, truncated; the zero time is 0.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros is the inverse of Micros, in protocol.CST; 0 is the zero
// time.
func FromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).In(protocol.CST)
}
