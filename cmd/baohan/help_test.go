package main

import (
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/internal/cli"
)

// TestHelpSections: every section of help.txt is a command's (NewSet
// panics on a command without one), with a summary and a usage that
// starts with the command's name, and every value in braces is filled
// in.
func TestHelpSections(t *testing.T) {
	for name, h := range cli.ParseHelp(helpText, helpValues) {
		c, ok := commands.Lookup(name)
		switch {
		case !ok:
			t.Errorf("help.txt has a section for %q, which is no command", name)
		case h[0] == "" || c.Summary != h[0]:
			t.Errorf("%s: summary %q", name, h[0])
		case !strings.HasPrefix(h[1], name):
			t.Errorf("%s: the usage does not start with the name: %q", name, h[1])
		}
		for _, v := range []string{"{platform.", "{institution.", "{bench.", "{protocol."} {
			if strings.Contains(h[1], v) {
				t.Errorf("%s: %s... not filled in", name, v)
			}
		}
	}
}
