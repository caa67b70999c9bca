package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func benchRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// TestBenchQuickTiny runs `baohan bench --quick` at a tiny scale on SQLite:
// the harness drives every scenario end to end and reports every row. It
// asserts what the run did, never how fast.
func TestBenchQuickTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the services")
	}
	dir := t.TempDir()
	cpu := filepath.Join(dir, "cpu.pprof")
	code, out, errs := benchRun(t, "bench", "--quick", "--db", "sqlite", "--clients", "3", "--notices", "10", "--applies", "10",
		"--guarantees", "10", "--institutions", "2", "--sizes", "16KB,40KB", "--files", "2", "--uploaders", "2",
		"--json", "--dir", dir, "--cpuprofile", cpu)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	var rep struct {
		Command string `json:"command"`
		Machine struct {
			Cores int    `json:"cores"`
			Go    string `json:"go"`
		} `json:"machine"`
		Rows []struct {
			Scenario int     `json:"scenario"`
			DB       string  `json:"db"`
			N        int     `json:"n"`
			Errors   int     `json:"errors"`
			Rate     float64 `json:"rate"`
			P50      float64 `json:"p50_ms"`
			P99      float64 `json:"p99_ms"`
			Target   string  `json:"target"`
			Checks   []struct {
				Name string `json:"name"`
				OK   bool   `json:"ok"`
			} `json:"checks"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if !strings.HasPrefix(rep.Command, "baohan bench --quick") || rep.Machine.Cores == 0 || rep.Machine.Go == "" {
		t.Errorf("command %q, machine %+v", rep.Command, rep.Machine)
	}
	per := map[int]int{}
	for _, r := range rep.Rows {
		per[r.Scenario]++
		if r.DB != "sqlite" || r.N == 0 || r.Errors != 0 || r.Rate <= 0 || r.P99 < r.P50 || r.Target == "" {
			t.Errorf("row %+v", r)
		}
		for _, c := range r.Checks {
			if !c.OK {
				t.Errorf("scenario %d: check %q failed", r.Scenario, c.Name)
			}
		}
	}
	if per[1] != 1 || per[2] != 2 || per[3] != 2 || per[4] != 1 {
		t.Errorf("rows per scenario %v, want 1:1 2:2 3:2 4:1", per)
	}
	if !strings.Contains(errs, "s3-sqlite") {
		t.Errorf("no progress on stderr:\n%s", errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "cpu.s1-sqlite.pprof")); err != nil {
		t.Errorf("CPU profile of scenario 1: %v", err)
	}
}

func TestBenchTable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the services")
	}
	code, out, errs := benchRun(t, "bench", "--quick", "--db", "sqlite", "--scenario", "1", "--clients", "2", "--notices", "4", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"machine:", "command: baohan bench --quick", "throughput", "p99", "ceiling", "req/s", "parse+verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(errs, "s1-sqlite") {
		t.Errorf("--quiet printed progress: %s", errs)
	}
}

func TestBenchFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--scenario", "6"}, "scenarios are 1, 2, 3, 4 and 5"},
		{[]string{"bench", "--db", "mysql"}, "want sqlite, postgres or both"},
		{[]string{"bench", "--sizes", "big"}, "not a size"},
		{[]string{"bench", "extra"}, "unexpected argument"},
	} {
		code, _, errs := benchRun(t, tt.args...)
		if code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, errs, tt.want)
		}
	}
	code, _, errs := benchRun(t, "bench", "--help")
	if code != 0 || !strings.Contains(errs, "usage: baohan bench") || !strings.Contains(errs, "--cpuprofile") {
		t.Errorf("--help: exit %d\n%s", code, errs)
	}
}
