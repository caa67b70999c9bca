package protocol

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemorySeen(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 9, 30, 0, 0, CST)
	s := &MemorySeen{Max: 3, Now: func() time.Time { return now }}
	seen := func(appkey, sign string, until time.Duration) bool {
		t.Helper()
		ok, err := s.SeenBefore(ctx, appkey, sign, now.Add(until))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if seen("k", "a", 10*time.Minute) {
		t.Fatal("first sight reported as seen")
	}
	if !seen("k", "a", 10*time.Minute) {
		t.Fatal("replay not detected")
	}
	if seen("k2", "a", 10*time.Minute) {
		t.Fatal("same sign from another appkey is not a replay")
	}
	// Expiry.
	now = now.Add(11 * time.Minute)
	if seen("k", "a", 10*time.Minute) {
		t.Fatal("expired entry still seen")
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d after expiry, want 1", s.Len())
	}
	// Bound: the entry closest to expiry goes first.
	seen("k", "b", 5*time.Minute)
	seen("k", "c", 20*time.Minute)
	seen("k", "d", 30*time.Minute) // evicts b
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	if seen("k", "b", 5*time.Minute) {
		t.Fatal("evicted entry still seen")
	}
	if !seen("k", "d", 30*time.Minute) {
		t.Fatal("recent entry lost")
	}
	// Already expired: not recorded.
	if seen("k", "old", -time.Second) || seen("k", "old", -time.Second) {
		t.Fatal("an already expired entry was recorded")
	}
	// A cancelled context is an error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.SeenBefore(cctx, "k", "z", now.Add(time.Minute)); err == nil {
		t.Fatal("no error on a cancelled context")
	}
}

func TestMemorySeenConcurrent(t *testing.T) {
	var s MemorySeen // zero value
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	var first atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ok, _ := s.SeenBefore(ctx, "k", fmt.Sprint(i), until)
				if !ok {
					first.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if first.Load() != 200 {
		t.Fatalf("%d first sightings, want exactly 200", first.Load())
	}
}
