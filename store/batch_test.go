package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupCommit(t *testing.T) {
	var (
		mu       sync.Mutex
		written  []int
		batches  int
		largest  int
		inWrite  atomic.Int32
		overlaps atomic.Int32
	)
	g := &groupCommit[int]{max: 16, write: func(ctx context.Context, items []*batchItem[int]) error {
		if inWrite.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inWrite.Add(-1)
		time.Sleep(200 * time.Microsecond) // a commit
		mu.Lock()
		defer mu.Unlock()
		batches++
		largest = max(largest, len(items))
		for _, it := range items {
			if it.v < 0 {
				return errors.New("negative")
			}
		}
		for _, it := range items {
			written = append(written, it.v)
		}
		return nil
	}}
	const n = 400
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := i
			if i == 123 {
				v = -1 // fails its batch, and only its batch
			}
			errs[i] = g.do(context.Background(), v)
		}()
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatal("two batches were written at once")
	}
	if errs[123] == nil {
		t.Fatal("the failing item got no error")
	}
	seen := map[int]bool{}
	for _, v := range written {
		if seen[v] {
			t.Fatalf("item %d written twice", v)
		}
		seen[v] = true
	}
	failed := 0
	for i, err := range errs {
		switch {
		case err == nil && !seen[i]:
			t.Fatalf("item %d: no error, not written", i)
		case err != nil && seen[i]:
			t.Fatalf("item %d: written, and error %v", i, err)
		case err != nil:
			failed++
		}
	}
	if failed > 16 {
		t.Fatalf("%d items failed; only the failing item's batch (at most 16) may", failed)
	}
	if largest > 16 {
		t.Fatalf("a batch of %d items, max 16", largest)
	}
	if batches >= n-failed {
		t.Logf("no batching happened (%d batches for %d items): the machine ran the callers one by one", batches, n)
	}
	if g.busy || len(g.pending) != 0 {
		t.Fatalf("left busy %v with %d pending", g.busy, len(g.pending))
	}
}

func TestGroupCommitWeight(t *testing.T) {
	g := &groupCommit[int]{maxWeight: 10, weight: func(v int) int64 { return int64(v) }}
	for _, v := range []int{4, 4, 4, 20, 1} {
		g.pending = append(g.pending, &batchItem[int]{v: v})
	}
	var sizes []int
	for len(g.pending) > 0 {
		sizes = append(sizes, len(g.take()))
	}
	// 4+4 fit in 10; 4 alone (4+20 would not); 20 alone though heavier
	// than the limit; 1.
	if want := []int{2, 1, 1, 1}; len(sizes) != len(want) || sizes[0] != 2 || sizes[1] != 1 || sizes[2] != 1 || sizes[3] != 1 {
		t.Fatalf("batch sizes %v, want %v", sizes, want)
	}
}
