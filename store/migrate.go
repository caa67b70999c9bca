package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"
	"strings"

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
// of fsys (SQL that runs on both), where a version that needs a different
// statement on each dialect has one file per dialect, named after it
// before the extension ("00009_search.postgres.sql" and
// "00009_search.sqlite.sql"): each dialect runs its own and skips the
// other's. On PostgreSQL a session advisory lock
// (keyed by schema and version table) keeps two replicas from migrating at
// once; on SQLite start one process first.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, versionTable string) error {
	dir, _, opts, err := db.gooseOptions(fsys, versionTable)
	if err != nil {
		return err
	}
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

// gooseOptions is the directory of fsys for the dialect and goose's
// options for it: the store of versionTable, no global registry, and the
// files of the other dialect left out.
func (db *DB) gooseOptions(fsys fs.FS, versionTable string) (fs.FS, database.Store, []goose.ProviderOption, error) {
	dir, st, err := db.gooseStore(fsys, versionTable)
	if err != nil {
		return nil, nil, nil, err
	}
	other, err := otherDialectFiles(dir, db.Dialect)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: migrate %s: %w", versionTable, err)
	}
	return dir, st, []goose.ProviderOption{goose.WithStore(st), goose.WithDisableGlobalRegistry(true), goose.WithExcludeNames(other)}, nil
}

// otherDialectFiles lists the migrations of dir written for a dialect
// other than d: NNNNN_name.<dialect>.sql.
func otherDialectFiles(dir fs.FS, d Dialect) ([]string, error) {
	files, err := fs.Glob(dir, "*.sql")
	if err != nil {
		return nil, err
	}
	var other []string
	for _, f := range files {
		switch path.Ext(strings.TrimSuffix(f, ".sql")) {
		case "." + SQLite.String(), "." + Postgres.String():
			if !strings.HasSuffix(f, "."+d.String()+".sql") {
				other = append(other, f)
			}
		}
	}
	return other, nil
}

// gooseStore is the directory of fsys for the dialect and goose's store
// of versionTable.
func (db *DB) gooseStore(fsys fs.FS, versionTable string) (fs.FS, database.Store, error) {
	if !identRE.MatchString(versionTable) {
		return nil, nil, fmt.Errorf("store: migrate: version table %q is not a plain SQL identifier", versionTable)
	}
	dir := fsys
	if st, err := fs.Stat(fsys, db.Dialect.String()); err == nil && st.IsDir() {
		if dir, err = fs.Sub(fsys, db.Dialect.String()); err != nil {
			return nil, nil, err
		}
	}
	var gd database.Dialect
	switch db.Dialect {
	case SQLite:
		gd = database.DialectSQLite3
	case Postgres:
		gd = database.DialectPostgres
	default:
		return nil, nil, fmt.Errorf("store: migrate: unknown dialect %v", db.Dialect)
	}
	st, err := database.NewStore(gd, versionTable)
	if err != nil {
		return nil, nil, fmt.Errorf("store: migrate %s: %w", versionTable, err)
	}
	return dir, st, nil
}

// PendingMigrations lists the versions of the migrations in fsys that
// are not applied (tracked in versionTable), changing nothing: all of
// them before the first Migrate. Checks (`baohan <service> check`, a
// readiness probe) call it.
func (db *DB) PendingMigrations(ctx context.Context, fsys fs.FS, versionTable string) ([]int64, error) {
	dir, st, opts, err := db.gooseOptions(fsys, versionTable)
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectCustom, db.DB, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations of %s: %w", versionTable, err)
	}
	applied := map[int64]bool{}
	var exists bool
	q := `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)`
	if db.Dialect == Postgres {
		q = `SELECT to_regclass($1) IS NOT NULL`
	}
	if err := db.QueryRowContext(ctx, q, versionTable).Scan(&exists); err != nil {
		return nil, fmt.Errorf("store: %s: %w", versionTable, err)
	}
	if exists {
		rows, err := st.ListMigrations(ctx, db.DB)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", versionTable, err)
		}
		for _, r := range rows {
			applied[r.Version] = applied[r.Version] || r.IsApplied
		}
	}
	var pending []int64
	for _, src := range p.ListSources() {
		if !applied[src.Version] {
			pending = append(pending, src.Version)
		}
	}
	return pending, nil
}

// PendingShared is PendingMigrations of the store's own tables.
func (db *DB) PendingShared(ctx context.Context) ([]int64, error) {
	sub, err := fs.Sub(sharedMigrations, "migrations")
	if err != nil {
		return nil, err
	}
	return db.PendingMigrations(ctx, sub, SharedVersionTable)
}
