package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/baohan-dev/baohan/store"
)

// auditN writes n audit entries.
func auditN(t *testing.T, a *Auth, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		a.Audit(context.Background(), AuditEntry{Actor: "zhang", Role: Operator, Action: "approve", Target: fmt.Sprintf("A%04d", i), Detail: "ok", OK: true, IP: "10.0.0.1"})
	}
}

// TestAuditChain: the audit log is an SM3 chain; an edited, deleted or
// inserted row is found and named, on both databases.
func TestAuditChain(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		a := newAuth(t, db, "platform", c)
		other := newAuth(t, db, "institution", c) // one chain for both realms of a database
		if brk, n, err := VerifyAudit(ctx, db); brk != nil || err != nil || n != 0 {
			t.Fatalf("empty log: %v %d %v", brk, n, err)
		}
		auditN(t, a, 5)
		auditN(t, other, 2)
		auditN(t, a, 3)
		brk, n, err := VerifyAudit(ctx, db)
		if brk != nil || err != nil || n != 10 {
			t.Fatalf("intact log: %v %d %v", brk, n, err)
		}
		var h8 string
		db.QueryRowContext(ctx, "SELECT hash FROM web_audit WHERE id = 8").Scan(&h8)

		tampers := []struct {
			name   string
			sql    string
			args   []any
			id     int64
			reason string
		}{
			{"edit the actor", "UPDATE web_audit SET actor = 'li' WHERE id = 3", nil, 3, "edited"},
			{"edit the outcome", "UPDATE web_audit SET ok = NOT ok WHERE id = 4", nil, 4, "edited"},
			{"edit the time", "UPDATE web_audit SET at = at + 1 WHERE id = 1", nil, 1, "edited"},
			{"move to the other realm", "UPDATE web_audit SET realm = 'platform' WHERE id = 6", nil, 6, "edited"},
			{"edit and rehash", "UPDATE web_audit SET detail = 'x', hash = ? WHERE id = 5", []any{strings.Repeat("ab", 32)}, 5, "edited"},
			{"delete a row", "DELETE FROM web_audit WHERE id = 7", nil, 7, "missing"},
			{"delete the newest row", "DELETE FROM web_audit WHERE id = 10", nil, 10, "deleted"},
			{"insert a row at the end", "INSERT INTO web_audit (id, realm, at, actor, role, action, target, detail, ok, ip, prev_hash, hash) " +
				"SELECT 11, realm, at, actor, role, action, target, detail, ok, ip, hash, hash FROM web_audit WHERE id = 10", nil, 11, "beyond the chain head"},
			{"renumber a row", "UPDATE web_audit SET id = id + 100 WHERE id = 9", nil, 9, "missing"},
			{"insert a row before the first", "INSERT INTO web_audit (id, realm, at, actor, role, action, target, detail, ok, ip, prev_hash, hash) " +
				"SELECT 0, realm, at, 'li', role, action, target, detail, ok, ip, prev_hash, hash FROM web_audit WHERE id = 1", nil, 0, "below the chain's first"},
			{"forge a prev_hash", "UPDATE web_audit SET prev_hash = ? WHERE id = 9", []any{h8 + "0"}, 9, "prev_hash"},
		}
		for _, tt := range tampers {
			t.Run(tt.name, func(t *testing.T) {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				if _, err := tx.ExecContext(ctx, db.Rebind(tt.sql), tt.args...); err != nil {
					t.Fatal(err)
				}
				brk, _, err := verifyAuditIn(ctx, tx, db)
				if err != nil {
					t.Fatal(err)
				}
				if brk == nil || brk.ID != tt.id || !strings.Contains(brk.Reason, tt.reason) || brk.Chain != "console audit log" {
					t.Fatalf("got %v, want a break at row %d mentioning %q", brk, tt.id, tt.reason)
				}
			})
		}
		// Committed: VerifyAudit itself finds it.
		if _, err := db.ExecContext(ctx, "UPDATE web_audit SET target = 'A9999' WHERE id = 2"); err != nil {
			t.Fatal(err)
		}
		brk, _, err = VerifyAudit(ctx, db)
		if err != nil || brk == nil || brk.ID != 2 || !strings.Contains(brk.Error(), "console audit log chain broken at row 2") {
			t.Fatalf("committed edit: %v %v", brk, err)
		}
	})
}

