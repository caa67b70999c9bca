package institution

import (
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
)

// TestOutboxLease: the outbox lease is a setting (outbox.lease), one
// minute by default, and must outlast the longest platform call; it is
// what the dispatcher claims with, so a restarted institution takes up
// the deliveries its predecessor had in flight within it.
func TestOutboxLease(t *testing.T) {
	e := newEnv(t, false)
	if got := e.svc.disp.Lease; got != time.Minute {
		t.Errorf("default lease %s, want 1m", got)
	}
	cases := []struct {
		lease, timeout time.Duration
		want           time.Duration
		err            string
	}{
		{0, 0, time.Minute, ""},
		{0, 50 * time.Second, 80 * time.Second, ""},
		{20 * time.Second, 0, 0, "outbox.lease 20s must outlast the longest platform call (timeout 30s) by at least 5s"},
		{40 * time.Second, 0, 40 * time.Second, ""},
		{-time.Second, 0, 0, "outbox.lease must be positive, got -1s"},
	}
	for _, c := range cases {
		cfg := e.cfg
		cfg.Platforms = append([]Platform(nil), e.cfg.Platforms...)
		cfg.Platforms[0].Timeout = config.Duration{Duration: c.timeout}
		cfg.Outbox.Lease = config.Duration{Duration: c.lease}
		err := cfg.Check()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("lease %s timeout %s: %v, want %q", c.lease, c.timeout, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("lease %s timeout %s: %v", c.lease, c.timeout, err)
		} else if got := cfg.lease(); got != c.want {
			t.Errorf("lease %s timeout %s: in force %s, want %s", c.lease, c.timeout, got, c.want)
		}
	}
}
