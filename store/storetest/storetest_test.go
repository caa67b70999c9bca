package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestSchemaName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]{0,32}_[0-9a-f]{12}$`)
	for _, name := range []string{
		"TestFlow/postgres",
		"TestÜnicode 名字/sub#01",
		"",
		strings.Repeat("TestAVeryLongName", 10),
	} {
		s := schemaName(name)
		if !valid.MatchString(s) {
			t.Errorf("schemaName(%q) = %q, not an identifier of the expected shape", name, s)
		}
		if len(s) > 63 {
			t.Errorf("schemaName(%q) = %q, longer than PostgreSQL's 63", name, s)
		}
	}
	if a, b := schemaName("TestX"), schemaName("TestX"); a == b {
		t.Errorf("two schemas of one test share the name %s", a)
	}
}

func TestFreshSchemaIsSelectedAndDropped(t *testing.T) {
	var schema string
	t.Run("inner", func(t *testing.T) {
		dbURL := FreshSchema(t)
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		schema = u.Query().Get("search_path")
		if !strings.HasPrefix(schema, "t_testfreshschemaisselectedanddr") {
			t.Errorf("search_path = %q, want the test's schema", schema)
		}
		db, err := sql.Open("pgx", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE probe (n INTEGER)"); err != nil {
			t.Fatal(err)
		}
		var in string
		if err := db.QueryRowContext(ctx,
			"SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe' AND table_schema = current_schema()").Scan(&in); err != nil {
			t.Fatal(err)
		}
		if in != schema {
			t.Errorf("table made in schema %q, want %q", in, schema)
		}
	})
	if schema == "" {
		return // skipped: no server
	}
	db, err := sql.Open("pgx", BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s still there after its test ended", schema)
	}
}

func TestEachDB(t *testing.T) {
	var got []string
	EachDB(t, func(t *testing.T, dbURL string) {
		got = append(got, t.Name())
		switch {
		case strings.HasSuffix(t.Name(), "/sqlite") && dbURL != "":
			t.Errorf("sqlite run got URL %q, want \"\"", dbURL)
		case strings.HasSuffix(t.Name(), "/postgres") && !strings.Contains(dbURL, "search_path=t_"):
			t.Errorf("postgres run got URL %q, want a fresh schema", dbURL)
		}
	})
	if len(got) == 0 || got[0] != "TestEachDB/sqlite" {
		t.Errorf("runs = %v, want sqlite first", got)
	}
	if Required() && len(got) != 2 {
		t.Errorf("runs = %v, want sqlite and postgres", got)
	}
}
