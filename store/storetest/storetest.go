// Package storetest gives tests a database of their own: a SQLite file in
// a temporary directory, or a fresh schema on the test PostgreSQL server.
//
// The server is $BAOHAN_TEST_POSTGRES, by default DefaultPostgresURL. When
// it does not answer, the tests that need it are skipped, unless
// BAOHAN_REQUIRE_POSTGRES=1: then they fail. Each FreshSchema is dropped
// when its test ends, so parallel tests (and engineers) never share
// tables.
//
// The package uses no other package of this module, so that store's own
// tests can use it too.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// DefaultPostgresURL is the test server when BAOHAN_TEST_POSTGRES is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL is $BAOHAN_TEST_POSTGRES or DefaultPostgresURL; it says nothing
// of whether the server answers (PostgresURL does).
func BaseURL() string {
	if u := os.Getenv("BAOHAN_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// Required reports BAOHAN_REQUIRE_POSTGRES=1.
func Required() bool { return os.Getenv("BAOHAN_REQUIRE_POSTGRES") == "1" }

// admin is one small pool on the server for every test of the process:
// it creates and drops the schemas.
var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

func adminDB() (*sql.DB, error) {
	admin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", BaseURL())
		if err == nil {
			err = db.PingContext(ctx)
		}
		if err != nil {
			if db != nil {
				db.Close()
			}
			admin.err = err
			return
		}
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(1)
		admin.db = db
	})
	return admin.db, admin.err
}

// PostgresURL returns the test server's URL, BaseURL. When the server does
// not answer it skips tb, or fails it under BAOHAN_REQUIRE_POSTGRES=1.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	if _, err := adminDB(); err != nil {
		unreachable(tb, err)
	}
	return BaseURL()
}

func unreachable(tb testing.TB, err error) {
	tb.Helper()
	if Required() {
		tb.Fatalf("PostgreSQL at %s unreachable and BAOHAN_REQUIRE_POSTGRES=1: %v", redact(BaseURL()), err)
	}
	tb.Skipf("PostgreSQL at %s unreachable (%v); set BAOHAN_TEST_POSTGRES", redact(BaseURL()), err)
}

// FreshSchema creates a new schema on the test server, dropped (CASCADE)
// when tb ends, and returns a URL whose search_path selects it. Like
// PostgresURL it skips or fails tb when the server does not answer.
func FreshSchema(tb testing.TB) string {
	tb.Helper()
	db, err := adminDB()
	if err != nil {
		unreachable(tb, err)
	}
	u, err := url.Parse(BaseURL())
	if err != nil {
		tb.Fatalf("BAOHAN_TEST_POSTGRES: %v", err)
	}
	schema := schemaName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// schemaName is "t_", the test's name in lower-case letters, digits and
// underscores (at most 32), "_" and 12 random hex digits: unique, and
// telling whose it is when a killed test leaves it behind.
func schemaName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 34 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}

// EachDB runs fn as two subtests: "sqlite" with dbURL "" (the services and
// store.Open then use a SQLite file in their data directory) and
// "postgres" with the URL of a FreshSchema.
func EachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) { fn(t, FreshSchema(t)) })
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
