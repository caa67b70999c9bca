package platform

import (
	"context"
	"testing"

	"github.com/baohan-dev/baohan/store"
)

func TestMigrations(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dbURL, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for range 2 { // idempotent
			if err := db.Migrate(ctx, Migrations(), VersionTable); err != nil {
				t.Fatal(err)
			}
		}
		for _, table := range []string{"plat_sections", "plat_bidders", "plat_applications",
			"plat_application_events", "plat_apply_keys", "plat_chunks", "plat_guarantees", "plat_section_events"} {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Errorf("%s: %v", table, err)
			}
		}
	})
}
