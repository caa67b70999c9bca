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

// TestMemorySeenRetries: the same request again is a retry (Same), with
// the first answer once settled, waiting for it before; another digest
// is a replay; a forgotten request leaves no record; a Rehandle one
// keeps the record without the answer.
func TestMemorySeenRetries(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 9, 30, 0, 0, CST)
	s := &MemorySeen{Now: func() time.Time { return now }}
	d := ReplayDigest(BaohanNotice, []byte(`{"a":"1"}`))
	mark := func(sign, digest string) SeenMark {
		return SeenMark{AppKey: "k", Sign: sign, Digest: digest, Until: now.Add(10 * time.Minute)}
	}
	if d == ReplayDigest(GiveupNotice, []byte(`{"a":"1"}`)) || d == ReplayDigest(BaohanNotice, []byte(`{"a":"1","b":""}`)) {
		t.Fatal("the digest does not tell the interface or the body apart")
	}
	if c, _ := s.Reserve(ctx, mark("s", d)); c.Seen {
		t.Fatalf("first: %+v", c)
	}
	if c, _ := s.Reserve(ctx, mark("s", d)); !c.Same || c.Answer != nil {
		t.Fatalf("retry in flight: %+v", c)
	}
	if c, _ := s.Reserve(ctx, mark("s", "other")); !c.Seen || c.Same {
		t.Fatalf("replay: %+v", c)
	}
	waited := make(chan Claim, 1)
	go func() { c, _ := s.Wait(ctx, "k", "s"); waited <- c }()
	m := mark("s", d)
	m.Answer = []byte(`{"code":1}`)
	if err := s.Settle(ctx, m); err != nil {
		t.Fatal(err)
	}
	if c := <-waited; string(c.Answer) != `{"code":1}` {
		t.Fatalf("waited: %+v", c)
	}
	if c, _ := s.Reserve(ctx, mark("s", d)); string(c.Answer) != `{"code":1}` {
		t.Fatalf("retry: %+v", c)
	}
	// Forgotten: handled anew.
	s.Reserve(ctx, mark("f", d))
	f := mark("f", d)
	f.Forget = true
	s.Settle(ctx, f)
	if c, _ := s.Reserve(ctx, mark("f", d)); c.Seen {
		t.Fatalf("after Forget: %+v", c)
	}
	// Rehandle: a retry is handled again, the answer not kept.
	s.Reserve(ctx, mark("r", d))
	r := mark("r", d)
	r.Rehandle, r.Answer = true, []byte(`{"secret":"x"}`)
	s.Settle(ctx, r)
	if c, _ := s.Reserve(ctx, mark("r", d)); !c.Same || !c.Rehandle || c.Answer != nil {
		t.Fatalf("rehandle: %+v", c)
	}
	// A sign recorded by SeenBefore (sent by this service) is no retry.
	s.SeenBefore(ctx, "k", "ours", now.Add(time.Minute))
	if c, _ := s.Reserve(ctx, mark("ours", "")); !c.Seen || c.Same {
		t.Fatalf("our own sign: %+v", c)
	}
}
