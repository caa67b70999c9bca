package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
			{"wal_autocheckpoint", "8000"}, // the checkpointer copies back before
			{"temp_store", "2"},            // journals of statements and savepoints in memory
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

// TestSQLiteExecOnWriter: a statement run outside a transaction
// (DB.ExecContext) runs on the writer, in turn with the write
// transactions, not on a reader connection beside it.
func TestSQLiteExecOnWriter(t *testing.T) {
	ctx := context.Background()
	db := sqliteEnv(t).open(t)
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	held, release := make(chan struct{}), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- db.InTx(ctx, func(tx *sql.Tx) error {
			close(held)
			<-release
			_, err := tx.ExecContext(ctx, "INSERT INTO t (id) VALUES (1)")
			return err
		})
	}()
	<-held
	waits := db.Writer().Stats().WaitCount
	execDone := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "INSERT INTO t (id) VALUES (2)")
		execDone <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for db.Writer().Stats().WaitCount == waits {
		select {
		case err := <-execDone:
			close(release)
			t.Fatalf("the statement ran beside the writer's transaction (err %v), not after it on the writer", err)
		default:
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the statement is not waiting for the writer")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-txDone; err != nil {
		t.Fatal(err)
	}
	if err := <-execDone; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows, %v; want 2", n, err)
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

// Two serializable transactions with a write skew: both read before
// either writes, then "a" writes and commits first, and only then does "b"
// write. PostgreSQL must abort b with 40001 (a committed before it), and
// InTx runs b again, which now sees a's commit.
//
// The order is fixed on purpose: if both wrote at once, b could be aborted
// while a is still open, and b's retry would then read the old rows again
// and conflict again, so the number of runs would depend on scheduling.
func TestInTxRetriesPostgresSerialization(t *testing.T) {
	env := postgresEnv(t)
	ctx := context.Background()
	db := env.open(t)
	mustExec(t, db, "CREATE TABLE duty (who TEXT PRIMARY KEY, on_call BOOLEAN NOT NULL)")
	mustExec(t, db, "INSERT INTO duty VALUES ('a', true), ('b', true)")
	opts := &sql.TxOptions{Isolation: sql.LevelSerializable}
	var (
		mu      sync.Mutex // guards calls and retries
		calls   = map[string]int{}
		retries int
		barrier sync.WaitGroup
		aDone   = make(chan struct{})
	)
	db.onRetry = func(err error) {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "40001" {
			t.Errorf("retried on %v, want a serialization failure (40001)", err)
		}
		mu.Lock()
		retries++
		mu.Unlock()
	}
	barrier.Add(2)
	offDuty := func(who string) error {
		first := true
		return db.InTxOptions(ctx, opts, func(tx *sql.Tx) error {
			mu.Lock()
			calls[who]++
			mu.Unlock()
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM duty WHERE on_call").Scan(&n); err != nil {
				return err
			}
			if first { // both read before either writes
				first = false
				barrier.Done()
				barrier.Wait()
				if who == "b" {
					<-aDone // b writes only after a has committed
				}
			}
			if n < 2 {
				return nil // someone must stay on call
			}
			_, err := tx.ExecContext(ctx, "UPDATE duty SET on_call = false WHERE who = $1", who)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() {
		err := offDuty("a")
		close(aDone)
		errs <- err
	}()
	go func() { errs <- offDuty("b") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if calls["a"] != 1 || calls["b"] != 2 || retries != 1 {
		t.Fatalf("fn ran %d times for a and %d for b, %d retries; want 1, 2 and 1 (b's serialization failure retried once)", calls["a"], calls["b"], retries)
	}
	var who string
	if err := db.QueryRowContext(ctx, "SELECT who FROM duty WHERE on_call").Scan(&who); err != nil || who != "b" {
		t.Fatalf("on call: %q %v, want only b", who, err)
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

// A notice-like write load (update a random row of a table with indexes,
// append a history row) from 64 goroutines, with the WAL checkpointed by
// the background checkpointer (the default) and by SQLite's auto-checkpoint
// in the committing writer (BAOHAN_SQLITE_NO_BG_CHECKPOINT=1).
func BenchmarkSQLiteCheckpoint(b *testing.B) {
	for _, mode := range []string{"background", "in-writer"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "in-writer" {
				b.Setenv("BAOHAN_SQLITE_NO_BG_CHECKPOINT", "1")
			}
			ctx := context.Background()
			db := sqliteEnv(b).open(b)
			seedWriteLoad(b, db, 20000)
			var seq atomic.Int64
			b.SetParallelism(32) // 64 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := writeLoadTx(ctx, db, seq.Add(1)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
		})
	}
}

// seedWriteLoad makes the tables of writeLoadTx with n rows.
func seedWriteLoad(tb testing.TB, db *DB, n int) {
	tb.Helper()
	mustExec(tb, db, `CREATE TABLE wl (k TEXT PRIMARY KEY, state TEXT NOT NULL, ref TEXT NOT NULL DEFAULT '',
		body TEXT NOT NULL DEFAULT '', version BIGINT NOT NULL, created_at BIGINT NOT NULL)`)
	mustExec(tb, db, `CREATE INDEX wl_state ON wl (state, created_at)`)
	mustExec(tb, db, `CREATE UNIQUE INDEX wl_ref ON wl (ref) WHERE ref <> ''`)
	mustExec(tb, db, `CREATE TABLE wl_events (k TEXT NOT NULL, seq BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (k, seq))`)
	err := db.InTx(context.Background(), func(tx *sql.Tx) error {
		for i := range n {
			if _, err := tx.Exec(`INSERT INTO wl (k, state, version, created_at) VALUES (?, 'applied', 1, ?)`,
				fmt.Sprintf("%08x", uint32(i)*2654435761), i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// writeLoadTx moves row i (mod the rows) and appends an event.
func writeLoadTx(ctx context.Context, db *DB, i int64) error {
	k := fmt.Sprintf("%08x", uint32(i%20000)*2654435761)
	return db.InTx(ctx, func(tx *sql.Tx) error {
		body := strings.Repeat("n", 300)
		if _, err := tx.ExecContext(ctx, `UPDATE wl SET state = ?, ref = ?, body = ?, version = version + 1 WHERE k = ?`,
			fmt.Sprintf("s%d", i%7), fmt.Sprintf("r%d", i), body, k); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO wl_events (k, seq, body) VALUES (?, ?, ?)`, k, i, body)
		return err
	})
}

// withCheckpoint sets the checkpointer's pause and pages.
func withCheckpoint(every time.Duration, pages int) Option {
	return func(o *options) { o.ckptEvery, o.ckptPages = every, pages }
}

// walSize is the size of the SQLite WAL file: the most it ever held, as
// SQLite writes a WAL that starts over from the file's beginning and
// leaves the file as long as it was.
func walSize(tb testing.TB, db *DB) int64 {
	tb.Helper()
	fi, err := os.Stat(db.Path() + "-wal")
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// pageTable makes a table of rows rows of about a page each.
func pageTable(tb testing.TB, db *DB, rows int) {
	tb.Helper()
	mustExec(tb, db, "CREATE TABLE big (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
	err := db.InTx(context.Background(), func(tx *sql.Tx) error {
		for k := range rows {
			if _, err := tx.Exec("INSERT INTO big (k, v) VALUES (?, ?)", k, strings.Repeat("x", 3000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// rewritePages commits n transactions from 4 writers, each rewriting
// perTx rows of big (of rows) and so as many pages; with stop, until stop
// says so.
func rewritePages(tb testing.TB, db *DB, rows, perTx, n int, stop func() bool) {
	tb.Helper()
	ctx := context.Background()
	var (
		next    atomic.Int64
		writers sync.WaitGroup
	)
	for range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				i := int(next.Add(1))
				if i > n || stop != nil && stop() {
					return
				}
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					for j := range perTx {
						if _, err := tx.ExecContext(ctx, "UPDATE big SET v = ? WHERE k = ?",
							strings.Repeat(string(rune('a'+i%26)), 3000), (i*perTx+j)%rows); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
}

// TestSQLiteCheckpointerCopiesBack: with the writer's auto-checkpoint out
// of reach, the checkpointer copies every committed page back into the
// database file by itself.
func TestSQLiteCheckpointerCopiesBack(t *testing.T) {
	db := sqliteEnv(t).open(t, withCheckpoint(time.Millisecond, 1<<30))
	pageTable(t, db, 64)
	rewritePages(t, db, 64, 16, 20, nil)
	c := db.ckpt
	waitFor(t, "the WAL copied back", func() bool { return c.frames.Load() >= 20*16 && c.copied.Load() == c.frames.Load() })
}

// TestSQLiteCheckpointerBoundsWAL: under a loop of write transactions
// (4 writers, a reader reading all along) the WAL starts over again and
// again: it stays at about twice the checkpointer's pages (64) plus what
// the writers commit during one background checkpoint, here far below
// what they write. Without any checkpoint the same loop grows it past the
// bound.
func TestSQLiteCheckpointerBoundsWAL(t *testing.T) {
	db := sqliteEnv(t).open(t, withCheckpoint(2*time.Millisecond, 64))
	const rows, perTx = 256, 16
	pageTable(t, db, rows)
	stopReader := make(chan struct{})
	readerDone := make(chan struct{})
	go func() { // a reader, holding WAL snapshots now and then (point reads, as the services' are)
		defer close(readerDone)
		for {
			select {
			case <-stopReader:
				return
			case <-time.After(time.Millisecond):
			}
			var n int
			if err := db.QueryRow("SELECT length(v) FROM big WHERE k = ?", rand.IntN(rows)).Scan(&n); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stopReader); <-readerDone }()

	const bound = 16 << 20               // bytes: 4,000 pages
	const txs = 5 * bound / 4096 / perTx // five times the bound
	rewritePages(t, db, rows, perTx, txs, nil)
	if got := walSize(t, db); got > bound {
		t.Fatalf("the WAL grew to %d bytes, want at most %d (%d pages written; %d background checkpoints)", got, bound, txs*perTx, db.ckpt.runs.Load())
	}
	if db.ckpt.runs.Load() == 0 {
		t.Fatal("no background checkpoint ran")
	}

	db.ckpt.close()
	if _, err := db.Writer().Exec("PRAGMA wal_autocheckpoint = 0"); err != nil { // the writer: no checkpoint at all
		t.Fatal(err)
	}
	rewritePages(t, db, rows, perTx, txs, func() bool { return walSize(t, db) > bound })
	if got := walSize(t, db); got <= bound {
		t.Fatalf("without checkpoints the WAL stayed at %d bytes: the loop does not test the bound", got)
	}
}

// TestSQLiteCheckpointerStops: Close stops the checkpointer goroutine (and
// a commit's kick after it neither blocks nor panics); a checkpoint that
// fails is logged, not fatal.
func TestSQLiteCheckpointerStops(t *testing.T) {
	env := sqliteEnv(t)
	db := env.open(t, withCheckpoint(time.Millisecond, 1<<30))
	mustExec(t, db, "CREATE TABLE t (v TEXT)")
	for range 20 {
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
			_, err := tx.Exec("INSERT INTO t VALUES ('x')")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a checkpoint", func() bool { return db.ckpt.runs.Load() > 0 })
	c := db.ckpt
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("the checkpointer still runs after Close")
	}
	c.kick()
	c.close() // again: returns
	if _, err := os.Stat(db.Path() + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the WAL is still there after Close (%v): the last connection did not checkpoint it", err)
	}
}
