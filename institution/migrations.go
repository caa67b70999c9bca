package institution

import (
	"embed"
	"io/fs"

	"github.com/baohan-dev/baohan/service"
)

// VersionTable is the goose version table of the institution's
// migrations.
const VersionTable = "goose_institution"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the institution's migrations (portable SQL, applied
// with store.DB.Migrate and VersionTable). New applies them at start.
func Migrations() fs.FS { return service.MigrationsIn(migrationFiles, "migrations") }
