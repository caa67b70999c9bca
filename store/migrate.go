package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// SharedVersionTable is the goose version table of the store's own tables
// (outbox, message_log, seen_sign, blobs).
const SharedVersionTable = "goose_store"

//go:embed migrations
var sharedMigrations embed.FS

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// MigrateShared applies the store's embedded migrations, tracked in
// SharedVersionTable. Open calls it (unless WithoutSharedMigrations), so
// services need not; it is idempotent.
func (db *DB) MigrateShared(ctx context.Context) error {
	sub, err := fs.Sub(sharedMigrations, "migrations")
	if err != nil {
		return err
	}
	return db.Migrate(ctx, sub, SharedVersionTable)
}

// Migrate applies goose migrations from fsys, tracked in versionTable, so
// that several services (each with its own version table, e.g.
// "goose_platform", "goose_institution") can share one database.
//
// When fsys has a sub-directory named after the dialect ("sqlite",
// "postgres"), the migrations are read from there; otherwise from the root
// of fsys (SQL that runs on both). On PostgreSQL a session advisory lock
// (keyed by schema and version table) keeps two replicas from migrating at
// once; on SQLite start one process first.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, versionTable string) error {
	if !identRE.MatchString(versionTable) {
		return fmt.Errorf("store: migrate: version table %q is not a plain SQL identifier", versionTable)
	}
	dir := fsys
	if st, err := fs.Stat(fsys, db.Dialect.String()); err == nil && st.IsDir() {
		if dir, err = fs.Sub(fsys, db.Dialect.String()); err != nil {
			return err
		}
	}
	var gd database.Dialect
	switch db.Dialect {
	case SQLite:
		gd = database.DialectSQLite3
	case Postgres:
		gd = database.DialectPostgres
	default:
		return fmt.Errorf("store: migrate: unknown dialect %v", db.Dialect)
	}
	st, err := database.NewStore(gd, versionTable)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", versionTable, err)
	}
	opts := []goose.ProviderOption{goose.WithStore(st), goose.WithDisableGlobalRegistry(true)}
	if db.Dialect == Postgres {
		var schema string
		if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("store: migrate %s: %w", versionTable, err)
		}
		h := fnv.New64a()
		h.Write([]byte("baohan/" + schema + "/" + versionTable))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(goose.DialectCustom, db.DB, dir, opts...)
	if err != nil {
		if errors.Is(err, goose.ErrNoMigrations) {
			return fmt.Errorf("store: migrate %s: no migrations found in the given file system (looked in %q and the root)", versionTable, db.Dialect.String())
		}
		return fmt.Errorf("store: migrate %s: %w", versionTable, err)
	}
	res, err := p.Up(ctx)
	var pe *goose.PartialError
	if errors.As(err, &pe) && pe.Failed != nil && pe.Failed.Source != nil {
		res = pe.Applied
		err = fmt.Errorf("store: migrate %s: %s (version %d) failed, %d applied before it: %w",
			versionTable, pe.Failed.Source.Path, pe.Failed.Source.Version, len(pe.Applied), pe.Err)
	} else if err != nil {
		err = fmt.Errorf("store: migrate %s: %w", versionTable, err)
	}
	for _, r := range res {
		db.logger.Info("store: migration applied", "table", versionTable, "source", r.Source.Path, "version", r.Source.Version, "duration", r.Duration)
	}
	return err
}
