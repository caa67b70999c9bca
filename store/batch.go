package store

import (
	"context"
	"sync"
)

// groupCommit gathers the small writes that arrive while a transaction
// commits and writes them together in the next transaction: under load
// one commit (SQLite's single writer, PostgreSQL's fsync and the message
// log's chain head) serves many callers instead of each paying its own.
// There is no background goroutine: the first caller leads, writes its
// batch, and hands the lead to the oldest waiting caller. A caller
// returns when the transaction holding its item has committed (or
// failed), exactly as if it had written alone.
type groupCommit[T any] struct {
	// max bounds the items of one batch; weight (optional) bounds their
	// total weight (e.g. bytes of message bodies) to maxWeight, but a
	// batch always takes at least one item.
	max       int
	maxWeight int64
	weight    func(T) int64
	// write writes the batch in one transaction and sets each item's
	// result; its error fails the whole batch.
	write func(ctx context.Context, items []*batchItem[T]) error

	mu      sync.Mutex
	pending []*batchItem[T]
	busy    bool // a leader is writing
}

type batchItem[T any] struct {
	v    T
	err  error
	done chan struct{}
	lead bool // woken to lead, not done
}

func (g *groupCommit[T]) do(ctx context.Context, v T) error {
	it := &batchItem[T]{v: v, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, it)
	if g.busy {
		g.mu.Unlock()
		<-it.done
		if !it.lead {
			return it.err
		}
	} else {
		g.busy = true
		g.mu.Unlock()
	}
	// Leading: it is the oldest pending item, so it is in this batch.
	g.mu.Lock()
	batch := g.take()
	g.mu.Unlock()
	// Other callers' items ride along: their contexts must not be cut by
	// ours (the writes are short; InTx bounds its retries).
	err := g.write(context.WithoutCancel(ctx), batch)
	for _, x := range batch {
		if err != nil {
			x.err = err
		}
		if x != it {
			close(x.done)
		}
	}
	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.pending[0]
		next.lead = true
		close(next.done)
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return it.err
}

// take removes the next batch from pending (mu held).
func (g *groupCommit[T]) take() []*batchItem[T] {
	n, w := 0, int64(0)
	for n < len(g.pending) && (g.max <= 0 || n < g.max) {
		if g.weight != nil && g.maxWeight > 0 {
			iw := g.weight(g.pending[n].v)
			if n > 0 && w+iw > g.maxWeight {
				break
			}
			w += iw
		}
		n++
	}
	batch := make([]*batchItem[T], n)
	copy(batch, g.pending[:n])
	rest := copy(g.pending, g.pending[n:])
	clear(g.pending[rest:])
	g.pending = g.pending[:rest]
	return batch
}
