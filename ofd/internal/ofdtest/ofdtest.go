// Package ofdtest holds helpers for the tests of the ofd packages: the
// fixtures made by other OFD implementations and throw-away SM2
// certificates.
package ofdtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// FixtureDir finds the directory of the ofdrw fixtures: $BAOHAN_OFD_FIXTURES,
// else ../shared/fixtures/ofdrw beside the repository (the workspace
// layout). Tests that need it skip when it is absent, unless
// BAOHAN_REQUIRE_FIXTURES=1.
func FixtureDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BAOHAN_OFD_FIXTURES"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	// file is <repo>/ofd/internal/ofdtest/ofdtest.go
	repo := filepath.Join(filepath.Dir(file), "..", "..", "..")
	d := filepath.Join(repo, "..", "shared", "fixtures", "ofdrw")
	if _, err := os.Stat(d); err != nil {
		if os.Getenv("BAOHAN_REQUIRE_FIXTURES") == "1" {
			t.Fatalf("ofdrw fixtures not found at %s (set BAOHAN_OFD_FIXTURES)", d)
		}
		t.Skipf("ofdrw fixtures not found at %s (set BAOHAN_OFD_FIXTURES)", d)
	}
	return d
}

// Fixture reads one fixture file.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(FixtureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
