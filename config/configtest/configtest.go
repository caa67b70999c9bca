// Package configtest checks, for the services' tests, that the keys an
// older version spelled otherwise still work.
package configtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/config"
)

// OldKey is a key of an older version, in a file or in the environment,
// and what it must read as.
type OldKey struct {
	Name   string                      // the subtest
	File   string                      // TOML that sets the old key
	Env    string                      // or NAME=VALUE of the old variable
	Check  func(c *config.Common) bool // the new key holds its value
	NewKey string                      // the one warning names it
}

// OldKeys loads each case with load and checks that the old key reads
// into the new one with exactly one warning naming it.
func OldKeys(t *testing.T, load func(path string) (*config.Common, error), keys []OldKey) {
	t.Helper()
	dir := t.TempDir()
	for i, k := range keys {
		t.Run(k.Name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("c%d.toml", i))
			if err := os.WriteFile(path, []byte(k.File+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if k.Env != "" {
				name, v, _ := strings.Cut(k.Env, "=")
				t.Setenv(name, v)
			}
			c, err := load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !k.Check(c) {
				t.Errorf("read as %+v", *c)
			}
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], k.NewKey) {
				t.Errorf("warnings %q, want one naming %s", c.Warnings, k.NewKey)
			}
		})
	}
}
