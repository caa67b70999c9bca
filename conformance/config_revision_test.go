package conformance

import (
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/protocol"
)

// TestSetDialectRevision: the revision key reads as the peer's
// configuration spells it, and a wrong one names the flag.
func TestSetDialectRevision(t *testing.T) {
	for _, c := range []struct {
		in   string
		want protocol.Revision
		err  string
	}{
		{"", protocol.RevisionEnvelope, ""},
		{"envelope", protocol.RevisionEnvelope, ""},
		{"flat", protocol.RevisionFlat, ""},
		{"flat-ish", "", "--revision: "},
	} {
		var p Profile
		err := p.SetDialect(Dialect{Revision: c.in})
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: %v, want an error naming %s", c.in, err, c.err)
		case c.err == "" && (err != nil || (p.Revision != c.want && !(c.in == "" && p.Revision == ""))):
			t.Errorf("%q: %q %v, want %q", c.in, p.Revision, err, c.want)
		}
	}
}
