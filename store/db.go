package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// DefaultFileName is the SQLite file name used when Open gets an empty URL
// and no WithFileName option.
const DefaultFileName = "baohan.db"

// DB is a database handle shared by the services.
//
// The embedded *sql.DB is the general pool: use it for reads and for
// single statements. Write transactions go through InTx, which on SQLite
// runs them on a separate pool of exactly one connection (BEGIN IMMEDIATE),
// so writers of one process queue in Go instead of failing with
// SQLITE_BUSY, while readers keep reading from the WAL snapshot in
// parallel. On PostgreSQL both are the same pool.
type DB struct {
	*sql.DB
	Dialect Dialect

	write    *sql.DB // SQLite: one connection; Postgres: == DB.DB
	path     string  // SQLite file
	logger   *slog.Logger
	attempts int // InTx attempts

	onRetry func(err error) // tests: called before each retry

	// Concurrent write transactions committed together (grouptx.go):
	// every InTx on SQLite, InTxGrouped on PostgreSQL.
	txgOnce   sync.Once
	txg       []*groupCommit[*txJob] // one; several on PostgreSQL (pgTxGroups)
	noGroupTx bool
	// txGroupFallbacks counts the PostgreSQL groups that a failing
	// member rolled back (writeTxGroupWhole).
	txGroupFallbacks atomic.Int64

	// SQLite: the WAL checkpoints, off the writer's path (nil: SQLite's
	// own auto-checkpoint in the committing connection).
	ckpt *checkpointer

	// PostgreSQL: the connection settings, for the connections that are
	// not in the pool (the outbox listener's, listen.go).
	pgConfig *pgx.ConnConfig
}

// Option configures Open.
type Option func(*options)

type options struct {
	fileName    string
	logger      *slog.Logger
	busyTimeout time.Duration
	maxOpen     int
	skipShared  bool
	txAttempts  int
	ckptEvery   time.Duration // the pause between background checkpoints while writes go on
	ckptPages   int           // WAL pages at which the checkpointer checkpoints on the writer (SQLite's own at twice that)
}

