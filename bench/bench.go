package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Options select and size the scenarios. The zero value of a field is its
// default (full or Quick).
type Options struct {
	// Quick runs everything small (under a minute in all).
	Quick bool
	// Scenarios to run (1..5); default all.
	Scenarios []int
	// DBs to run on: SQLite and/or Postgres; default both (PostgreSQL is
	// skipped with a note when it does not answer).
	DBs []string
	// PostgresURL is the server the PostgreSQL runs use (default
	// PostgresURL()); each service gets a schema of its own, dropped after.
	PostgresURL string

	// Clients is the number of concurrent clients of scenarios 1 and 4
	// (default 64).
	Clients int
	// Notices is the number of baohannotice requests of scenario 1
	// (default 20000; quick 600).
	Notices int
	// Sizes are the guarantee file sizes of scenario 2 (default 1 MB and
	// 20 MB; quick 1 MB and 4 MB). The defaults are whole multiples of
	// the 512 KiB chunk, so that the flat-heap comparison of the smallest
	// and the largest size compares files of full chunks.
	Sizes []int64
	// Files is the number of files uploaded per size (default: about
	// 64 MB per size, 4 to 64; quick 4).
	Files int
	// Uploaders is the number of files uploaded at once (default 4;
	// each file's chunks go one after the other, as an institution's
	// outbox sends them).
	Uploaders int
	// Guarantees is the number of ciphertext guarantees restored at the
	// bid opening of scenario 3 (default 10000; quick 500).
	Guarantees int
	// Institutions share the guarantees of scenario 3 (default 5).
	Institutions int
	// Workers is the platform's outbox workers (concurrent deliveries) in
	// scenario 3 (default: the platform's own default).
	Workers int
	// Applies is the number of baohanapply requests of scenario 4
	// (default 10000; quick 600).
	Applies int
	// Pickups is the number of messages of each row of scenario 5, one
	// at a time (default 200; quick 50).
	Pickups int

	// Seed, when above zero, runs the growth measurement: that many
	// applications with their histories seeded into the platform, then
	// its list pages and searches, the outbox claim, scenario 1 and the
	// message log's verification on that database (and the claim and
	// scenario 1 on an empty one). With Seed set, Scenarios defaults to
	// none.
	Seed int

	// Dir is the work directory (default: a temporary directory, removed
	// after).
	Dir string
	// Progress gets a line now and then during long runs (nil: none).
	Progress io.Writer
	// CPUProfile, when set, is a file name: each timed part of a scenario
	// writes its CPU profile to the name with the part inserted before
	// the extension (cpu.pprof -> cpu.s1-sqlite.pprof).
	CPUProfile string
	// MemProfile likewise gets a heap profile (allocations since the
	// start of the program; use -sample_index=alloc_space and -base) at
	// the end of each timed part.
	MemProfile string
}

func (o Options) withDefaults() Options {
	pick := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if o.Quick {
				*v = quick
			}
		}
	}
	if len(o.Scenarios) == 0 && o.Seed <= 0 {
		o.Scenarios = []int{1, 2, 3, 4, 5}
	}
	if len(o.DBs) == 0 {
		o.DBs = []string{SQLite, Postgres}
	}
	if o.PostgresURL == "" {
		o.PostgresURL = PostgresURL()
	}
	pick(&o.Clients, 64, 64)
	pick(&o.Notices, 20000, 600)
	pick(&o.Guarantees, 10000, 500)
	pick(&o.Institutions, 5, 5)
	pick(&o.Applies, 10000, 600)
	pick(&o.Pickups, 200, 50)
	pick(&o.Uploaders, 4, 2)
	if len(o.Sizes) == 0 {
		o.Sizes = []int64{1 << 20, 20 << 20}
		if o.Quick {
			o.Sizes = []int64{1 << 20, 4 << 20}
		}
	}
	return o
}

// Check says what is wrong with the options.
func (o Options) Check() error {
	var errs []error
	for _, s := range o.Scenarios {
		if s < 1 || s > 5 {
			errs = append(errs, fmt.Errorf("scenario %d: there are scenarios 1 to 5", s))
		}
	}
	for _, d := range o.DBs {
		if d != SQLite && d != Postgres {
			errs = append(errs, fmt.Errorf("database %q: want %s or %s", d, SQLite, Postgres))
		}
	}
	for _, s := range o.Sizes {
		if s < 1024 || s > 60<<20 {
			errs = append(errs, fmt.Errorf("size %d: guarantee files from 1 KB to 60 MB", s))
		}
	}
	if o.Clients < 0 || o.Notices < 0 || o.Guarantees < 0 || o.Institutions < 0 || o.Applies < 0 || o.Pickups < 0 || o.Files < 0 || o.Uploaders < 0 || o.Workers < 0 || o.Seed < 0 {
		return errors.New("counts must not be negative")
	}
	return errors.Join(errs...)
}

// runner carries a run's options and helpers.
type runner struct {
	o      Options
	dir    string
	start  time.Time
	report *Report
}

func (r *runner) logf(format string, a ...any) {
	if r.o.Progress == nil {
		return
	}
	fmt.Fprintf(r.o.Progress, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, a...))
}

