package security

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

// TestSecretsAtRest runs the flow to an issued guarantee and reads every
// byte both services left on disk (the SQLite database and its WAL, the
// blobs, every generated file but the master key itself), looking for
// every secret in every encoding: none may be there in the clear. The
// institution's disk may not hold the project key nor the plaintext
// project fields before the bid opening. After the opening (restore
// done) the project key and fields are public by design, the rest is
// still secret.
func TestSecretsAtRest(t *testing.T) {
	s := harness.Start(t)
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	secrets, _ := flowSecrets(t, s, sec.No, applyNo)
	if len(secrets) < 14 {
		t.Fatalf("only %d secrets gathered", len(secrets))
	}
	var found []finding
	found = append(found, prefix("platform/", scanDir(t, s.PlatCfg.Storage.DataDir, secrets, "master.key"))...)
	found = append(found, prefix("institution/", scanDir(t, s.InstCfg.Storage.DataDir, append(secrets, projectFields(s, sec.No)...), "master.key"))...)
	for _, f := range found {
		t.Errorf("before the opening, in the clear at rest: %s", f)
	}
	// Control: the scanner does see the database. The platform keeps the
	// project fields in the clear (it is their owner).
	if c := scanDir(t, s.PlatCfg.Storage.DataDir, projectFields(s, sec.No)); len(c) == 0 {
		t.Fatal("control: the plaintext section name was not found in the platform's files; the scanner is blind")
	}

	s.Clock.Advance(time.Hour + time.Second)
	s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
	s.WaitInst(applyNo, institution.Restored, 30*time.Second)
	secrets, _ = flowSecrets(t, s, sec.No, applyNo)
	var still, key []secret
	for _, x := range secrets {
		if x.name != "project key" {
			still = append(still, x)
		} else {
			key = append(key, x)
		}
	}
	// Control: after the opening the key went out in baohanrestore, which
	// the message log keeps as sent (base64); the scanner must see it.
	if c := scanDir(t, s.PlatCfg.Storage.DataDir, key); len(c) == 0 {
		t.Fatal("control: the released project key is not in the platform's message log; the scanner is blind")
	}
	found = append(prefix("platform/", scanDir(t, s.PlatCfg.Storage.DataDir, still, "master.key")),
		prefix("institution/", scanDir(t, s.InstCfg.Storage.DataDir, still, "master.key"))...)
	for _, f := range found {
		t.Errorf("after the opening, in the clear at rest: %s", f)
	}
}

func prefix(p string, fs []finding) []finding {
	for i := range fs {
		fs[i].where = p + fs[i].where
	}
	return fs
}

// The sealed columns hold the master key's format, not the secret.
func TestSealedColumnsFormat(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	db := s.Plat.DB()
	for _, q := range []string{`SELECT key_sealed FROM plat_applications`, `SELECT private_sealed FROM plat_apply_keys`} {
		var v string
		if err := db.QueryRow(q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v, "v1:") {
			t.Errorf("%s: %.20q is not sealed (v1:...)", q, v)
		}
	}
	idb := s.Inst.DB()
	var tok string
	if err := idb.QueryRow(idb.Rebind(`SELECT token_sealed FROM inst_applications WHERE applyno = ?`), applyNo).Scan(&tok); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "v1:") {
		t.Errorf("token_sealed %.20q", tok)
	}
}

// TestSecretsAtRestPostgres: the same on PostgreSQL, where the files are
// the server's: every column of every row of every table of both
// services' schemas is read (as text, bytea as its bytes) and scanned.
func TestSecretsAtRestPostgres(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformDB(storetest.FreshSchema(t)), harness.WithInstitutionDB(storetest.FreshSchema(t)))
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	secrets, _ := flowSecrets(t, s, sec.No, applyNo)
	for _, f := range scanRows(t, s.Plat.DB(), secrets) {
		t.Errorf("platform database, in the clear: %s", f)
	}
	for _, f := range scanRows(t, s.Inst.DB(), append(secrets, projectFields(s, sec.No)...)) {
		t.Errorf("institution database, in the clear: %s", f)
	}
	// and the files beside the database (blobs, generated files)
	for _, f := range append(prefix("platform/", scanDir(t, s.PlatCfg.Storage.DataDir, secrets, "master.key")),
		prefix("institution/", scanDir(t, s.InstCfg.Storage.DataDir, append(secrets, projectFields(s, sec.No)...), "master.key"))...) {
		t.Errorf("in the clear at rest: %s", f)
	}
	if c := scanRows(t, s.Plat.DB(), projectFields(s, sec.No)); len(c) == 0 {
		t.Fatal("control: the plaintext section name is in no platform row; the scan is blind")
	}
}

// scanRows reads every row of every table of the connection's schema.
func scanRows(t *testing.T, db *store.DB, secrets []secret) []finding {
	t.Helper()
	tables, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	if len(names) < 5 {
		t.Fatalf("only %d tables in the schema", len(names))
	}
	var out []finding
	for _, n := range names {
		rows, err := db.Query(`SELECT * FROM "` + n + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var b []byte
				switch x := v.(type) {
				case []byte:
					b = x
				case string:
					b = []byte(x)
				default:
					b = []byte(fmt.Sprint(x))
				}
				out = append(out, scan(n+"."+cols[i], b, secrets)...)
			}
		}
		rows.Close()
	}
	return out
}
