package protocol

import (
	"strings"
	"testing"
)

func TestValidateNamed(t *testing.T) {
	tests := []struct {
		name, json string
		violations int // -1: an error
		err        string
	}{
		{"baohannotice", `{"applyno":"x"}`, 1, ""}, // at least one: fields missing
		{"cancelnotice", `{}`, -1, `unknown interface "cancelnotice" (did you mean "canclenotice"?); one of ` + InterfaceNames() + ", or applydata"},
		{"baohannotice", `[1]`, -1, "JSON"},
		{ApplyDataName, `{}`, 1, ""},
	}
	for _, tt := range tests {
		vs, err := ValidateNamed(tt.name, []byte(tt.json))
		switch {
		case tt.violations < 0 && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s %s: %v, want error %q", tt.name, tt.json, err, tt.err)
		case tt.violations >= 0 && (err != nil || len(vs) < tt.violations):
			t.Errorf("%s %s: %d violations %v, want at least %d", tt.name, tt.json, len(vs), err, tt.violations)
		}
	}
	if n := strings.Count(InterfaceNames(), ", ") + 1; n != 16 || !strings.HasSuffix(InterfaceNames(), ", claimsresultnotice, claimsrepaynotice") {
		t.Errorf("InterfaceNames names %d interfaces, want the 14 + 2 optional: %s", n, InterfaceNames())
	}
}
