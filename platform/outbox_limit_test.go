package platform

import (
	"os"
	"path/filepath"
	"testing"
)

// outbox.per_institution reaches the dispatcher. Unset, the dispatcher's
// default (half its workers) applies with several institutions, and no
// limit with a single one.
func TestOutboxPerInstitution(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte("[outbox]\nper_institution = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbox.PerInstitution != 3 {
		t.Fatalf("outbox.per_institution read as %d, want 3", c.Outbox.PerInstitution)
	}
	for _, tc := range []struct{ set, institutions, want int }{
		{0, 2, 0}, {0, 1, -1}, {3, 2, 3}, {3, 1, 3}, {-1, 5, -1},
	} {
		c := Config{Outbox: OutboxConfig{PerInstitution: tc.set}, Institutions: make([]Institution, tc.institutions)}
		if got := c.perInstitution(); got != tc.want {
			t.Errorf("per_institution %d with %d institutions: dispatcher limit %d, want %d", tc.set, tc.institutions, got, tc.want)
		}
	}
	e := newEnv(t, "") // two institutions
	if got := e.svc.disp.PerPeer; got != 0 {
		t.Errorf("dispatcher PerPeer %d, want 0 (its default)", got)
	}
}
