package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one measured line of the report: a scenario on a database,
// its throughput, latencies and memory, the ceiling measured beside it,
// the target and whether it was met.
type Row struct {
	Scenario int    `json:"scenario"`
	Name     string `json:"name"`
	DB       string `json:"db,omitempty"`

	N       int           `json:"n"`
	Errors  int           `json:"errors"`
	Elapsed time.Duration `json:"-"`
	Rate    float64       `json:"rate"`
	Unit    string        `json:"unit"` // of Rate and Ceiling: req/s, MB/s, restores/s
	P50     time.Duration `json:"-"`
	P99     time.Duration `json:"-"`
	Max     time.Duration `json:"-"`

	// Memory of the whole process (the services, the clients and the
	// fakes share it) while the row was measured.
	HeapGrowth uint64 `json:"heap_growth_bytes"` // peak HeapInuse above the start
	PeakHeap   uint64 `json:"peak_heap_bytes"`
	PeakSys    uint64 `json:"peak_sys_bytes"`
	PeakRSS    uint64 `json:"peak_rss_bytes,omitempty"`
	PeakLive   uint64 `json:"peak_live_heap_bytes"`
	LiveGrowth uint64 `json:"live_heap_growth_bytes"` // peak live heap above the start

	Ceiling     float64       `json:"ceiling,omitempty"`
	CeilingName string        `json:"ceiling_name,omitempty"`
	CeilingP50  time.Duration `json:"-"`
	CeilingP99  time.Duration `json:"-"`
	Ratio       float64       `json:"ratio,omitempty"` // Rate / Ceiling
	// Reference is a second point of comparison measured in the same
	// run, when there is one: in scenarios 1 and 4 the durable reference
	// (DurableHandler: the ceiling plus one committed INSERT per request
	// on the row's database), in scenario 2 the protocol floor
	// (UploadFloor: the receiving side's protocol work in memory).
	Reference     float64 `json:"reference,omitempty"`
	ReferenceName string  `json:"reference_name,omitempty"`
	// RefRatio is Rate / Reference: what the targets of scenarios 1, 2
	// and 4 are set in.
	RefRatio float64 `json:"reference_ratio,omitempty"`

	Target string `json:"target"`
	Pass   bool   `json:"pass"`
	// Checks are the correctness checks of the run (all applications
	// moved, none delivered twice...); a failed one fails the row.
	Checks []Check  `json:"checks,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	// ErrorSamples are the first distinct errors.
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// Check is one correctness check of a row.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Got  string `json:"got,omitempty"`
}

func (r *Row) check(name string, ok bool, format string, a ...any) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Got: fmt.Sprintf(format, a...)})
}

func (r *Row) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

// setDurableRef records the durable reference and says in a note where
// it stands between the ceiling and the row.
func (r *Row) setDurableRef(st *Stats) {
	r.setReference("durable reference", st.Rate())
	if r.Ceiling <= 0 || r.Reference <= 0 {
		return
	}
	r.note("durable reference (parse+verify, then one INSERT committed per request on this %s, answered after the commit): %.0f %s, %.0f%% of the ceiling; this row reaches %.0f%% of it (p50 %s, p99 %s)",
		r.DB, r.Reference, r.Unit, 100*r.Reference/r.Ceiling, 100*r.Rate/r.Reference, fmtDur(st.P50()), fmtDur(st.P99()))
}

// setUploadFloor records the protocol floor of scenario 2 (MiB/s).
func (r *Row) setUploadFloor(rate float64) {
	r.setReference("protocol floor", rate)
	if r.Ceiling <= 0 || rate <= 0 {
		return
	}
	r.note("protocol floor (in memory, no HTTP, database or disk: parse and verify each chunk's sign, base64, SM4-CBC + SM3 of the plaintext, the seal check): %.1f MiB/s, %.0f%% of the ceiling; this row reaches %.0f%% of it",
		rate, 100*rate/r.Ceiling, 100*r.Rate/rate)
}

// setReference records the row's reference and the row's ratio to it.
func (r *Row) setReference(name string, rate float64) {
	r.Reference, r.ReferenceName = rate, name
	r.RefRatio = r.refRatio()
}

// refRatio is Rate / Reference (0 without a reference).
func (r Row) refRatio() float64 {
	if r.Reference <= 0 {
		return 0
	}
	return r.Rate / r.Reference
}

// checksOK reports whether every check passed.
func (r *Row) checksOK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

func (r *Row) setStats(s *Stats) {
	r.N, r.Errors, r.Elapsed = s.N, s.Errors, s.Elapsed
	r.P50, r.P99, r.Max = s.P50(), s.P99(), s.Max()
	r.ErrorSamples = s.ErrorSamples
}

func (r *Row) setMem(m MemPeak) {
	r.HeapGrowth, r.PeakHeap, r.PeakSys, r.PeakRSS, r.PeakLive = m.HeapGrowth(), m.PeakHeap, m.PeakSys, m.PeakRSS, m.PeakLive
	r.LiveGrowth = m.LiveGrowth()
}

func (r *Row) setCeiling(name string, rate float64) {
	r.CeilingName, r.Ceiling = name, rate
	if rate > 0 {
		r.Ratio = r.Rate / rate
	}
}

// MarshalJSON adds the durations in milliseconds.
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	r.RefRatio = r.refRatio()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return json.Marshal(struct {
		plain
		ElapsedMS    float64 `json:"elapsed_ms"`
		P50MS        float64 `json:"p50_ms"`
		P99MS        float64 `json:"p99_ms"`
		MaxMS        float64 `json:"max_ms"`
		CeilingP50MS float64 `json:"ceiling_p50_ms,omitempty"`
		CeilingP99MS float64 `json:"ceiling_p99_ms,omitempty"`
	}{plain(r), ms(r.Elapsed), ms(r.P50), ms(r.P99), ms(r.Max), ms(r.CeilingP50), ms(r.CeilingP99)})
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemTotal   uint64 `json:"mem_total_bytes"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Module     string `json:"module_version,omitempty"`
	Load       string `json:"load_average,omitempty"` // /proc/loadavg when the run started
}

