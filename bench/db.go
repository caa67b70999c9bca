package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
)

// Database kinds.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DefaultPostgresURL is the PostgreSQL the benchmark uses unless told
// otherwise (BAOHAN_TEST_POSTGRES, --pg).
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL is $BAOHAN_TEST_POSTGRES or DefaultPostgresURL.
func PostgresURL() string {
	if u := os.Getenv("BAOHAN_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// PingPostgres says whether the PostgreSQL at rawURL answers.
func PingPostgres(ctx context.Context, rawURL string) error {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// newDatabase returns the URL of a fresh database for one service: a
// SQLite file under dir, or a new schema on the PostgreSQL at pgURL
// (dropped by cleanup).
func newDatabase(ctx context.Context, kind, pgURL, dir, name string) (dbURL string, cleanup func(), err error) {
	switch kind {
	case SQLite, "":
		if err := checkDir(dir); err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, name+".db"), func() {}, nil
	case Postgres:
	default:
		return "", nil, fmt.Errorf("bench: unknown database %q (want sqlite or postgres)", kind)
	}
	if pgURL == "" {
		pgURL = PostgresURL()
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		return "", nil, fmt.Errorf("bench: PostgreSQL URL: %w", err)
	}
	admin, err := sql.Open("pgx", pgURL)
	if err != nil {
		return "", nil, err
	}
	schema := "bench_" + name + "_" + randomHex(4)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("bench: creating schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cleanup = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}
	return u.String(), cleanup, nil
}
