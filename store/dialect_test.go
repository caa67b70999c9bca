package store

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

var timeNow = time.Now

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"SELECT '?' , ? FROM t", "SELECT '?' , $1 FROM t"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{`SELECT "we?ird", ?`, `SELECT "we?ird", $1`},
		{"SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2"},
		{"SELECT /* ? */ ?", "SELECT /* ? */ $1"},
		{"SELECT $$ a ? b $$, ?", "SELECT $$ a ? b $$, $1"},
		{"SELECT $tag$ ? $tag$, ?", "SELECT $tag$ ? $tag$, $1"},
		{"SELECT ?::text", "SELECT $1::text"},
		{"INSERT INTO t VALUES (?,?,?)", "INSERT INTO t VALUES ($1,$2,$3)"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
	}
	for _, tt := range tests {
		if got := Postgres.Rebind(tt.in); got != tt.want {
			t.Errorf("Postgres.Rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := SQLite.Rebind(tt.in); got != tt.in {
			t.Errorf("SQLite.Rebind(%q) = %q, want unchanged", tt.in, got)
		}
	}
}

func TestDialectHelpers(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		d := db.Dialect
		if d.String() != map[Dialect]string{SQLite: "sqlite", Postgres: "postgres"}[d] {
			t.Fatalf("String() = %q", d.String())
		}
		mustExec(t, db, "CREATE TABLE h ("+d.IDColumn("id")+", b "+d.BlobType()+" NOT NULL, ts BIGINT NOT NULL)")
		mustExec(t, db, "INSERT INTO h (b, ts) VALUES (?, "+d.NowMicros()+")", []byte{0, 1, 2})
		mustExec(t, db, "INSERT INTO h (b, ts) VALUES (?, "+d.NowMicros()+")", []byte{3})
		var (
			id int64
			b  []byte
			ts int64
		)
		if err := db.QueryRow("SELECT id, b, ts FROM h ORDER BY id LIMIT 1").Scan(&id, &b, &ts); err != nil {
			t.Fatal(err)
		}
		if id != 1 || string(b) != "\x00\x01\x02" {
			t.Fatalf("got id %d blob %x", id, b)
		}
		if now := FromMicros(ts); now.Before(FromMicros(Micros(timeNow())-60e6)) || now.After(timeNow().Add(time.Minute)) {
			t.Fatalf("NowMicros gave %v", now)
		}
		var s string
		if err := db.QueryRow("SELECT CAST(" + d.Now() + " AS TEXT)").Scan(&s); err != nil || s == "" {
			t.Fatalf("Now(): %q %v", s, err)
		}
		_, err := db.Exec(db.Rebind("INSERT INTO h (id, b, ts) VALUES (?, ?, 0)"), id, []byte{})
		if !IsUniqueViolation(err) {
			t.Fatalf("duplicate id: IsUniqueViolation(%v) = false", err)
		}
		if Retryable(err) {
			t.Fatalf("a unique violation is not retryable")
		}
	})
}

// Rebind only ever replaces "?" by $1, $2, ... in order: without "$" in the
// input, putting the "?" back gives the input again.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{"SELECT ?", "'?'", `"?"`, "-- ?\n?", "/* ? */ ?", "?::int", "'a''?' ?", "/* unterminated ?", "??"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := Postgres.Rebind(q)
		if strings.Contains(q, "$") {
			return
		}
		var back strings.Builder
		n := 0
		for i := 0; i < len(out); i++ {
			if out[i] != '$' {
				back.WriteByte(out[i])
				continue
			}
			n++
			want := strconv.Itoa(n)
			if !strings.HasPrefix(out[i+1:], want) {
				t.Fatalf("Rebind(%q) = %q: placeholder %d is not $%s", q, out, n, want)
			}
			back.WriteByte('?')
			i += len(want)
		}
		if back.String() != q {
			t.Fatalf("Rebind(%q) = %q changes more than placeholders", q, out)
		}
	})
}