// ThisMachine describes the running machine.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if v, err := procMemTotal(); err == nil {
		m.MemTotal = v
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.Module = bi.Main.Version
	}
	return m
}

func procMemTotal() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			var n uint64
			_, err := fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%d", &n)
			return n * 1024, err
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// Report is a whole run.
type Report struct {
	Machine Machine       `json:"machine"`
	Command string        `json:"command,omitempty"`
	Started time.Time     `json:"started"`
	Took    time.Duration `json:"-"`
	Quick   bool          `json:"quick"`
	Rows    []Row         `json:"rows"`
	Skipped []string      `json:"skipped,omitempty"` // scenarios not run, and why
	// Before, in a comparison (RunCompared), is for each row the row of
	// the other build it compares with (nil: none), and BeforeBuild
	// that build.
	Before      []*Row `json:"before,omitempty"`
	BeforeBuild string `json:"before_build,omitempty"`
}

// Pass reports whether every row met its target.
func (r *Report) Pass() bool {
	for _, row := range r.Rows {
		if !row.Pass {
			return false
		}
	}
	return true
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(struct {
		*Report
		TookS float64 `json:"took_s"`
	}{r, r.Took.Seconds()})
}

func fmtRate(v float64, unit string) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	default:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
}

// WriteTable writes the report as an aligned table, then the notes and
// failed checks.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "machine: %s, %d cores (GOMAXPROCS %d), %s RAM, %s %s, %s; load %s at start\n",
		r.Machine.CPU, r.Machine.Cores, r.Machine.GOMAXPROCS, fmtBytes(r.Machine.MemTotal), r.Machine.OS, r.Machine.Kernel, r.Machine.Go, r.Machine.Load)
	if r.Command != "" {
		fmt.Fprintf(w, "command: %s\n", r.Command)
	}
	fmt.Fprintf(w, "took %s\n\n", r.Took.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tscenario\tdb\tn\terr\tthroughput\tp50\tp99\theap peak (+growth)\tceiling\tratio\treference\tof ref\ttarget\tresult")
	for _, row := range r.Rows {
		ratio, refRatio, ref := "-", "-", "-"
		if row.Ratio > 0 {
			ratio = fmt.Sprintf("%.0f%%", row.Ratio*100)
		}
		if rr := row.refRatio(); rr > 0 {
			refRatio = fmt.Sprintf("%.0f%%", rr*100)
		}
		if row.Reference > 0 {
			ref = fmtRate(row.Reference, row.Unit) + " (" + row.ReferenceName + ")"
		}
		res := result(row.Pass)
		db := row.DB
		if db == "" {
			db = "-"
		}
		ceil := "-"
		if row.Ceiling > 0 {
			ceil = fmtRate(row.Ceiling, row.Unit) + " (" + row.CeilingName + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s (+%s)\t%s\t%s\t%s\t%s\t%s\t%s\n",
			row.Scenario, row.Name, db, row.N, row.Errors, fmtRate(row.Rate, row.Unit), fmtDur(row.P50), fmtDur(row.P99),
			fmtBytes(row.PeakHeap), fmtBytes(row.HeapGrowth), ceil, ratio, ref, refRatio, row.Target, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.BeforeBuild != "" {
		if err := r.writeComparison(w); err != nil {
			return err
		}
	}
	for _, row := range r.Rows {
		var lines []string
		for _, c := range row.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			lines = append(lines, fmt.Sprintf("  %s %s: %s", mark, c.Name, c.Got))
		}
		mem := fmt.Sprintf("  memory: heap in use peak %s (+%s over the start), live heap peak %s, runtime Sys peak %s",
			fmtBytes(row.PeakHeap), fmtBytes(row.HeapGrowth), fmtBytes(row.PeakLive), fmtBytes(row.PeakSys))
		if row.PeakRSS > 0 {
			mem += ", process RSS peak " + fmtBytes(row.PeakRSS)
		}
		lines = append(lines, mem)
		for _, n := range row.Notes {
			lines = append(lines, "  note: "+n)
		}
		for _, e := range row.ErrorSamples {
			lines = append(lines, "  error: "+e)
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n%d %s [%s]\n%s\n", row.Scenario, row.Name, row.DB, strings.Join(lines, "\n"))
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "\nskipped: %s\n", s)
	}
	return nil
}
