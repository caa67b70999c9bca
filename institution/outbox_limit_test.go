package institution

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/baohan-dev/baohan/config"
)

// outbox.per_platform reaches the dispatcher. Unset, the dispatcher's
// default (half its workers) applies with several platforms, and no limit
// with a single one.
func TestOutboxPerPlatform(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte("[outbox]\nper_platform = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := config.Load(path, EnvPrefix, &c); err != nil {
		t.Fatal(err)
	}
	if c.Outbox.PerPlatform != 3 {
		t.Fatalf("outbox.per_platform read as %d, want 3", c.Outbox.PerPlatform)
	}
	for _, tc := range []struct{ set, platforms, want int }{
		{0, 2, 0}, {0, 1, -1}, {3, 2, 3}, {3, 1, 3}, {-1, 5, -1},
	} {
		c := Config{Outbox: OutboxSettings{PerPlatform: tc.set}, Platforms: make([]Platform, tc.platforms)}
		if got := c.perPlatform(); got != tc.want {
			t.Errorf("per_platform %d with %d platforms: dispatcher limit %d, want %d", tc.set, tc.platforms, got, tc.want)
		}
	}
	e := newEnv(t, false) // one platform
	if got := e.svc.disp.PerPeer; got != -1 {
		t.Errorf("dispatcher PerPeer %d, want -1 (one platform: no limit)", got)
	}
	e = newEnv(t, false, func(c *Config) { c.Outbox.PerPlatform = 2 })
	if got := e.svc.disp.PerPeer; got != 2 {
		t.Errorf("dispatcher PerPeer %d, want 2", got)
	}
}