// WithFileName sets the SQLite file name used inside dataDir when the URL
// is empty (default DefaultFileName), e.g. "platform.db".
func WithFileName(name string) Option { return func(o *options) { o.fileName = name } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBusyTimeout sets SQLite's busy_timeout, how long one statement waits
// for another connection's lock before SQLITE_BUSY (default 5s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithMaxOpenConns sets the size of the general pool (default 4 on SQLite,
// 16 on PostgreSQL).
func WithMaxOpenConns(n int) Option { return func(o *options) { o.maxOpen = n } }

// WithoutSharedMigrations makes Open skip MigrateShared (for tools that must
// not change the schema; the caller then runs MigrateShared itself).
func WithoutSharedMigrations() Option { return func(o *options) { o.skipShared = true } }

// WithTxAttempts bounds how many times InTx runs a transaction that fails
// with a retryable conflict (default 12).
func WithTxAttempts(n int) Option { return func(o *options) { o.txAttempts = n } }

// Open opens the database named by rawURL and applies the store's shared
// migrations (MigrateShared) unless WithoutSharedMigrations is given.
//
//	""                          SQLite file dataDir/<WithFileName or baohan.db>
//	"sqlite:PATH", "sqlite://PATH", "PATH"
//	                            SQLite file PATH (relative to the working directory)
//	"postgres://...", "postgresql://..."
//	                            PostgreSQL via pgx (search_path=... selects a schema)
//
// SQLite runs in WAL mode with busy_timeout, foreign_keys=ON and
// synchronous=NORMAL (a committed transaction survives a process crash; a
// power cut may lose the last few). The WAL is checkpointed mostly by a
// goroutine of the DB (stopped by Close), not by the committing writer.
// Both work with CGO_ENABLED=0.
func Open(ctx context.Context, rawURL, dataDir string, opts ...Option) (*DB, error) {
	o := options{fileName: DefaultFileName, logger: slog.Default(), busyTimeout: 5 * time.Second, txAttempts: 12,
		ckptEvery: defaultCheckpointEvery, ckptPages: defaultCheckpointPages}
	for _, opt := range opts {
		opt(&o)
	}
	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(ctx, rawURL, o)
	case strings.Contains(rawURL, "://") && !strings.HasPrefix(rawURL, "sqlite://"):
		return nil, fmt.Errorf("store: database URL %q: unsupported scheme (want postgres://, postgresql://, sqlite:PATH or a file path)", redact(rawURL))
	default:
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite://"), "sqlite:")
		if path == "" {
			if o.fileName == "" {
				o.fileName = DefaultFileName
			}
			path = filepath.Join(dataDir, o.fileName)
		}
		db, err = openSQLite(ctx, path, o)
	}
	if err != nil {
		return nil, err
	}
	if !o.skipShared {
		if err := db.MigrateShared(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

func openSQLite(ctx context.Context, path string, o options) (*DB, error) {
	if path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, errors.New("store: in-memory SQLite is not supported (each connection would get its own database); use a file in a temporary directory")
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("store: SQLite path %q: '?' is not allowed in the file name", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: SQLite path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: SQLite directory: %w", err)
	}
	if err := privateSQLiteFiles(abs, o.logger); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(o.busyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "1")
	// A read-write transaction takes the write lock when it begins, so it
	// waits under busy_timeout instead of failing when it first writes;
	// read-only transactions (sql.TxOptions{ReadOnly: true}) stay deferred.
	q.Set("_txlock", "immediate")
	// The statement and savepoint journals (every member of a group
	// transaction runs in a savepoint) and temporary tables in memory:
	// with SQLite's default they spill to a temporary file past 64 KiB,
	// one pwrite per page journalled, on the writer's serialized path.
	q.Add("_pragma", "temp_store(MEMORY)")
	bgCheckpoint := os.Getenv("BAOHAN_SQLITE_NO_BG_CHECKPOINT") != "1"
	if bgCheckpoint {
		// The checkpointer copies the WAL back; the committing connection
		// only past twice ckptPages (checkpointer below).
		q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(2*o.ckptPages)+")")
	}
	dsn := abs + "?" + q.Encode()

	// The writer first: it creates the file and switches it to WAL before
	// the readers connect.
	w, err := openSQLiteDB(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open SQLite %s: %w", abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("store: SQLite %s: journal_mode is %q, want wal (is the file system shared memory capable?)", abs, mode)
	}
	r, err := openSQLiteDB(dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open SQLite %s: %w", abs, err)
	}
	n := o.maxOpen
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store: open SQLite %s: %w", abs, err)
	}
	db := &DB{DB: r, Dialect: SQLite, write: w, path: abs, logger: o.logger, attempts: o.txAttempts,
		noGroupTx: os.Getenv("BAOHAN_SQLITE_NO_GROUP_TX") == "1"}
	if bgCheckpoint {
		db.ckpt = startCheckpointer(db, o.ckptEvery, o.ckptPages)
	}
	return db, nil
}

// sqliteFileMode is the mode of the SQLite database and of the files
// beside it: they hold the message log and the sealed secrets, for the
// service's user only.
const sqliteFileMode = 0o600

// privateSQLiteFiles makes the database file at path, when there is none,
// with mode 0600 whatever the umask and the directory's mode: SQLite would
// make it 0644 less the umask, and it gives the WAL and shared-memory
// files it creates the database file's mode. Files already there (the
// database, its -wal, -shm and -journal) that others may read or write
// are made 0600, with a warning; when that fails (the file is not the
// service user's), the warning says so and the database opens anyway.
func privateSQLiteFiles(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, sqliteFileMode)
	switch {
	case err == nil:
		err = f.Chmod(sqliteFileMode) // the umask may have taken bits off
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("store: creating SQLite file %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("store: creating SQLite file %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: SQLite file %s: %w", p, err)
		}
		mode := st.Mode().Perm()
		if mode&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, sqliteFileMode); err != nil {
			log.Warn("store: the SQLite file is readable or writable by other users and could not be made private; chmod it 0600",
				"file", p, "mode", mode.String(), "err", err)
			continue
		}
		log.Warn("store: the SQLite file was readable or writable by other users; made private",
			"file", p, "was", mode.String(), "now", fs.FileMode(sqliteFileMode).String())
	}
	return nil
}

