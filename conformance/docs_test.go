package conformance

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the check tables of docs/CONFORMANCE.md")

// checkTable renders a suite's checks as the Markdown table of the docs.
func checkTable(s *Suite) string {
	var b strings.Builder
	b.WriteString("| check | what it verifies | expected |\n|---|---|---|\n")
	for _, c := range s.Checks() {
		exp := c.Expected
		if c.Optional {
			exp += " *(optional: warns)*"
		}
		esc := func(x string) string { return strings.ReplaceAll(x, "|", "\\|") }
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.ID, esc(c.Title), esc(exp))
	}
	return b.String()
}

// TestChecksDocumented keeps the check tables of docs/CONFORMANCE.md
// equal to the suites (go test -run ChecksDocumented -update-docs
// rewrites them).
func TestChecksDocumented(t *testing.T) {
	path := filepath.Join("..", "docs", "CONFORMANCE.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{URL: "http://peer.invalid", AppKey: "k", AppSecret: "s"}
	ps, err := NewPlatformSuite(cfg, nil, fakeGuarantee)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewInstitutionSuite(cfg, nil, nil, fakeVerifier)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, sec := range []struct {
		name  string
		suite *Suite
	}{{"platform", ps}, {"institution", is}} {
		begin, end := "<!-- checks:"+sec.name+" -->\n", "<!-- end checks:"+sec.name+" -->"
		i, j := strings.Index(text, begin), strings.Index(text, end)
		if i < 0 || j < i {
			t.Fatalf("%s: markers %q and %q not found", path, begin, end)
		}
		want := checkTable(sec.suite)
		if got := text[i+len(begin) : j]; got != want {
			if *updateDocs {
				text = text[:i+len(begin)] + want + text[j:]
				continue
			}
			t.Errorf("%s: the %s checks table is out of date; run go test ./conformance -run ChecksDocumented -update-docs", path, sec.name)
		}
	}
	if *updateDocs {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
