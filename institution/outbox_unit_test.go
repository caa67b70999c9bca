package institution

import (
	"context"
	"testing"
	"time"
)

func TestAttemptsInDistinctSeconds(t *testing.T) {
	var s sentSeconds
	ctx := context.Background()
	seconds := map[int64]bool{}
	for range 3 {
		if err := s.waitNewSecond(ctx, 7, time.Now); err != nil {
			t.Fatal(err)
		}
		sec := time.Now().Unix()
		if seconds[sec] {
			t.Fatalf("two attempts of one message in second %d", sec)
		}
		seconds[sec] = true
	}
	// Another message's first attempt records its own second.
	if err := s.waitNewSecond(ctx, 8, time.Now); err != nil || s.last[8] == 0 {
		t.Errorf("message 8: %v %v", s.last, err)
	}
	// A wait that would be needed ends with the context.
	s.last[9] = time.Now().Unix() + 3600
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.waitNewSecond(cctx, 9, time.Now); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}
