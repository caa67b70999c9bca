package arch

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The consoles (package web) keep their own tables (web_*) in the
// service's database and reach everything else through the services' Go
// API. webStore is what of package store they may use: their own tables
// and migrations (with the time codec), and the types the services'
// methods take and return.
var webStore = []string{
	"DB", "Querier", "Chain", "ChainRow", "ChainBreak", "ChainedLog", "BeginVerify", "ErrNotFound",
	"IsUniqueViolation", "Retryable", "Dialect", "Postgres", "SQLite", "Micros", "FromMicros",
	"LogEntry", "LogFilter", "OutMessage", "OutboxFilter", "State", "States",
}

// sqlTable finds the table after FROM, INTO, UPDATE or JOIN in SQL.
var sqlTable = regexp.MustCompile(`\b(?:FROM|INTO|UPDATE|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)`)

// webViolations reports, for the Go files given (name to source), what
// reaches a service's storage around its Go API: an identifier of
// package store outside webStore, a method of store.DB on the outbox
// (Outbox...: the services' Outbox method is their API), and SQL in a
// string on a table that is not the console's (web_...).
func webViolations(files map[string]string) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	for name, src := range files {
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		storeName := ""
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == Module+"/store" {
				storeName = "store"
				if im.Name != nil {
					storeName = im.Name.Name
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && storeName != "" && id.Name == storeName {
					if !slices.Contains(webStore, n.Sel.Name) {
						out = append(out, fmt.Sprintf("%s: store.%s: a service's storage is reached through its Go API", fset.Position(n.Pos()), n.Sel.Name))
					}
				} else if strings.HasPrefix(n.Sel.Name, "Outbox") && n.Sel.Name != "Outbox" {
					out = append(out, fmt.Sprintf("%s: .%s: the outbox is the service's (its Outbox and RetryOutbox methods)", fset.Position(n.Pos()), n.Sel.Name))
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					break
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					break
				}
				for _, m := range sqlTable.FindAllStringSubmatch(s, -1) {
					if !strings.HasPrefix(m[1], "web_") {
						out = append(out, fmt.Sprintf("%s: SQL on table %s: only the console's own tables (web_*) are queried directly", fset.Position(n.Pos()), m[1]))
					}
				}
			}
			return true
		})
	}
	slices.Sort(out)
	return out, nil
}

// TestWebUsesServicesGoAPI: the consoles touch no table of the services
// and build none of their stores (message log, outbox, seen signs,
// blobs).
func TestWebUsesServicesGoAPI(t *testing.T) {
	dir := filepath.Join("..", "..", "web")
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(names) < 5 {
		t.Fatalf("web sources: %v, %d files", err, len(names))
	}
	files := map[string]string{}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = string(b)
	}
	vs, err := webViolations(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
}

// TestWebViolationsFound: the check finds each way around the Go API.
func TestWebViolationsFound(t *testing.T) {
	const head = "package web\n\nimport (\n\t\"context\"\n\tdata \"" + Module + "/store\"\n)\n\nvar ctx = context.Background()\n"
	for _, tt := range []struct {
		name, body, want string
	}{
		{"own tables", "var q = `SELECT id FROM web_users u JOIN web_sessions s ON s.u = u.id`\nvar u = \"UPDATE web_audit_head SET id = 1\"\nvar db *data.DB\nvar f data.LogFilter\n", ""},
		{"the services' API types", "func f(s interface{ Messages(context.Context, data.LogFilter) ([]data.LogEntry, error) }) {}\n", ""},
		{"its own message log", "func f(db *data.DB) { data.NewMessageLog(db) }\n", "store.NewMessageLog"},
		{"the outbox of the database", "func f(db *data.DB) { db.OutboxList(ctx, data.OutboxFilter{}) }\n", ".OutboxList"},
		{"SQL on the message log", "var q = `SELECT DISTINCT peer FROM message_log`\n", "SQL on table message_log"},
		{"SQL on a service's table", "var q = \"UPDATE plat_applications SET state = ?\"\n", "SQL on table plat_applications"},
		{"an insert into the outbox", "var q = \"INSERT INTO outbox (peer) VALUES (?)\"\n", "SQL on table outbox"},
		{"blobs", "func f(db *data.DB) { data.NewDBBlobs(db) }\n", "store.NewDBBlobs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := webViolations(map[string]string{"x.go": head + tt.body})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == "" && len(vs) > 0:
				t.Fatalf("allowed code refused: %v", vs)
			case tt.want != "" && (len(vs) != 1 || !strings.Contains(vs[0], tt.want)):
				t.Fatalf("%v, want one violation with %q", vs, tt.want)
			}
		})
	}
}
