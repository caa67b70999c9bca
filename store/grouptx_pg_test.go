package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
)

// InTxGrouped on PostgreSQL, many at once: every one that succeeds is
// applied once, a failing one leaves nothing, a panicking one panics in
// its own goroutine and leaves nothing, and each sees the writes of those
// before it (the counter).
func TestGroupedTransactionsPostgres(t *testing.T) {
	db := postgresEnv(t).open(t)
	testGroupedTransactions(t, db, db.InTxGrouped)
}

// groupOf runs fns through InTxGrouped as one group (another call holds
// the lead until all of them wait; db keeps one group of the
// pgTxGroups) and returns their errors.
func groupOf(t *testing.T, db *DB, fns []func(tx *sql.Tx) error) []error {
	t.Helper()
	ctx := context.Background()
	db.txGroup()
	db.txg = db.txg[:1] // one group, so that all of fns join it
	g := db.txGroup()
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		db.InTxGrouped(ctx, func(tx *sql.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	errs := make([]error, len(fns))
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.InTxGrouped(ctx, fn)
		}()
	}
	waitFor(t, "the group to gather", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.pending) == len(fns)
	})
	close(release)
	wg.Wait()
	return errs
}

// A member of a PostgreSQL group that fails rolls the group back, and the
// others are applied each alone: nothing lost, nothing applied twice, the
// failing one's writes nowhere.
func TestGroupedTransactionFailsAlone(t *testing.T) {
	db := postgresEnv(t).open(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE gf (k INTEGER PRIMARY KEY, runs INTEGER NOT NULL DEFAULT 1)")
	const n, bad = 10, 4
	fns := make([]func(tx *sql.Tx) error, n)
	for i := range fns {
		fns[i] = func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO gf (k) VALUES ($1)", i); err != nil {
				return err
			}
			if i == bad {
				return errors.New("refused")
			}
			return nil
		}
	}
	before := db.txGroupFallbacks.Load()
	errs := groupOf(t, db, fns)
	if got := db.txGroupFallbacks.Load() - before; got != 1 {
		t.Errorf("%d groups rolled back, want 1 (the ten ran as one group)", got)
	}
	for i, err := range errs {
		if (i == bad) != (err != nil) {
			t.Errorf("member %d: %v", i, err)
		}
	}
	if got := countRows(t, db, "SELECT COUNT(*) FROM gf"); got != n-1 {
		t.Errorf("%d rows, want %d", got, n-1)
	}
	if got := countRows(t, db, "SELECT COUNT(*) FROM gf WHERE k = $1", bad); got != 0 {
		t.Errorf("the failing member's row is there")
	}
}

// A group whose commit the server refuses (a deferred constraint two of
// its members break together) applies nothing; each member then runs
// alone, and only the second of the two fails.
func TestGroupedTransactionCommitRefused(t *testing.T) {
	db := postgresEnv(t).open(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE gd (k INTEGER NOT NULL, CONSTRAINT gd_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)")
	const n = 8
	fns := make([]func(tx *sql.Tx) error, n)
	for i := range fns {
		k := i
		if i == 6 {
			k = 2 // the same as member 2: refused at the commit
		}
		fns[i] = func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO gd (k) VALUES ($1)", k)
			return err
		}
	}
	before := db.txGroupFallbacks.Load()
	errs := groupOf(t, db, fns)
	if got := db.txGroupFallbacks.Load() - before; got != 1 {
		t.Errorf("%d groups rolled back, want 1", got)
	}
	// Members 2 and 6 insert the same key: the first of them to run
	// alone (the order they joined the group) is applied.
	for i, err := range errs {
		if i != 2 && i != 6 && err != nil {
			t.Errorf("member %d: %v", i, err)
		}
	}
	if (errs[2] == nil) == (errs[6] == nil) || !IsUniqueViolation(errors.Join(errs[2], errs[6])) {
		t.Errorf("members 2 and 6: %v, %v; want one applied and the other's duplicate refused", errs[2], errs[6])
	}
	if got := countRows(t, db, "SELECT COUNT(*) FROM gd"); got != n-1 {
		t.Errorf("%d rows, want %d", got, n-1)
	}
}
