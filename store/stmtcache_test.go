package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// The cache serves repeated statements, nested queries of the same text,
// statements past the cache's size, and schema changes.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db := sqliteEnv(t).open(t)
	mustExec(t, db, "CREATE TABLE sc (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
	for i := range 10 {
		mustExec(t, db, "INSERT INTO sc (id, v) VALUES (?, ?)", i, fmt.Sprint("v", i))
	}
	// The same query, nested on one connection (a transaction): the outer
	// rows hold the cached statement, the inner query runs uncached.
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		const q = "SELECT id, v FROM sc WHERE id >= ? ORDER BY id"
		outer, err := tx.QueryContext(ctx, q, 0)
		if err != nil {
			return err
		}
		defer outer.Close()
		n := 0
		for outer.Next() {
			var id int
			var v string
			if err := outer.Scan(&id, &v); err != nil {
				return err
			}
			inner, err := tx.QueryContext(ctx, q, id)
			if err != nil {
				return err
			}
			m := 0
			for inner.Next() {
				m++
			}
			inner.Close()
			if m != 10-id {
				return fmt.Errorf("inner query from %d: %d rows, want %d", id, m, 10-id)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE sc SET v = ? WHERE id = ?", v+"!", id); err != nil {
				return err
			}
			n++
		}
		if n != 10 {
			return fmt.Errorf("outer query: %d rows", n)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, db, "SELECT COUNT(*) FROM sc WHERE v LIKE '%!'"); got != 10 {
		t.Fatalf("%d rows updated, want 10", got)
	}
	// More distinct statements than the cache holds, twice over.
	for round := range 2 {
		for i := range stmtCacheSize + 20 {
			var n int
			if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) + %d FROM sc", i)).Scan(&n); err != nil || n != 10+i {
				t.Fatalf("round %d statement %d: %d, %v", round, i, n, err)
			}
		}
	}
	// A schema change under cached statements.
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM sc WHERE id = ?", 3).Scan(&v); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "ALTER TABLE sc ADD COLUMN w TEXT NOT NULL DEFAULT 'w'")
	if err := db.QueryRowContext(ctx, "SELECT v FROM sc WHERE id = ?", 3).Scan(&v); err != nil || v != "v3!" {
		t.Fatalf("after ALTER: %q, %v", v, err)
	}
	var w string
	if err := db.QueryRowContext(ctx, "SELECT * FROM sc WHERE id = ?", 3).Scan(new(int), &v, &w); err != nil || w != "w" {
		t.Fatalf("SELECT * after ALTER: %q, %v", w, err)
	}
	// A failing statement is not cached and does not break the connection.
	if _, err := db.ExecContext(ctx, "INSERT INTO nosuch VALUES (1)"); err == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	cols, err := db.QueryContext(ctx, "SELECT id, v FROM sc LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := cols.ColumnTypes()
	cols.Close()
	if err != nil || len(ct) != 2 || ct[1].DatabaseTypeName() != "TEXT" {
		t.Fatalf("column types: %v, %v", ct, err)
	}
}

// A point read on the general pool: what the cache saves per statement.
func BenchmarkSQLitePointRead(b *testing.B) {
	ctx := context.Background()
	db := sqliteEnv(b).open(b)
	mustExec(b, db, "CREATE TABLE pr (id INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL, c INTEGER NOT NULL)")
	mustExec(b, db, "INSERT INTO pr VALUES (1, 'x', 'y', 3)")
	const q = `SELECT a, b, c FROM pr WHERE id = ? AND a <> 'nothing' AND b <> 'nothing' AND c >= 0`
	for b.Loop() {
		var a, bb string
		var c int
		if err := db.QueryRowContext(ctx, q, 1).Scan(&a, &bb, &c); err != nil {
			b.Fatal(err)
		}
	}
}
