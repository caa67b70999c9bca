package institution

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/baohan-dev/baohan/config"
)

// outbox.per_peer reaches the dispatcher (per_platform, its old name,
// too, with a warning: TestOldKeys). Unset, the dispatcher's default (half its
// workers) applies with several platforms, and no limit with a single
// one.
func TestOutboxPerPlatform(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte("[outbox]\nper_peer = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbox.PerPeer != 3 {
		t.Fatalf("outbox.per_peer read as %d, want 3", c.Outbox.PerPeer)
	}
	for _, tc := range []struct{ set, platforms, want int }{
		{0, 2, 0}, {0, 1, -1}, {3, 2, 3}, {3, 1, 3}, {-1, 5, -1},
	} {
		if got := (config.Outbox{PerPeer: tc.set}).PerPeerFor(tc.platforms); got != tc.want {
			t.Errorf("per_peer %d with %d platforms: dispatcher limit %d, want %d", tc.set, tc.platforms, got, tc.want)
		}
	}
	e := newEnv(t, false) // one platform
	if got := e.svc.disp.PerPeer; got != -1 {
		t.Errorf("dispatcher PerPeer %d, want -1 (one platform: no limit)", got)
	}
	e = newEnv(t, false, func(c *Config) { c.Outbox.PerPeer = 2 })
	if got := e.svc.disp.PerPeer; got != 2 {
		t.Errorf("dispatcher PerPeer %d, want 2", got)
	}
}
