package platform

import (
	"strings"
	"testing"
	"time"
)

func TestNewApplyNo(t *testing.T) {
	// 2026-11-30 17:00 UTC is already Dec 1 in China.
	now := time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 2000 {
		n := NewApplyNo(now)
		if !strings.HasPrefix(n, "BH20261201") {
			t.Fatalf("applyno %s does not carry the China date", n)
		}
		if err := CheckApplyNo(n); err != nil {
			t.Fatal(err)
		}
		if len(n) > 50 {
			t.Fatalf("applyno %s is longer than the field's 50", n)
		}
		if seen[n] {
			t.Fatalf("applyno %s twice", n)
		}
		seen[n] = true
	}
	for _, bad := range []string{"", "BH2026120", "XX20261201K7M2Q9XH4T3A", "BH20261341K7M2Q9XH4T3A", "BH20261201K7M2Q9XH4T3I"} {
		if CheckApplyNo(bad) == nil {
			t.Errorf("CheckApplyNo(%q) accepted", bad)
		}
	}
}
