package demo

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkspace(t *testing.T) {
	for _, tc := range []struct {
		name       string
		given      bool // a directory is given
		keep       bool
		wantRemain bool
	}{
		{"temporary, removed", false, false, false},
		{"temporary, kept", false, true, true},
		{"given, kept", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := ""
			if tc.given {
				dir = filepath.Join(t.TempDir(), "data")
			}
			before := slog.Default()
			w, err := OpenWorkspace(dir, tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			if w.Temp == tc.given {
				t.Errorf("Temp = %v for a given directory %v", w.Temp, tc.given)
			}
			slog.Info("written through the default logger")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if slog.Default() != before {
				t.Error("the default logger is not restored")
			}
			data, err := os.ReadFile(filepath.Join(w.Dir, "demo.log"))
			if remained := err == nil; remained != tc.wantRemain {
				t.Fatalf("demo.log remains: %v, want %v (%v)", remained, tc.wantRemain, err)
			}
			if tc.wantRemain {
				if !strings.Contains(string(data), "written through the default logger") {
					t.Errorf("demo.log = %q", data)
				}
				if !tc.given {
					os.RemoveAll(w.Dir)
				}
			}
		})
	}
}
