package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// InTxGrouped on PostgreSQL, many at once: every one that succeeds is
// applied once, a failing one leaves nothing, a panicking one panics in
// its own goroutine and leaves nothing, and each sees the writes of those
// before it (the counter).
func TestGroupedTransactionsPostgres(t *testing.T) {
	ctx := context.Background()
	db := postgresEnv(t).open(t)
	mustExec(t, db, "CREATE TABLE g (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	mustExec(t, db, "INSERT INTO g VALUES (1, 0)")
	mustExec(t, db, "CREATE TABLE gl (who TEXT PRIMARY KEY)")
	const n = 300
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = db.InTxGrouped(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, "UPDATE g SET n = n + 1 WHERE k = 1"); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO gl (who) VALUES ($1)", fmt.Sprint("w", i)); err != nil {
					return err
				}
				switch {
				case i%50 == 7:
					return errors.New("refused")
				case i == 111:
					panic("boom")
				case i == 222:
					_, err := tx.ExecContext(ctx, "INSERT INTO gl (who) VALUES ($1)", fmt.Sprint("w", i))
					return err
				}
				return nil
			})
		}()
	}
	wg.Wait()
	ok := 0
	for i := range n {
		switch {
		case i == 111:
			if panics[i] != "boom" {
				t.Errorf("transaction %d: panic %v, want boom", i, panics[i])
			}
		case i%50 == 7:
			if errs[i] == nil || errs[i].Error() != "refused" {
				t.Errorf("transaction %d: %v, want refused", i, errs[i])
			}
		case i == 222:
			if !IsUniqueViolation(errs[i]) {
				t.Errorf("transaction %d: %v, want the duplicate refused", i, errs[i])
			}
		default:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("transaction %d: %v %v", i, errs[i], panics[i])
			}
			ok++
		}
	}
	if got := countRows(t, db, "SELECT n FROM g WHERE k = 1"); got != ok {
		t.Errorf("counter %d, want %d (one per successful transaction)", got, ok)
	}
	if got := countRows(t, db, "SELECT COUNT(*) FROM gl"); got != ok {
		t.Errorf("%d rows, want %d", got, ok)
	}
	for _, i := range []int{7, 57, 111, 222} {
		if c := countRows(t, db, "SELECT COUNT(*) FROM gl WHERE who = $1", fmt.Sprint("w", i)); c != 0 {
			t.Errorf("failed transaction %d left its row", i)
		}
	}
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
