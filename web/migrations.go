package web

import (
	"context"
	"embed"
	"io/fs"

	"github.com/baohan-dev/baohan/store"
)

//go:embed migrations
var migrations embed.FS

// VersionTable is the goose version table of the consoles' tables.
const VersionTable = "goose_web"

// Migrate creates or upgrades the consoles' tables (users, sessions,
// login challenges, audit) in db. NewAuth calls it.
func Migrate(ctx context.Context, db *store.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	return db.Migrate(ctx, sub, VersionTable)
}
