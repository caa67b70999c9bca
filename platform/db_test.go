package platform

import (
	"testing"

	"github.com/baohan-dev/baohan/store/storetest"
)

// eachDB runs fn once on SQLite (dbURL "": a file in the data directory)
// and once on a fresh PostgreSQL schema; see store/storetest.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	storetest.EachDB(t, fn)
}
