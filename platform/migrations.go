package platform

import (
	"embed"
	"io/fs"

	"github.com/baohan-dev/baohan/service"
)

// VersionTable is the goose version table of the platform's migrations.
const VersionTable = "goose_platform"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the platform's migrations (portable SQL, applied with
// store.DB.Migrate and VersionTable). New applies them at start.
func Migrations() fs.FS { return service.MigrationsIn(migrationFiles, "migrations") }