// progress returns a Load.Progress that logs under label.
func (r *runner) progress(label string, total int) func(done, errs int, elapsed time.Duration) {
	if r.o.Progress == nil {
		return nil
	}
	return func(done, errs int, elapsed time.Duration) {
		r.logf("%s: %d/%d done (%d errors), %.0f/s", label, done, total, errs, float64(done)/elapsed.Seconds())
	}
}

// workDir returns a fresh directory for one part.
func (r *runner) workDir(name string) string {
	return filepath.Join(r.dir, name)
}

func insertSuffix(file, part string) string {
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + "." + part + ext
}

// timed runs fn as a timed part: with profiles when asked.
func (r *runner) timed(part string, fn func() error) error {
	if r.o.CPUProfile != "" {
		if err := os.MkdirAll(filepath.Dir(r.o.CPUProfile), 0o700); err != nil {
			return err
		}
		f, err := os.Create(insertSuffix(r.o.CPUProfile, part))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	err := fn()
	if r.o.MemProfile != "" {
		if ferr := os.MkdirAll(filepath.Dir(r.o.MemProfile), 0o700); ferr != nil {
			return errors.Join(err, ferr)
		}
		f, ferr := os.Create(insertSuffix(r.o.MemProfile, part))
		if ferr != nil {
			return errors.Join(err, ferr)
		}
		runtime.GC()
		ferr = pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
		return errors.Join(err, ferr)
	}
	return err
}

// Run runs the scenarios the options select and returns the report. An
// error is returned for a scenario that could not run at all (setup
// failed); targets missed are in the rows.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	if err := o.Check(); err != nil {
		return nil, err
	}
	r := &runner{o: o, start: time.Now(), report: &Report{Machine: ThisMachine(), Started: time.Now(), Quick: o.Quick}}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "baohan-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		r.dir = d
	} else {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, err
		}
		r.dir = o.Dir
	}
	dbs := slices.Clone(o.DBs)
	if slices.Contains(dbs, Postgres) {
		if err := PingPostgres(ctx, o.PostgresURL); err != nil {
			dbs = slices.DeleteFunc(dbs, func(s string) bool { return s == Postgres })
			r.report.Skipped = append(r.report.Skipped, fmt.Sprintf("PostgreSQL runs: %s does not answer: %v", redactURL(o.PostgresURL), err))
			r.logf("PostgreSQL does not answer (%v); SQLite only", err)
		}
	}
	var errs []error
	for _, s := range o.Scenarios {
		for _, db := range dbs {
			if ctx.Err() != nil {
				return r.finish(), errors.Join(append(errs, ctx.Err())...)
			}
			var rows []Row
			var err error
			switch s {
			case 1:
				rows, err = r.scenario1(ctx, db)
			case 2:
				rows, err = r.scenario2(ctx, db)
			case 3:
				rows, err = r.scenario3(ctx, db)
			case 4:
				rows, err = r.scenario4(ctx, db)
			case 5:
				rows, err = r.scenario5(ctx, db)
			}
			r.report.Rows = append(r.report.Rows, rows...)
			if err != nil {
				errs = append(errs, fmt.Errorf("scenario %d on %s: %w", s, db, err))
				r.logf("scenario %d on %s failed: %v", s, db, err)
			}
		}
	}
	if o.Seed > 0 {
		for _, db := range dbs {
			if ctx.Err() != nil {
				return r.finish(), errors.Join(append(errs, ctx.Err())...)
			}
			rows, err := r.growth(ctx, db)
			r.report.Rows = append(r.report.Rows, rows...)
			if err != nil {
				errs = append(errs, fmt.Errorf("growth on %s: %w", db, err))
				r.logf("growth on %s failed: %v", db, err)
			}
		}
	}
	return r.finish(), errors.Join(errs...)
}

func (r *runner) finish() *Report {
	r.report.Took = time.Since(r.start)
	return r.report
}

func redactURL(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j > 0 && j < i {
			user := s[j+3 : i]
			if k := strings.Index(user, ":"); k >= 0 {
				return s[:j+3] + user[:k] + ":xxx" + s[i:]
			}
		}
	}
	return s
}

// measureLoad warms the service up with warm requests, then sends n more
// from clients clients while sampling memory, and records the load's
// statistics, the memory peak and the parse+verify ceiling in row; it
// returns the statistics. post(off) sends request off+i; what names the
// requests in the log ("notices").
func (r *runner) measureLoad(ctx context.Context, label, what string, clients, warm, n int, post func(off int) Op, ceil *Stats, row *Row) (*Stats, error) {
	r.logf("%s: warming up with %d %s", label, warm, what)
	if _, err := (Load{Clients: clients, Count: warm}).Run(ctx, post(0)); err != nil {
		return nil, err
	}
	r.logf("%s: %d %s from %d clients", label, n, what, clients)
	var st *Stats
	mem := StartMemSampler(0)
	err := r.timed(label, func() error {
		var err error
		st, err = Load{Clients: clients, Count: n, Progress: r.progress(label, n)}.Run(ctx, post(warm))
		return err
	})
	peak := mem.Stop()
	if err != nil {
		return nil, err
	}
	r.logf("%s: %s", label, st)
	row.setStats(st)
	row.Rate = st.Rate()
	row.setMem(peak)
	row.setCeiling("parse+verify", ceil.Rate())
	row.CeilingP50, row.CeilingP99 = ceil.P50(), ceil.P99()
	return st, nil
}
