package institution

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/config/configtest"
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
		} else if got := cfg.Outbox.LeaseFor(cfg.peerConfigs()); got != c.want {
			t.Errorf("lease %s timeout %s: in force %s, want %s", c.lease, c.timeout, got, c.want)
		}
	}
}

// TestOldKeys: every key an older institution spelled otherwise still
// works, in the file and in the environment, into the key that replaced
// it, and says which key to write instead.
func TestOldKeys(t *testing.T) {
	load := func(path string) (*config.Common, error) {
		c, err := LoadConfig(path)
		return &c.Common, err
	}
	configtest.OldKeys(t, load, []configtest.OldKey{
		{Name: "max_body", File: "max_body = 2097152", Check: func(c *config.Common) bool { return c.Listen.MaxBody == 2<<20 }, NewKey: "[listen] max_body"},
		{Name: "max_body (environment)", Env: "BAOHAN_INSTITUTION_MAX_BODY=4096", Check: func(c *config.Common) bool { return c.Listen.MaxBody == 4096 }, NewKey: "BAOHAN_INSTITUTION_LISTEN_MAX_BODY"},
		{Name: "outbox.per_platform", File: "[outbox]\nper_platform = 3", Check: func(c *config.Common) bool { return c.Outbox.PerPeer == 3 }, NewKey: "[outbox] per_peer"},
		{Name: "outbox.per_platform (environment)", Env: "BAOHAN_INSTITUTION_OUTBOX_PER_PLATFORM=2", Check: func(c *config.Common) bool { return c.Outbox.PerPeer == 2 }, NewKey: "BAOHAN_INSTITUTION_OUTBOX_PER_PEER"},
		{Name: "outbox.max_attempts = -1", File: "[outbox]\nmax_attempts = -1", Check: func(c *config.Common) bool { return c.Outbox.MaxAttempts == 0 }, NewKey: "max_attempts = 0"},
	})
	path := filepath.Join(t.TempDir(), "both.toml")
	os.WriteFile(path, []byte("max_body = 1\n[listen]\nmax_body = 2\n"), 0o600)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "max_body and [listen] max_body are both set") {
		t.Errorf("both: %v", err)
	}
}

// TestTimestampWindow: the top-level timestamp_window is the window of
// every platform that sets none of its own (it used to be read and
// ignored), and a platform's own wins.
func TestTimestampWindow(t *testing.T) {
	window := func(e *env) time.Duration { return e.svc.peers.byName[testPlatName].peer.Profile.TimestampWindow }
	if got := window(newEnv(t, false)); got != 10*time.Minute {
		t.Errorf("default window %s, want 10m", got)
	}
	if got := window(newEnv(t, false, func(c *Config) { c.TimestampWindow.Duration = 3 * time.Minute })); got != 3*time.Minute {
		t.Errorf("timestamp_window = 3m: the platform's window is %s", got)
	}
	own := func(c *Config) {
		c.TimestampWindow.Duration = 3 * time.Minute
		c.Platforms[0].TimestampWindow.Duration = time.Minute
	}
	if got := window(newEnv(t, false, own)); got != time.Minute {
		t.Errorf("the platform's own window 1m: %s", got)
	}
}
