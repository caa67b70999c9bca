package stack

import (
	"testing"

	"github.com/baohan-dev/baohan/store/storetest"
)

// PostgresURL returns the URL of a fresh PostgreSQL schema (dropped at
// the end of t), or skips t when PostgreSQL is unreachable (fails it
// when BAOHAN_REQUIRE_POSTGRES=1). name tells a test's databases apart in
// the caller; the schema itself is named after the test by storetest.
func PostgresURL(t testing.TB, name string) string {
	t.Helper()
	return storetest.FreshSchema(t)
}
