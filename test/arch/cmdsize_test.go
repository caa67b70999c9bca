package arch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cmdLineBudget is the most non-test lines cmd/ may hold: it parses flags
// and wires; logic lives in the packages (docs/ARCHITECTURE.md).
const cmdLineBudget = 1200

func TestCmdIsWiring(t *testing.T) {
	var lines int
	err := filepath.WalkDir("../../cmd", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		lines += bytes.Count(b, []byte("\n"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if lines == 0 {
		t.Fatal("no Go file found under cmd/")
	}
	if lines >= cmdLineBudget {
		t.Errorf("cmd/ holds %d non-test lines, the budget is under %d: move logic into its package", lines, cmdLineBudget)
	}
}
