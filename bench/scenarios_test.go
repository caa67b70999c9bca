package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// tinyOptions run every scenario at the smallest scale that still
// exercises it: the harness works end to end. No timing is asserted.
func tinyOptions(t *testing.T, db string) Options {
	return Options{Quick: true, DBs: []string{db}, Clients: 4, Notices: 12, Applies: 12, Guarantees: 12, Institutions: 2,
		Sizes: []int64{32 << 10, 600 << 10}, Files: 2, Uploaders: 2, Pickups: 5, Dir: t.TempDir()}
}

func checkRows(t *testing.T, rep *Report, db string) {
	t.Helper()
	want := map[int]int{1: 1, 2: 2, 3: 2, 4: 1}
	if db == Postgres {
		want[5] = 2 // replicas share a PostgreSQL database
	} else if !slices.ContainsFunc(rep.Skipped, func(s string) bool { return strings.HasPrefix(s, "scenario 5 on sqlite") }) {
		t.Errorf("scenario 5 not skipped on SQLite: %q", rep.Skipped)
	}
	got := map[int]int{}
	for _, r := range rep.Rows {
		got[r.Scenario]++
		if r.DB != db {
			t.Errorf("%d %s: db %q, want %q", r.Scenario, r.Name, r.DB, db)
		}
		// Scenario 5 measures latencies one message at a time, no rate.
		if r.N == 0 || r.Errors != 0 || (r.Rate <= 0) != (r.Scenario == 5) || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("%d %s: N %d errors %d (%q) rate %g p50 %v p99 %v", r.Scenario, r.Name, r.N, r.Errors, r.ErrorSamples, r.Rate, r.P50, r.P99)
		}
		if len(r.Checks) == 0 || !r.checksOK() {
			t.Errorf("%d %s: checks %+v", r.Scenario, r.Name, r.Checks)
		}
		if r.Target == "" || r.PeakHeap == 0 {
			t.Errorf("%d %s: target %q, peak heap %d", r.Scenario, r.Name, r.Target, r.PeakHeap)
		}
		// Scenarios 1 and 4 carry the durable reference, 2 the protocol
		// floor; 3 and 5 have neither.
		if wantRef := r.Scenario != 3 && r.Scenario != 5; (r.Reference > 0) != wantRef || (r.ReferenceName != "") != wantRef {
			t.Errorf("%d %s: reference %q %g", r.Scenario, r.Name, r.ReferenceName, r.Reference)
		}
		if r.Scenario != 3 || r.Ceiling > 0 { // the failing opening has no ceiling
			if r.Scenario != 3 && r.Scenario != 5 && (r.Ceiling <= 0 || r.Ratio <= 0) {
				t.Errorf("%d %s: ceiling %g ratio %g", r.Scenario, r.Name, r.Ceiling, r.Ratio)
			}
		}
	}
	for s, n := range want {
		if got[s] != n {
			t.Errorf("scenario %d: %d rows, want %d", s, got[s], n)
		}
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != len(rep.Rows) {
		t.Fatalf("JSON report: %v, %d rows", err, len(back.Rows))
	}
	if _, ok := back.Rows[0]["p99_ms"]; !ok {
		t.Errorf("JSON row without p99_ms: %v", back.Rows[0])
	}
	if testing.Verbose() {
		t.Log("\n" + table.String())
	}
}

func TestScenariosSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the services")
	}
	rep, err := Run(context.Background(), tinyOptions(t, SQLite))
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rep, SQLite)
}

func TestScenariosPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the services")
	}
	ctx := context.Background()
	if err := PingPostgres(ctx, PostgresURL()); err != nil {
		if os.Getenv("BAOHAN_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL does not answer: %v", err)
	}
	rep, err := Run(ctx, tinyOptions(t, Postgres))
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rep, Postgres)
}