func openPostgres(ctx context.Context, rawURL string, o options) (*DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL URL %s: %w", redact(rawURL), err)
	}
	p, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL %s: %w", redact(rawURL), err)
	}
	n := o.maxOpen
	if n <= 0 {
		n = 16
	}
	p.SetMaxOpenConns(n)
	p.SetMaxIdleConns(n)
	p.SetConnMaxIdleTime(5 * time.Minute)
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL %s: %w", redact(rawURL), err)
	}
	return &DB{DB: p, Dialect: Postgres, write: p, logger: o.logger, attempts: o.txAttempts, pgConfig: cfg,
		noGroupTx: os.Getenv("BAOHAN_PG_NO_GROUP_TX") == "1"}, nil
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Close stops the checkpointer and closes both pools.
func (db *DB) Close() error {
	if db.ckpt != nil {
		db.ckpt.close()
	}
	err := db.DB.Close()
	if db.write != nil && db.write != db.DB {
		if werr := db.write.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// Path is the SQLite file ("" on PostgreSQL).
func (db *DB) Path() string { return db.path }

// Rebind turns "?" placeholders into $n on PostgreSQL.
func (db *DB) Rebind(q string) string { return db.Dialect.Rebind(q) }

// Writer is the pool write transactions use: on SQLite a pool of one
// connection, on PostgreSQL the general pool. Prefer InTx.
func (db *DB) Writer() *sql.DB { return db.write }

// ExecContext runs one statement outside a transaction. On SQLite it runs
// on the writer (retried like InTx), not on a reader connection: a write
// committed by another connection makes the writer drop its whole page
// cache at its next transaction, and it would queue for the file's write
// lock beside the writer instead of in turn. It must not be called
// inside a transaction of db (use the transaction's ExecContext): on
// SQLite the writer is that transaction's connection.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.Dialect != SQLite || db.write == nil {
		return db.DB.ExecContext(ctx, query, args...)
	}
	return db.writeExec(ctx, query, args...)
}

// Querier runs statements in a transaction or outside one: what a
// *sql.Tx, a *sql.DB and a *DB have in common. Code that works either way
// (a read that may or may not be inside the caller's transaction) takes
// one.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*sql.Tx)(nil)
	_ Querier = (*DB)(nil)
)

// InTx runs fn in a read-write transaction and commits it. When fn or the
// commit fails with a retryable conflict (SQLITE_BUSY/LOCKED, PostgreSQL
// serialization failure or deadlock), the transaction is rolled back and
// run again, a bounded number of times with jittered exponential backoff:
// fn must be safe to run more than once (do its side effects through tx).
//
// On SQLite there is one writer connection: do not call InTx (or begin
// another write) inside fn, use tx.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.InTxOptions(ctx, nil, fn)
}

// InTxOptions is InTx with transaction options. On SQLite, ReadOnly
// transactions run on the general pool, and the isolation level is ignored
// (SQLite transactions are serializable).
func (db *DB) InTxOptions(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	err := db.retry(ctx, func() error { return db.runTx(ctx, opts, fn) })
	if err == nil && db.ckpt != nil && (opts == nil || !opts.ReadOnly) {
		db.ckpt.kick()
	}
	return err
}

// retry runs op until it succeeds, fails with an error that is not
// Retryable, or has run db.attempts times.
func (db *DB) retry(ctx context.Context, op func() error) error {
	attempts := max(db.attempts, 1)
	for i := 1; ; i++ {
		err := op()
		if err == nil || !Retryable(err) {
			return err
		}
		if i >= attempts {
			return fmt.Errorf("store: still conflicting after %d attempts: %w", i, err)
		}
		if db.onRetry != nil {
			db.onRetry(err)
		}
		if sleepCtx(ctx, txBackoff(i)) != nil {
			return err
		}
	}
}

func (db *DB) runTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) (err error) {
	if db.Dialect == SQLite && (opts == nil || !opts.ReadOnly) && !db.noGroupTx {
		return db.runGrouped(ctx, fn)
	}
	return db.runTxPlain(ctx, opts, fn)
}

func (db *DB) runTxPlain(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) (err error) {
	pool := db.write
	if db.Dialect == SQLite {
		if opts != nil && opts.ReadOnly {
			pool = db.DB
			opts = &sql.TxOptions{ReadOnly: true}
		} else {
			opts = nil
		}
	}
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	done = true
	return tx.Commit()
}

// txBackoff is the pause before attempt i+1 of a conflicting transaction:
// full jitter over 2ms·2^(i-1), capped at 250ms.
func txBackoff(i int) time.Duration {
	d := 2 * time.Millisecond << min(i-1, 7)
	d = min(d, 250*time.Millisecond)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// execWrite runs one writing statement (q with "?" placeholders) on the
// writer pool, retried like InTx.
func (db *DB) execWrite(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.writeExec(ctx, db.Rebind(q), args...)
}

// writeExec runs q on the writer pool, retried like InTx.
func (db *DB) writeExec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.retry(ctx, func() error {
		var err error
		res, err = db.write.ExecContext(ctx, q, args...)
		return err
	})
	if err == nil && db.ckpt != nil {
		db.ckpt.kick()
	}
	return res, err
}

