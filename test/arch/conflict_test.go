package arch

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoConflictMarkers fails on a merge conflict left in a tracked text
// file: a line that starts with "<<<<<<< ", ">>>>>>> " or is "=======" between them.
func TestNoConflictMarkers(t *testing.T) {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	root := strings.TrimSpace(string(top))
	out, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch filepath.Ext(name) {
		case ".go", ".md", ".toml", ".html", ".css", ".js", ".sql", ".txt", ".yml", ".yaml", ".json":
		default:
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue // deleted in the work tree
		}
		if at := conflictAt(data); at > 0 {
			t.Errorf("%s:%d: merge conflict marker", name, at)
		}
	}
}

// conflictAt is the line of the first "<<<<<<< " opening a conflict that a
// "=======" and a ">>>>>>> " close, or 0.
func conflictAt(data []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	open, middle := 0, false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<<<<<<< "):
			open, middle = n, false
		case line == "=======" && open > 0:
			middle = true
		case strings.HasPrefix(line, ">>>>>>> ") && open > 0 && middle:
			return open
		}
	}
	return 0
}

func TestConflictAt(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int
	}{
		{"a\n<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> branch\n", 2},
		{"a\n=======\nheading underline\n", 0},
		{"<<<<<<< HEAD\nonly an opening\n", 0},
	} {
		if got := conflictAt([]byte(tc.text)); got != tc.want {
			t.Errorf("conflictAt(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}
