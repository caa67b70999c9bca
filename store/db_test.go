package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs.db")
	tests := []struct {
		name, url, dataDir string
		opts               []Option
		wantPath           string
		wantErr            string
	}{
		{name: "empty url: default file in dataDir", url: "", dataDir: dir, wantPath: filepath.Join(dir, DefaultFileName)},
		{name: "empty url with file name", url: "", dataDir: dir, opts: []Option{WithFileName("platform.db")}, wantPath: filepath.Join(dir, "platform.db")},
		{name: "sqlite:PATH", url: "sqlite:" + abs, wantPath: abs},
		{name: "sqlite://PATH", url: "sqlite://" + abs, wantPath: abs},
		{name: "bare path", url: abs, wantPath: abs},
		{name: "nested dir created", url: filepath.Join(dir, "a", "b", "c.db"), wantPath: filepath.Join(dir, "a", "b", "c.db")},
		{name: "unsupported scheme", url: "mysql://u@h/db", wantErr: "unsupported scheme"},
		{name: "memory refused", url: "sqlite::memory:", wantErr: "in-memory"},
		{name: "question mark refused", url: filepath.Join(dir, "x?.db"), wantErr: "'?'"},
		{name: "postgres unreachable", url: "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", wantErr: "connect to PostgreSQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(ctx, tt.url, tt.dataDir, append([]Option{WithLogger(quietLogger)}, tt.opts...)...)
			if tt.wantErr != "" {
				if err == nil {
					db.Close()
					t.Fatalf("Open(%q) succeeded, want error %q", tt.url, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q) error %q, want it to contain %q", tt.url, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer db.Close()
			if db.Dialect != SQLite || db.Path() != tt.wantPath {
				t.Fatalf("dialect %v path %q, want sqlite %q", db.Dialect, db.Path(), tt.wantPath)
			}
			if n := countRows(t, db, "SELECT COUNT(*) FROM outbox"); n != 0 {
				t.Fatalf("shared tables not migrated")
			}
		})
	}
}

func TestSQLitePragmas(t *testing.T) {
	env := sqliteEnv(t)
	db := env.open(t, WithBusyTimeout(1234*time.Millisecond))
	for _, pool := range []*sql.DB{db.DB, db.Writer()} {
		for _, p := range []struct{ pragma, want string }{
			{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"synchronous", "1"}, {"busy_timeout", "1234"},
		} {
			var got string
			if err := pool.QueryRow("PRAGMA " + p.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != p.want {
				t.Errorf("PRAGMA %s = %q, want %q", p.pragma, got, p.want)
			}
		}
	}
	if db.Writer().Stats().MaxOpenConnections != 1 {
		t.Fatalf("writer pool has %d connections, want 1", db.Writer().Stats().MaxOpenConnections)
	}
	mustExec(t, db, "CREATE TABLE parent (id INTEGER PRIMARY KEY)")
	mustExec(t, db, "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parent(id))")
	if _, err := db.Exec("INSERT INTO child (parent) VALUES (42)"); err == nil {
		t.Fatal("foreign key not enforced")
	}
}

func TestWithoutSharedMigrations(t *testing.T) {
	env := sqliteEnv(t)
	db := env.open(t, WithoutSharedMigrations())
	if _, err := db.Exec("SELECT COUNT(*) FROM outbox"); err == nil {
		t.Fatal("outbox exists although shared migrations were skipped")
	}
	if err := db.MigrateShared(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, "SELECT COUNT(*) FROM outbox"); n != 0 {
		t.Fatal(n)
	}
}

func TestInTxCommitRollbackPanic(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		mustExec(t, db, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
		ins := db.Rebind("INSERT INTO kv (k, v) VALUES (?, ?)")
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, ins, "a", "1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		calls := 0
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			calls++
			if _, err := tx.ExecContext(ctx, ins, "b", "2"); err != nil {
				return err
			}
			return fmt.Errorf("wrapped: %w", boom)
		})
		if !errors.Is(err, boom) || calls != 1 {
			t.Fatalf("err %v after %d calls; want boom after 1 (not retried)", err, calls)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic swallowed")
				}
			}()
			db.InTx(ctx, func(tx *sql.Tx) error {
				tx.ExecContext(ctx, ins, "c", "3")
				panic("in fn")
			})
		}()
		if n := countRows(t, db, "SELECT COUNT(*) FROM kv"); n != 1 {
			t.Fatalf("%d rows, want 1 (only the committed one)", n)
		}
		// The writer connection is usable after the panic.
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, ins, "d", "4")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// Read-only transactions work too.
		if err := db.InTxOptions(ctx, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
			var n int
			return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM kv").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// Another "process" holds SQLite's write lock; InTx waits (busy_timeout)
// and retries on SQLITE_BUSY until the lock is released.
func TestInTxRetriesSQLiteBusy(t *testing.T) {
	env := sqliteEnv(t)
	ctx := context.Background()
	holder := env.open(t)
	mustExec(t, holder, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
	waiter := env.open(t, WithBusyTimeout(time.Millisecond))

	tx, err := holder.Writer().BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO kv VALUES ('held', '1')"); err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int32
	waiter.onRetry = func(err error) {
		if !strings.Contains(err.Error(), "SQLITE_BUSY") {
			t.Errorf("retried on %v", err)
		}
		retries.Add(1)
	}
	done := make(chan error, 1)
	go func() {
		done <- waiter.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO kv VALUES ('waiter', '2')")
			return err
		})
	}()
	// BEGIN IMMEDIATE fails with SQLITE_BUSY while the lock is held.
	waitFor(t, "a busy attempt", func() bool { return retries.Load() >= 2 })
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("InTx did not get through after the lock was released: %v", err)
	}
	if n := countRows(t, holder, "SELECT COUNT(*) FROM kv"); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}

	// A lock held longer than all attempts: a bounded failure that says so.
	tx, _ = holder.Writer().BeginTx(ctx, nil)
	tx.Exec("INSERT INTO kv VALUES ('held2', '1')")
	defer tx.Rollback()
	short := env.open(t, WithBusyTimeout(time.Millisecond), WithTxAttempts(3))
	err = short.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO kv VALUES ('never', '3')")
		return err
	})
	if err == nil || !Retryable(err) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err = %v, want a retryable error after 3 attempts", err)
	}
}