// The WAL checkpoint. SQLite's default is an auto-checkpoint in the
// connection that commits, once the WAL holds 1,000 pages: on the one
// writer, inside the serialized write path, where it copied the pages back
// into the database file and paid the two fsyncs of synchronous=NORMAL
// (WAL and database), 6-11% of the CPU of a notice-heavy load, all of it
// time during which no transaction could commit. The store moves most of
// that work to a goroutine of its own:
//
//   - While writes go on (InTx and the store's single writes kick it),
//     every ckptEvery it runs a PASSIVE checkpoint on a reader connection:
//     it copies the pages back while the writer keeps committing, and
//     never waits for readers or the writer.
//   - Only the writer can start the WAL over (at the first write of a
//     transaction that began with the WAL entirely copied back), which a
//     writer that never pauses does not see. So when the WAL holds
//     ckptPages pages (4,000) after a background checkpoint, the
//     checkpointer takes the writer connection for a moment (no
//     transaction runs meanwhile) and checkpoints there too, copying
//     only the pages committed during the background checkpoint; the next
//     write transaction starts the WAL over. That is a quarter as often as
//     SQLite's default, and much less copying and syncing each time.
//   - SQLite's own auto-checkpoint stays on as a safety net at twice
//     ckptPages (it is skipped while the background checkpoint runs). So
//     the WAL holds about twice ckptPages plus what the writer commits
//     during one background checkpoint (about 33 MB in the benchmark's
//     scenario 1, against 4 MB before). A reader holding an old snapshot
//     can delay the start over, as with SQLite's default.
//   - Idle, it looks once a second (writes of other processes or of the
//     general pool do not kick it).
//
// Durability is unchanged: synchronous=NORMAL syncs the WAL at each
// checkpoint, as before, and a committed transaction is in the WAL file
// either way. When the last connection closes, SQLite checkpoints and
// removes the WAL as before. BAOHAN_SQLITE_NO_BG_CHECKPOINT=1 turns the
// goroutine off and leaves SQLite's auto-checkpoint at 1,000 (for
// comparisons).

const (
	defaultCheckpointEvery = 50 * time.Millisecond
	defaultCheckpointPages = 4000 // WAL pages at which the checkpointer checkpoints on the writer too
	checkpointIdle         = time.Second
)

type checkpointer struct {
	db    *DB
	every time.Duration
	pages int
	kicks chan struct{}
	stop  context.CancelFunc // ends run's context
	done  chan struct{}

	// For tests and diagnostics: checkpoints run, and the WAL's frames
	// and those copied back as the last one left them.
	runs, onWriter atomic.Int64
	frames, copied atomic.Int64
}

func startCheckpointer(db *DB, every time.Duration, pages int) *checkpointer {
	c := &checkpointer{db: db, every: every, pages: pages, kicks: make(chan struct{}, 1), done: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	go c.run(ctx)
	return c
}

// kick tells the checkpointer that a write committed. It never blocks.
func (c *checkpointer) kick() {
	select {
	case c.kicks <- struct{}{}:
	default:
	}
}

// close stops the checkpointer and waits for it (a checkpoint under way is
// interrupted). It may be called more than once.
func (c *checkpointer) close() {
	c.stop()
	<-c.done
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	idle := time.NewTimer(checkpointIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kicks:
			// Writes go on: let them gather for a while, so that a
			// checkpoint copies a page once for many commits.
			t := time.NewTimer(c.every)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		case <-idle.C:
		}
		if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
			c.db.logger.Warn("store: SQLite WAL checkpoint failed", "path", c.db.path, "err", err)
		}
		idle.Reset(checkpointIdle)
	}
}

// checkpoint runs a PASSIVE checkpoint on a reader connection and, when
// the WAL holds c.pages pages, one on the writer connection after it.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	frames, _, err := c.walCheckpoint(ctx, c.db.DB)
	c.runs.Add(1)
	if err != nil || frames < int64(c.pages) {
		return err
	}
	conn, err := c.db.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	c.onWriter.Add(1)
	_, _, err = c.walCheckpoint(ctx, conn)
	return err
}

// walCheckpoint runs PRAGMA wal_checkpoint(PASSIVE) and returns the pages
// in the WAL and those copied back.
func (c *checkpointer) walCheckpoint(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (frames, copied int64, err error) {
	var busy int64
	if err := q.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return 0, 0, fmt.Errorf("wal_checkpoint(PASSIVE): %w", err)
	}
	c.frames.Store(frames)
	c.copied.Store(copied)
	return frames, copied, nil
}
