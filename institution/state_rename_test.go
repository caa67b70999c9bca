package institution

import (
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

// insertApplication writes an application row in state, with an event
// that moved it there from paid.
func insertApplication(t *testing.T, db *store.DB, id, state string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO inst_applications (id, peer, platformcode, applyno, state, applydata, digitalenvelope,
		request_hash, token_hash, token_sealed, created_at, updated_at) VALUES (?, 'p', 'P', ?, ?, '', '', '', ?, '', 1, 1)`),
		id, "APPLY-"+id, state, "hash-"+id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO inst_events (id, application_id, at, from_state, to_state, event, actor)
		VALUES (?, ?, 2, 'paid', ?, 'giveupapply', 'platform:p')`), "ev-"+id, id, state); err != nil {
		t.Fatal(err)
	}
}

// TestGivenUpRenamed: the state both services call given_up was givenup
// on the institution; migration 00004 renames the stored applications
// and their history, on SQLite and PostgreSQL, and leaves every other
// state alone.
func TestGivenUpRenamed(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		url := dbURL
		if url == "" {
			url = filepath.Join(t.TempDir(), "institution.db")
		}
		db, err := store.Open(ctx, url, "", store.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// The schema as it was: the migrations before 00004.
		before := fstest.MapFS{}
		all, _ := fs.Glob(Migrations(), "*.sql")
		for _, name := range all {
			if strings.HasPrefix(name, "0000") && name < "00004" {
				b, _ := fs.ReadFile(Migrations(), name)
				before[name] = &fstest.MapFile{Data: b}
			}
		}
		if len(before) != 3 || len(all) < 4 {
			t.Fatalf("control: %d migrations before, %d in all", len(before), len(all))
		}
		if err := db.Migrate(ctx, before, VersionTable); err != nil {
			t.Fatal(err)
		}
		insertApplication(t, db, "gone", "givenup")
		insertApplication(t, db, "paid", "paid")
		if err := db.Migrate(ctx, Migrations(), VersionTable); err != nil {
			t.Fatal(err)
		}
		r := repo{d: db.Dialect}
		a, err := r.applicationByID(ctx, db, "gone")
		if err != nil || a.State != GivenUp || !a.State.Final() || a.StateLabel != "已放弃" {
			t.Fatalf("after the migration: %+v %v", a, err)
		}
		evs, err := r.events(ctx, db, "gone")
		if err != nil || len(evs) != 1 || evs[0].To != GivenUp || evs[0].From != Paid {
			t.Errorf("history: %+v %v", evs, err)
		}
		if b, err := r.applicationByID(ctx, db, "paid"); err != nil || b.State != Paid {
			t.Errorf("another state changed: %+v %v", b, err)
		}
		var left int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM inst_applications WHERE state = 'givenup'`).Scan(&left)
		if left != 0 {
			t.Errorf("%d applications still givenup", left)
		}
	})
}

// TestGivenUpInTheAPI: the admin API answers given_up, and takes the old
// name as a filter.
func TestGivenUpInTheAPI(t *testing.T) {
	e := newEnv(t, false)
	insertApplication(t, e.svc.db, "gone", string(GivenUp))
	for _, filter := range []string{"given_up", "givenup"} {
		var list []*Application
		if st := e.admin("GET", "/api/applications?state="+filter, nil, &list); st != 200 || len(list) != 1 || list[0].State != "given_up" {
			t.Errorf("state=%s: %d %+v", filter, st, list)
		}
	}
}
