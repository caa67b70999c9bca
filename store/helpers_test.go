package store

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/store/storetest"
)

// testEnv is one database for a test: a SQLite file in a temporary
// directory or a fresh PostgreSQL schema. open returns a new handle on the
// same database each time (a "process restart" is close + open).
type testEnv struct {
	dialect Dialect
	url     string // "" for SQLite (file in dir)
	dir     string
}

func (e *testEnv) open(tb testing.TB, opts ...Option) *DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []Option{WithFileName("test.db"), WithLogger(quietLogger)}
	if e.dialect == Postgres {
		// Other packages' tests share the server (max_connections 100).
		base = append(base, WithMaxOpenConns(8))
	}
	db, err := Open(ctx, e.url, e.dir, append(base, opts...)...)
	if err != nil {
		tb.Fatalf("open %v: %v", e.dialect, err)
	}
	var once sync.Once
	tb.Cleanup(func() { once.Do(func() { db.Close() }) })
	return db
}

// eachDB runs fn as a subtest on SQLite and on PostgreSQL. PostgreSQL is
// skipped when unreachable, unless BAOHAN_REQUIRE_POSTGRES=1.
func eachDB(t *testing.T, fn func(t *testing.T, env *testEnv)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, sqliteEnv(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, postgresEnv(t))
	})
}

func sqliteEnv(tb testing.TB) *testEnv {
	return &testEnv{dialect: SQLite, dir: tb.TempDir()}
}

// postgresEnv is a fresh schema (dropped at cleanup) on the test server.
func postgresEnv(tb testing.TB) *testEnv {
	tb.Helper()
	return &testEnv{dialect: Postgres, url: storetest.FreshSchema(tb), dir: tb.TempDir()}
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustExec(tb testing.TB, db *DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.ExecContext(context.Background(), db.Rebind(q), args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

func countRows(tb testing.TB, db *DB, q string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), db.Rebind(q), args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

var quietLogger = slog.New(slog.DiscardHandler)

func init() {
	if os.Getenv("STORE_TEST_LOG") != "" {
		quietLogger = slog.Default()
	}
}

func sqlitePath(env *testEnv) string { return filepath.Join(env.dir, "test.db") }

// checkTamper runs the tampering statement q in a transaction, verifies
// the message log's chain inside it (rolled back after), and wants the
// break at row id, its reason naming want.
func checkTamper(t *testing.T, db *DB, l *MessageLog, q string, args []any, id int64, want string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, db.Rebind(q), args...); err != nil {
		t.Fatal(err)
	}
	brk, err := l.verifyChain(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	if brk == nil || brk.ID != id || !strings.Contains(brk.Reason, want) {
		t.Fatalf("got %v, want a break at row %d naming %q", brk, id, want)
	}
}