// TestAuditFieldCaps: whatever a caller passes, every field is cut to its
// cap and made storable (PostgreSQL refuses NUL and invalid UTF-8).
func TestAuditFieldCaps(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAuth(t, db, "platform", newClock())
		big := strings.Repeat("张", 1<<20) + "\x00\xff"
		a.Audit(ctx, AuditEntry{Actor: big, Role: Role(big), Action: big, Target: big, Detail: big, IP: big})
		a.Audit(ctx, AuditEntry{Actor: "a\x00b\xffc", Action: "x"})
		log, err := a.AuditLog(ctx, AuditFilter{})
		if err != nil || len(log) != 2 {
			t.Fatalf("audit log: %d rows, %v", len(log), err)
		}
		e := log[1]
		for _, f := range []struct {
			name string
			v    string
			max  int
		}{{"actor", e.Actor, auditActorMax}, {"role", string(e.Role), auditRoleMax}, {"action", e.Action, auditActionMax},
			{"target", e.Target, auditTargetMax}, {"detail", e.Detail, auditDetailMax}, {"ip", e.IP, auditIPMax}} {
			if len(f.v) > f.max || len(f.v) < f.max-6 || !strings.HasSuffix(f.v, "…") {
				t.Errorf("%s: %d bytes (%q…), want at most %d, cut and marked", f.name, len(f.v), truncate(f.v, 20), f.max)
			}
		}
		if got := log[0].Actor; got != `a\x00b`+"\uFFFD"+"c" {
			t.Errorf("NUL and invalid UTF-8: %q", got)
		}
		if brk, n, err := VerifyAudit(ctx, db); brk != nil || err != nil || n != 2 {
			t.Errorf("chain over the cut rows: %v %d %v", brk, n, err)
		}
	})
}

// TestAuditChainAdoptsOldRows: a database whose audit log was written
// before it was chained (migration 1 only, ids from the sequence, with a
// gap) is chained when a console of this version starts on it; an edit
// of an old row is found from then on.
func TestAuditChainAdoptsOldRows(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dialect := db.Dialect.String()
		first, err := fs.ReadFile(migrations, "migrations/"+dialect+"/00001_web.sql")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, fstest.MapFS{dialect + "/00001_web.sql": {Data: first}}, VersionTable); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 4; i++ { // as the earlier version wrote them
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO web_audit (realm, at, actor, role, action, target, detail, ok, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				"platform", int64(1000+i), "old", "admin", "login", "", "", true, "10.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM web_audit WHERE id = 2"); err != nil { // a gap from before
			t.Fatal(err)
		}
		a := newAuth(t, db, "platform", newClock())
		auditN(t, a, 2)
		if brk, n, err := VerifyAudit(ctx, db); brk != nil || err != nil || n != 5 {
			t.Fatalf("adopted log: %v %d %v", brk, n, err)
		}
		var ids []int64
		rows, _ := db.QueryContext(ctx, "SELECT id FROM web_audit ORDER BY id")
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		if fmt.Sprint(ids) != "[1 3 4 5 6]" {
			t.Errorf("ids %v: new rows go on after the old ones", ids)
		}
		// Starting again adopts nothing twice.
		newAuth(t, db, "platform", newClock())
		if brk, _, err := VerifyAudit(ctx, db); brk != nil || err != nil {
			t.Fatalf("second start: %v %v", brk, err)
		}
		if _, err := db.ExecContext(ctx, "UPDATE web_audit SET actor = 'someone' WHERE id = 3"); err != nil {
			t.Fatal(err)
		}
		if brk, _, err := VerifyAudit(ctx, db); err != nil || brk == nil || brk.ID != 3 {
			t.Fatalf("edited old row: %v %v", brk, err)
		}
		if _, err := db.ExecContext(ctx, "UPDATE web_audit SET actor = 'old' WHERE id = 3"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM web_audit WHERE id = 4"); err != nil {
			t.Fatal(err)
		}
		if brk, _, err := VerifyAudit(ctx, db); err != nil || brk == nil || brk.ID != 5 || !strings.Contains(brk.Reason, "prev_hash") {
			t.Fatalf("deleted old row: %v %v", brk, err)
		}
	})
}

// TestAuditNotChainedYet: a database migrated but not yet adopted says so
// instead of passing.
func TestAuditNotChainedYet(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	a := newAuth(t, db, "platform", newClock())
	auditN(t, a, 2)
	if _, err := db.ExecContext(ctx, "UPDATE web_audit_head SET adopted_to = 5"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := VerifyAudit(ctx, db); !errors.Is(err, ErrAuditNotChained) {
		t.Fatalf("got %v, want ErrAuditNotChained", err)
	}
}
