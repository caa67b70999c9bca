package bench

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/store"
)

// TestDurableReference: every verified request leaves one committed row,
// on SQLite and (when it answers) PostgreSQL; a refused one leaves none
// and fails the run.
func TestDurableReference(t *testing.T) {
	ctx := context.Background()
	kinds := []string{SQLite}
	if PingPostgres(ctx, PostgresURL()) == nil {
		kinds = append(kinds, Postgres)
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			dbURL, cleanup, err := newDatabase(ctx, kind, "", dir, "durable_ref_test")
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			db, err := store.Open(ctx, dbURL, dir, store.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			h, err := NewDurableHandler(ctx, db, map[string]string{"k": "s"})
			if err != nil {
				t.Fatal(err)
			}
			bodies := make([][]byte, 40)
			for i := range bodies {
				bodies[i] = SignedBody(map[string]string{"applyno": fmt.Sprint("A", i)}, "k", "s", time.Now())
			}
			bodies = append(bodies, SignedBody(map[string]string{"applyno": "X"}, "k", "wrong", time.Now()))
			st, err := serveAndPost(ctx, h, "baohannotice", bodies, Load{Clients: 4})
			if err == nil {
				t.Fatal("a refused request must fail the run")
			}
			if st == nil || st.N != len(bodies) {
				t.Fatalf("stats %v", st)
			}
			var rows int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+durableRefTable).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if ok, bad := h.Counts(); rows != 40 || ok != 40 || bad != 1 {
				t.Fatalf("%d rows, %d answered ok, %d refused; want 40, 40, 1", rows, ok, bad)
			}
		})
	}
	// The whole run on a fresh database of its own.
	bodies := [][]byte{SignedBody(map[string]string{"applyno": "B1"}, "k", "s", time.Now())}
	if st, err := DurableReference(ctx, SQLite, "", t.TempDir(), map[string]string{"k": "s"}, "baohannotice", bodies, Load{Clients: 1}); err != nil || st.OK() != 1 {
		t.Fatalf("DurableReference: %v %v", st, err)
	}
}
