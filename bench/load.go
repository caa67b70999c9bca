package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Load drives an operation from Clients concurrent goroutines (each one
// a client with its own connection in the scenarios). It stops after
// Count operations, after Duration, or when ctx ends, whichever comes
// first; at least one of Count and Duration must be set.
type Load struct {
	Clients  int
	Count    int
	Duration time.Duration
	// Progress, if set, is called about every ProgressEvery with the
	// operations done so far (from a separate goroutine).
	Progress      func(done, errors int, elapsed time.Duration)
	ProgressEvery time.Duration // default 2s
}

// ErrUnbounded is returned by Run for a Load with neither Count nor
// Duration.
var ErrUnbounded = errors.New("bench: a load needs a count or a duration")

// Op is one operation: client is the goroutine (0..Clients-1), i the
// operation's sequence number (0..Count-1), unique across clients.
type Op func(ctx context.Context, client, i int) error

// Run runs op as the Load says and returns the stats. Each client takes
// the next sequence number from a shared counter, so the work is spread
// as the clients free up, as with real peers.
func (l Load) Run(ctx context.Context, op Op) (*Stats, error) {
	if l.Count <= 0 && l.Duration <= 0 {
		return nil, ErrUnbounded
	}
	clients := max(l.Clients, 1)
	if l.Count > 0 {
		clients = min(clients, l.Count)
	}
	if l.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Duration)
		defer cancel()
	}
	per := 1024
	if l.Count > 0 {
		per = l.Count/clients + 1
	}
	recs := make([]*Recorder, clients)
	for i := range recs {
		recs[i] = NewRecorder(per)
	}
	var next, done, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stopProgress := make(chan struct{})
	if l.Progress != nil {
		every := l.ProgressEvery
		if every <= 0 {
			every = 2 * time.Second
		}
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					l.Progress(int(done.Load()), int(failed.Load()), time.Since(start))
				}
			}
		}()
	}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := recs[c]
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if l.Count > 0 && i >= l.Count {
					return
				}
				t0 := time.Now()
				err := op(ctx, c, i)
				d := time.Since(t0)
				if err != nil && ctx.Err() != nil && l.Duration > 0 {
					// Cut short by the duration bound: not a failure.
					return
				}
				rec.Add(d, err)
				done.Add(1)
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	return MergeStats(elapsed, recs...), nil
}
