package institution

import "embed"

// Migrations are the institution's goose migrations (portable SQL for
// SQLite and PostgreSQL), applied by New with store.DB.Migrate under the
// version table MigrationTable.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// MigrationTable is goose's version table for the institution's schema.
const MigrationTable = "goose_institution"
