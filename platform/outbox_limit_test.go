package platform

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/baohan-dev/baohan/config"
)

// outbox.per_peer reaches the dispatcher (per_institution, its old name,
// too, with a warning: TestOldKeys). Unset, the dispatcher's default (half its
// workers) applies with several institutions, and no limit with a
// single one.
func TestOutboxPerInstitution(t *testing.T) {
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
	for _, tc := range []struct{ set, institutions, want int }{
		{0, 2, 0}, {0, 1, -1}, {3, 2, 3}, {3, 1, 3}, {-1, 5, -1},
	} {
		if got := (config.Outbox{PerPeer: tc.set}).PerPeerFor(tc.institutions); got != tc.want {
			t.Errorf("per_peer %d with %d institutions: dispatcher limit %d, want %d", tc.set, tc.institutions, got, tc.want)
		}
	}
	e := newEnv(t, "") // two institutions
	if got := e.svc.disp.PerPeer; got != 0 {
		t.Errorf("dispatcher PerPeer %d, want 0 (its default)", got)
	}
}
