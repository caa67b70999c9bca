package addrlimit

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	th := New(3, 10*time.Second)
	for i := range 3 {
		if ok, _, _ := th.Take("198.51.100.4", t0); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait, first := th.Take("198.51.100.4", t0)
	if ok || wait != 10*time.Second || !first {
		t.Fatalf("4th attempt: ok %v, wait %v, first %v", ok, wait, first)
	}
	if ok, _, first := th.Take("198.51.100.4", t0.Add(time.Second)); ok || first {
		t.Fatalf("5th attempt: ok %v, first refusal again %v", ok, first)
	}
	if ok, _, _ := th.Take("198.51.100.5", t0); !ok {
		t.Fatal("another address is throttled too")
	}
	if ok, _, _ := th.Take("198.51.100.4", t0.Add(10*time.Second)); !ok {
		t.Fatal("no attempt after the interval")
	}
	// An attempt given back (a successful login) is there again.
	th.GiveBack("198.51.100.4", 1, t0.Add(10*time.Second))
	if ok, _, _ := th.Take("198.51.100.4", t0.Add(10*time.Second)); !ok {
		t.Fatal("the attempt given back is not there")
	}
	// IPv6: one bucket per /64.
	for i := range 3 {
		th.Take(fmt.Sprintf("2001:db8:1:2::%x", i+1), t0)
	}
	if ok, _, _ := th.Take("2001:db8:1:2:ffff::1", t0); ok {
		t.Error("another address of the same /64 has its own bucket")
	}
	if ok, _, _ := th.Take("2001:db8:1:3::1", t0); !ok {
		t.Error("another /64 is throttled")
	}
	// Addresses whose buckets are full again are forgotten.
	if n := th.Len(); n != 4 {
		t.Fatalf("remembers %d addresses, want 4", n)
	}
	th.Take("203.0.113.1", t0.Add(time.Hour))
	if n := th.Len(); n != 1 {
		t.Errorf("after an hour: remembers %d addresses, want 1", n)
	}
	// And never more than max of them.
	th.SetMax(100)
	for i := range 1000 {
		th.Take(fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0.Add(2*time.Hour))
	}
	if n := th.Len(); n != 100 {
		t.Errorf("remembers %d addresses, want at most 100", n)
	}
}
