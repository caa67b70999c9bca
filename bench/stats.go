package bench

import (
	"fmt"
	"slices"
	"time"
)

// Stats are the results of a Load: how many operations ran, how many
// failed (and the first few distinct errors), how long it took, and
// every successful operation's latency, sorted.
type Stats struct {
	N       int             // operations run (ok + errors)
	Errors  int             // operations that returned an error
	Samples []time.Duration // latencies of the successful operations, ascending
	Elapsed time.Duration   // wall time from the first start to the last end
	// ErrorSamples are up to five distinct error messages.
	ErrorSamples []string
}

// OK is the number of successful operations.
func (s *Stats) OK() int { return s.N - s.Errors }

// Rate is successful operations per second of wall time.
func (s *Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK()) / s.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p <= 100) of the latencies
// by the nearest-rank method: the smallest sample such that at least p%
// of the samples are at most it. Zero when there are no samples.
func (s *Stats) Percentile(p float64) time.Duration {
	return Percentile(s.Samples, p)
}

// P50, P99 and Max are shorthands.
func (s *Stats) P50() time.Duration { return s.Percentile(50) }
func (s *Stats) P99() time.Duration { return s.Percentile(99) }
func (s *Stats) Max() time.Duration {
	if len(s.Samples) == 0 {
		return 0
	}
	return s.Samples[len(s.Samples)-1]
}

// Percentile is the nearest-rank percentile of sorted (ascending).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	// rank = ceil(p/100 * n), 1-based
	r := int(p / 100 * float64(n))
	if float64(r) < p/100*float64(n) {
		r++
	}
	if r < 1 {
		r = 1
	}
	return sorted[r-1]
}

// Recorder collects latencies from one goroutine (no locking); merge
// several with MergeStats.
type Recorder struct {
	samples []time.Duration
	errors  int
	errs    []string
}

// NewRecorder returns a recorder with room for n samples.
func NewRecorder(n int) *Recorder { return &Recorder{samples: make([]time.Duration, 0, n)} }

// Add records one operation.
func (r *Recorder) Add(d time.Duration, err error) {
	if err != nil {
		r.errors++
		if len(r.errs) < 5 {
			msg := err.Error()
			if !slices.Contains(r.errs, msg) {
				r.errs = append(r.errs, msg)
			}
		}
		return
	}
	r.samples = append(r.samples, d)
}

// MergeStats combines recorders into Stats with elapsed wall time.
func MergeStats(elapsed time.Duration, rs ...*Recorder) *Stats {
	s := &Stats{Elapsed: elapsed}
	n := 0
	for _, r := range rs {
		n += len(r.samples)
	}
	s.Samples = make([]time.Duration, 0, n)
	for _, r := range rs {
		s.Samples = append(s.Samples, r.samples...)
		s.Errors += r.errors
		for _, e := range r.errs {
			if len(s.ErrorSamples) < 5 && !slices.Contains(s.ErrorSamples, e) {
				s.ErrorSamples = append(s.ErrorSamples, e)
			}
		}
	}
	s.N = len(s.Samples) + s.Errors
	slices.Sort(s.Samples)
	return s
}

// String summarizes the stats on one line.
func (s *Stats) String() string {
	return fmt.Sprintf("%d ops (%d errors) in %s: %.1f/s, p50 %s, p99 %s, max %s",
		s.N, s.Errors, s.Elapsed.Round(time.Millisecond), s.Rate(), fmtDur(s.P50()), fmtDur(s.P99()), fmtDur(s.Max()))
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
