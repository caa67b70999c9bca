package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Many concurrent write transactions on SQLite, grouped: every one that
// succeeds is applied once, a failing one leaves nothing, a panicking one
// panics in its own goroutine and leaves nothing, and each sees the
// writes of those before it.
func TestGroupTransactions(t *testing.T) {
	db := sqliteEnv(t).open(t)
	testGroupedTransactions(t, db, db.InTx)
}

// testGroupedTransactions runs 300 transactions at once through inTx
// (InTx on SQLite, InTxGrouped on PostgreSQL), some of them failing, one
// panicking, one failing on a duplicate key, and checks what is left.
func testGroupedTransactions(t *testing.T, db *DB, inTx func(context.Context, func(*sql.Tx) error) error) {
	t.Helper()
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE g (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	mustExec(t, db, "INSERT INTO g VALUES (1, 0)")
	mustExec(t, db, "CREATE TABLE gl (who TEXT PRIMARY KEY)")
	insert := db.Rebind("INSERT INTO gl (who) VALUES (?)")
	const n = 300
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = inTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, "UPDATE g SET n = n + 1 WHERE k = 1"); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, insert, fmt.Sprint("w", i)); err != nil {
					return err
				}
				switch {
				case i%50 == 7:
					return errors.New("refused")
				case i == 111:
					panic("boom")
				case i == 222:
					// A duplicate: the statement fails, the function
					// returns its error.
					_, err := tx.ExecContext(ctx, insert, fmt.Sprint("w", i))
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
		if c := countRows(t, db, db.Rebind("SELECT COUNT(*) FROM gl WHERE who = ?"), fmt.Sprint("w", i)); c != 0 {
			t.Errorf("failed transaction %d left its row", i)
		}
	}
}

// A caller that goes away before its turn gets its context's error and
// changes nothing; a cancelled context never rolls back the neighbours.
func TestGroupTransactionCancelled(t *testing.T) {
	ctx := context.Background()
	db := sqliteEnv(t).open(t)
	mustExec(t, db, "CREATE TABLE gc (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	mustExec(t, db, "INSERT INTO gc VALUES (1, 0)")
	var wg sync.WaitGroup
	const n = 100
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			errs[i] = db.InTx(cctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(cctx, "UPDATE gc SET n = n + 1 WHERE k = 1"); err != nil {
					return err
				}
				if i%3 == 0 {
					cancel() // gone after its first statement
					_, err := tx.ExecContext(cctx, "UPDATE gc SET n = n + 1000 WHERE k = 1")
					return err
				}
				return nil
			})
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if i%3 == 0 {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("transaction %d: %v, want context.Canceled", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
		ok++
	}
	if got := countRows(t, db, "SELECT n FROM gc WHERE k = 1"); got != ok {
		t.Errorf("counter %d, want %d", got, ok)
	}
}

// Write transactions of 32 goroutines, grouped (the default) and one by
// one.
func BenchmarkSQLiteGroupTx(b *testing.B) {
	for _, mode := range []string{"grouped", "one-by-one"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db := sqliteEnv(b).open(b)
			db.noGroupTx = mode == "one-by-one"
			mustExec(b, db, "CREATE TABLE w (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)")
			mustExec(b, db, "CREATE TABLE c (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
			mustExec(b, db, "INSERT INTO c VALUES (1, 0)")
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := db.InTx(ctx, func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, "INSERT INTO w (v) VALUES ('x')"); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, "UPDATE c SET n = n + 1 WHERE k = 1")
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
