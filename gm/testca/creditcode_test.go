package testca

import (
	"strings"
	"testing"
)

func TestCheckCreditCode(t *testing.T) {
	// Published codes: GB 32100-2015's example and two large companies.
	for _, c := range []string{"91350100M000100Y43", "91440300708461136T", "91330100716105852F"} {
		if err := CheckCreditCode(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for _, tt := range []struct{ code, want string }{
		{"91350100M000100Y44", "check character"},
		{"91350100M000100Y4", "17 characters"},
		{"91350100M000100I43", "not allowed"},
	} {
		if err := CheckCreditCode(tt.code); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.code, err, tt.want)
		}
	}
	seen := map[string]bool{}
	for range 200 {
		c := GenerateCreditCode()
		if err := CheckCreditCode(c); err != nil {
			t.Fatalf("generated %s: %v", c, err)
		}
		seen[c] = true
	}
	if len(seen) < 195 {
		t.Fatalf("only %d distinct codes in 200", len(seen))
	}
}
