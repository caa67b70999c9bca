package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRowJSONRoundTrip: a row read back from the JSON report (what
// RunCompared reads of the other build) has its durations and
// reference.
func TestRowJSONRoundTrip(t *testing.T) {
	in := Row{Scenario: 1, Name: "n", DB: SQLite, N: 10, Rate: 120, Unit: "req/s", P50: 3 * time.Millisecond,
		P99: 45500 * time.Microsecond, Max: time.Second, Elapsed: 2 * time.Second, Target: "t", Pass: true}
	in.setReference("durable reference", 400)
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Row
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.P50 != in.P50 || out.P99 != in.P99 || out.Max != in.Max || out.Elapsed != in.Elapsed {
		t.Errorf("durations %v %v %v %v, want %v %v %v %v", out.P50, out.P99, out.Max, out.Elapsed, in.P50, in.P99, in.Max, in.Elapsed)
	}
	if out.Reference != 400 || out.ReferenceName != "durable reference" || out.refRatio() != 0.3 || out.RefRatio != 0.3 {
		t.Errorf("reference %v %q ratio %v (field %v)", out.Reference, out.ReferenceName, out.refRatio(), out.RefRatio)
	}
}

// TestShapeFlags: only the flags that shape the load go to the other
// build; the scenario, database, output and profiles are per run.
func TestShapeFlags(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := RegisterFlags(fs)
	if err := fs.Parse([]string{"--quick", "--clients", "8", "--scenario", "1", "--db", "sqlite", "--json", "--cpuprofile", "/tmp/x", "--before", "/bin/old", "--sizes", "1MB"}); err != nil {
		t.Fatal(err)
	}
	got := f.shape()
	want := []string{"--clients=8", "--quick=true", "--sizes=1MB"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("shape %q, want %q", got, want)
	}
	o, err := f.Options(nil)
	if err != nil || o.Clients != 8 || !slices.Equal(o.Scenarios, []int{1}) || !slices.Equal(o.DBs, []string{SQLite}) || o.Progress != nil {
		t.Errorf("options %+v, %v", o, err)
	}
	fs = flag.NewFlagSet("bench", flag.ContinueOnError)
	f = RegisterFlags(fs)
	if err := fs.Parse([]string{"--seed", "10", "--before", "/bin/old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Options(nil); err == nil || !strings.Contains(err.Error(), "--seed") {
		t.Errorf("--before with --seed: %v", err)
	}
}

// TestRunCompared runs scenario 1 at a tiny scale beside a stand-in for
// another build (a script that prints a report and checks that it was
// given the load's shape and one scenario on one database), and reads
// the pair.
func TestRunCompared(t *testing.T) {
	dir := t.TempDir()
	before := Report{Rows: []Row{{Scenario: 1, Name: "old", DB: SQLite, N: 12, Rate: 100, Unit: "req/s", P99: 40 * time.Millisecond, Reference: 400, ReferenceName: "durable reference"}}}
	b, err := json.Marshal(before)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	args := filepath.Join(dir, "args")
	bin := filepath.Join(dir, "old-baohan")
	script := "#!/bin/sh\necho \"$@\" > " + args + "\ncat " + filepath.Join(dir, "report.json") + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	o := tinyOptions(t, SQLite)
	o.Scenarios = []int{1}
	rep, err := RunCompared(context.Background(), o, bin, []string{"--clients=4"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 || len(rep.Before) != 1 || rep.Before[0] == nil || rep.Before[0].Rate != 100 || rep.Before[0].P99 != 40*time.Millisecond {
		t.Fatalf("rows %d, before %+v", len(rep.Rows), rep.Before)
	}
	got, _ := os.ReadFile(args)
	if want := "bench --clients=4 --scenario 1 --db sqlite --json --quiet"; strings.TrimSpace(string(got)) != want {
		t.Errorf("the other build was run with %q, want %q", got, want)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "before: "+bin) || !strings.Contains(out.String(), "100 req/s → ") || !strings.Contains(out.String(), "25% → ") {
		t.Errorf("table:\n%s", out.String())
	}
}