// Two serializable transactions with a write skew: PostgreSQL aborts one
// with 40001 and InTx runs it again.
func TestInTxRetriesPostgresSerialization(t *testing.T) {
	env := postgresEnv(t)
	ctx := context.Background()
	db := env.open(t)
	mustExec(t, db, "CREATE TABLE duty (who TEXT PRIMARY KEY, on_call BOOLEAN NOT NULL)")
	mustExec(t, db, "INSERT INTO duty VALUES ('a', true), ('b', true)")
	opts := &sql.TxOptions{Isolation: sql.LevelSerializable}
	var (
		calls   atomic.Int32
		barrier sync.WaitGroup
	)
	barrier.Add(2)
	offDuty := func(who string) error {
		first := true
		return db.InTxOptions(ctx, opts, func(tx *sql.Tx) error {
			calls.Add(1)
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM duty WHERE on_call").Scan(&n); err != nil {
				return err
			}
			if first { // both read before either writes
				first = false
				barrier.Done()
				barrier.Wait()
			}
			if n < 2 {
				return nil // someone must stay on call
			}
			_, err := tx.ExecContext(ctx, "UPDATE duty SET on_call = false WHERE who = $1", who)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- offDuty("a") }()
	go func() { errs <- offDuty("b") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("fn ran %d times, want 3 (one serialization failure retried)", calls.Load())
	}
	if n := countRows(t, db, "SELECT COUNT(*) FROM duty WHERE on_call"); n != 1 {
		t.Fatalf("%d on call, want 1", n)
	}
}

// 32 goroutines write at once, through InTx and through single statements
// on the general pool; on SQLite also from a second handle on the same
// file (another process). Nothing fails with "database is locked".
func TestConcurrentWriters(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		a := env.open(t)
		b := env.open(t)
		mustExec(t, a, "CREATE TABLE w (g INTEGER NOT NULL, i INTEGER NOT NULL, PRIMARY KEY (g, i))")
		mustExec(t, a, "CREATE TABLE c (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
		mustExec(t, a, "INSERT INTO c VALUES (1, 0)")
		const goroutines, each = 32, 25
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db := a
				if g%2 == 1 {
					db = b
				}
				for i := range each {
					var err error
					if i%5 == 4 {
						_, err = db.ExecContext(ctx, db.Rebind("INSERT INTO w VALUES (?, ?)"), g, i)
						if err == nil {
							_, err = db.ExecContext(ctx, "UPDATE c SET n = n + 1 WHERE k = 1")
						}
					} else {
						err = db.InTx(ctx, func(tx *sql.Tx) error {
							if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO w VALUES (?, ?)"), g, i); err != nil {
								return err
							}
							_, err := tx.ExecContext(ctx, "UPDATE c SET n = n + 1 WHERE k = 1")
							return err
						})
					}
					if err != nil {
						errs <- fmt.Errorf("goroutine %d write %d: %w", g, i, err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := countRows(t, a, "SELECT COUNT(*) FROM w"); n != goroutines*each {
			t.Fatalf("%d rows, want %d", n, goroutines*each)
		}
		if n := countRows(t, a, "SELECT n FROM c WHERE k = 1"); n != goroutines*each {
			t.Fatalf("counter %d, want %d (lost updates)", n, goroutines*each)
		}
	})
}
