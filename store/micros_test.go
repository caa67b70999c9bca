package store

import (
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// TestTimeCodec: one instant in, the same instant out (to the
// microsecond), always in China Standard Time whatever zone went in; the
// zero time is 0 both ways.
func TestTimeCodec(t *testing.T) {
	at := time.Date(2026, 3, 15, 16, 5, 12, 987654321, time.UTC) // 2026-03-16 00:05:12 CST: another day
	tests := []struct {
		name string
		in   time.Time
		want int64
	}{
		{"UTC", at, 1773590712987654},
		{"CST", at.In(protocol.CST), 1773590712987654},
		{"another zone", at.In(time.FixedZone("X", -5*3600)), 1773590712987654},
		{"zero", time.Time{}, 0},
	}
	for _, tt := range tests {
		v := Micros(tt.in)
		if v != tt.want {
			t.Errorf("%s: Micros %d, want %d", tt.name, v, tt.want)
		}
		back := FromMicros(v)
		if tt.in.IsZero() {
			if !back.IsZero() {
				t.Errorf("%s: FromMicros(0) = %v, want the zero time", tt.name, back)
			}
			continue
		}
		if !back.Equal(tt.in.Truncate(time.Microsecond)) || back.Location() != protocol.CST {
			t.Errorf("%s: FromMicros = %v (%v), want %v in CST", tt.name, back, back.Location(), tt.in)
		}
		if got := back.Format(time.DateTime); got != "2026-03-16 00:05:12" {
			t.Errorf("%s: shown as %s, want the CST wall clock", tt.name, got)
		}
	}
}
