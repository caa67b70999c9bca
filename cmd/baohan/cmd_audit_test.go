package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
	"github.com/baohan-dev/baohan/web"
)

func auditRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// logDB makes a message log of n exchanges in the SQLite file name in dir
// (or at url) and returns the open store. Every third is a retry.
func logDB(t *testing.T, url, dir, name string, n int) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, dir, store.WithFileName(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l := store.NewMessageLog(db)
	for i := 1; i <= n; i++ {
		req := []byte(`{"applyno":"x"}`)
		if i == 2 { // a chunk's body: kept beside the row (message_log_bodies)
			req = []byte(`{"applyno":"x","baohanfile":"` + strings.Repeat("QUJD", 20000) + `"}`)
		}
		if _, err := l.Record(context.Background(), &protocol.Exchange{Interface: "baohannotice", Direction: protocol.Inbound, Peer: "bank",
			ApplyNo: fmt.Sprintf("BH%04d", i), Request: req, Response: []byte(`{"code":1}`),
			HTTPStatus: 200, Code: 1, SignOK: true, At: time.Now(), Retry: i%3 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	db := logDB(t, "", dir, "platform.db", 5)

	code, out, errs := auditRun(t, "audit", "verify", "--data", dir)
	if code != 0 || out != "message log: ok, 5 entries\nconsole audit log: none (no console has run on this database)\n" {
		t.Fatalf("intact: exit %d, %q %q", code, out, errs)
	}
	// The file can also be named, and --side picks it.
	if code, out, _ := auditRun(t, "audit", "verify", "--db", filepath.Join(dir, "platform.db")); code != 0 || !strings.HasPrefix(out, "message log: ok, 5 entries\n") {
		t.Fatalf("--db FILE: exit %d %q", code, out)
	}
	if code, _, errs := auditRun(t, "audit", "verify", "--data", dir, "--side", "institution"); code != 1 || !strings.Contains(errs, "no institution.db in") {
		t.Fatalf("--side institution: exit %d %q", code, errs)
	}

	tests := []struct {
		name, sql, want string
	}{
		{"edited", `UPDATE message_log SET response = CAST('{"code":0}' AS BLOB) WHERE id = 3`, "message log: broken at entry 3: content does not match its hash"},
		{"edited applyno", `UPDATE message_log SET applyno = 'BH9999' WHERE id = 2`, "message log: broken at entry 2: content does not match its hash"},
		{"rehashed without the chain", `UPDATE message_log SET prev_hash = hash WHERE id = 4`, "message log: broken at entry 4: prev_hash"},
		{"deleted", `DELETE FROM message_log WHERE id = 2`, "message log: broken at entry 2: rows 2 to 2 are missing"},
		{"a retry unmarked", `UPDATE message_log SET retry = 0 WHERE id = 3`, "message log: broken at entry 3: content does not match its hash"},
		{"marked a retry", `UPDATE message_log SET retry = 1 WHERE id = 4`, "message log: broken at entry 4: content does not match its hash"},
		{"last deleted", `DELETE FROM message_log WHERE id = 5`, "message log: broken at entry 5:"},
		{"edited body beside its row", `UPDATE message_log_bodies SET data = CAST('{"applyno":"y"}' AS BLOB)`, "message log: broken at entry 2: its request body in message_log_bodies does not match its sm3"},
		{"deleted body beside its row", `DELETE FROM message_log_bodies`, "message log: broken at entry 2: its request body (sm3 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			db := logDB(t, "", d, "institution.db", 5)
			if _, err := db.Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			code, out, errs := auditRun(t, "audit", "verify", "--data", d)
			if code != 1 || !strings.HasPrefix(out, tc.want) || !strings.Contains(errs, "message log chain broken at row") {
				t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant exit 1 and %q", code, out, errs, tc.want)
			}
		})
	}
	_ = db
}

func TestAuditVerifyArguments(t *testing.T) {
	dir := t.TempDir()
	logDB(t, "", dir, "platform.db", 1)
	logDB(t, "", dir, "institution.db", 2)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--data", dir}, 1, "holds both platform.db and institution.db: choose one with --side"},
		{[]string{"--data", dir, "--side", "institution"}, 0, "message log: ok, 2 entries"},
		{[]string{"--data", dir, "--side", "bank"}, 1, `--side must be platform or institution, got "bank"`},
		{[]string{}, 1, "give --db URL or --data DIR"},
		{[]string{"--db", "x", "--data", dir}, 1, "give --db or --data, not both"},
		{[]string{"--db", filepath.Join(dir, "nope.db")}, 1, "no such file"},
		{[]string{"--data", t.TempDir()}, 1, "no platform.db or institution.db in"},
		{[]string{"--db", "mysql://x"}, 1, "unsupported scheme"},
	}
	for _, tc := range tests {
		code, out, errs := auditRun(t, append([]string{"audit", "verify"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: exit %d %q %q, want %d %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Error("audit verify created a database")
	}
	if code, _, errs := auditRun(t, "audit", "verify", "--help"); code != 0 || !strings.Contains(errs, "usage: baohan audit verify") {
		t.Errorf("--help: %d %q", code, errs)
	}
}

func TestAuditVerifyPostgres(t *testing.T) {
	url := storetest.FreshSchema(t) // skips when PostgreSQL does not answer, unless required
	db := logDB(t, url, "", "", 4)
	if code, out, errs := auditRun(t, "audit", "verify", "--db", url); code != 0 || !strings.HasPrefix(out, "message log: ok, 4 entries\n") {
		t.Fatalf("intact: %d %q %q", code, out, errs)
	}
	if _, err := db.Exec(`UPDATE message_log SET error = 'covered up' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := auditRun(t, "audit", "verify", "--db", url); code != 1 || !strings.HasPrefix(out, "message log: broken at entry 3: content does not match its hash") {
		t.Fatalf("edited: %d %q", code, out)
	}
}

// TestAuditVerifyConsoleLog: audit verify checks the console audit log's
// chain too, and names the first broken entry of each log, on SQLite and
// PostgreSQL.
func TestAuditVerifyConsoleLog(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			tests := []struct {
				name, sql string
				want      []string
			}{
				{"intact", "", []string{"message log: ok, 3 entries", "console audit log: ok, 4 entries"}},
				{"edited", "UPDATE web_audit SET detail = 'nothing happened' WHERE id = 2",
					[]string{"message log: ok, 3 entries", "console audit log: broken at entry 2: content does not match its hash"}},
				{"deleted", "DELETE FROM web_audit WHERE id = 3", []string{"console audit log: broken at entry 3: rows 3 to 3 are missing"}},
				{"inserted", "INSERT INTO web_audit (id, realm, at, actor, role, action, target, detail, ok, ip, prev_hash, hash) " +
					"SELECT 5, realm, at, actor, role, action, target, detail, ok, ip, hash, hash FROM web_audit WHERE id = 4",
					[]string{"console audit log: broken at entry 5: row is beyond the chain head"}},
				{"both", "UPDATE web_audit SET ok = NOT ok WHERE id = 1; UPDATE message_log SET code = 0 WHERE id = 2",
					[]string{"message log: broken at entry 2: content", "console audit log: broken at entry 1: content"}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					var db *store.DB
					var target []string
					if dialect == "sqlite" {
						d := t.TempDir()
						db = logDB(t, "", d, "platform.db", 3)
						target = []string{"--data", d}
					} else {
						url := storetest.FreshSchema(t)
						db = logDB(t, url, "", "", 3)
						target = []string{"--db", url}
					}
					a, err := web.NewAuth(context.Background(), db, "platform")
					if err != nil {
						t.Fatal(err)
					}
					for i := range 4 {
						a.Audit(context.Background(), web.AuditEntry{Actor: "admin", Role: web.Admin, Action: "user.create", Target: fmt.Sprint("u", i), OK: true, IP: "10.0.0.1"})
					}
					for _, q := range strings.Split(tc.sql, "; ") {
						if q == "" {
							continue
						}
						if _, err := db.Exec(q); err != nil {
							t.Fatal(err)
						}
					}
					code, out, errs := auditRun(t, append([]string{"audit", "verify"}, target...)...)
					wantCode := 1
					if tc.sql == "" {
						wantCode = 0
					}
					if code != wantCode {
						t.Errorf("exit %d, want %d\n%s%s", code, wantCode, out, errs)
					}
					for _, w := range tc.want {
						if !strings.Contains(out, w) {
							t.Errorf("output lacks %q:\n%s", w, out)
						}
					}
					if wantCode == 1 && !strings.Contains(errs, "chain broken at row") {
						t.Errorf("stderr: %q", errs)
					}
				})
			}
		})
	}
}
