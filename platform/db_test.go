package platform

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// eachDB runs fn once on SQLite (a file in a temporary directory, url "")
// and once on PostgreSQL in a fresh schema. PostgreSQL is skipped when it
// is unreachable, unless BAOHAN_REQUIRE_POSTGRES=1.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresSchema(t)) })
}

// postgresSchema creates a fresh schema, dropped after the test, and
// returns a URL whose search_path selects it.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("BAOHAN_TEST_POSTGRES")
	if base == "" {
		base = defaultTestPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", base)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		if os.Getenv("BAOHAN_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL required (BAOHAN_REQUIRE_POSTGRES=1) but unreachable at %s: %v", base, err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v", base, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_plat_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
