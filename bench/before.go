package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Run runs the benchmark the flags describe: this build alone, or, with
// --before, beside another build (RunCompared).
func (f *Flags) Run(ctx context.Context, stderr io.Writer) (*Report, error) {
	o, err := f.Options(stderr)
	if err != nil {
		return nil, err
	}
	if *f.Before == "" {
		return Run(ctx, o)
	}
	return RunCompared(ctx, o, *f.Before, f.shape(), stderr)
}

// RunCompared measures another build of baohan (bin, its `bench`
// command) and this one on the same machine in one run, alternating
// scenario by scenario and database by database (bin first, then this
// build), so that a change of the machine's load between the two is as
// small as it can be. shape are the arguments that shape the load,
// given to both. The report has this build's rows, each with the row of
// bin it compares with (Report.Before, matched by scenario, database and
// order).
func RunCompared(ctx context.Context, o Options, bin string, shape []string, stderr io.Writer) (*Report, error) {
	o = o.withDefaults()
	if o.Seed > 0 {
		return nil, errors.New("bench: a comparison with another build does not measure growth (--seed)")
	}
	start := time.Now()
	var out *Report
	var errs []error
	for _, s := range o.Scenarios {
		for _, db := range o.DBs {
			if ctx.Err() != nil {
				return out, errors.Join(append(errs, ctx.Err())...)
			}
			before, err := runOther(ctx, bin, append(append([]string{}, shape...), "--scenario", strconv.Itoa(s), "--db", db), o.Progress)
			if err != nil {
				errs = append(errs, fmt.Errorf("scenario %d on %s, %s: %w", s, db, bin, err))
			}
			one := o
			one.Scenarios, one.DBs = []int{s}, []string{db}
			rep, err := Run(ctx, one)
			if err != nil {
				errs = append(errs, fmt.Errorf("scenario %d on %s: %w", s, db, err))
			}
			if rep == nil {
				continue
			}
			if out == nil {
				out = &Report{Machine: rep.Machine, Started: start, Quick: rep.Quick, BeforeBuild: bin}
			}
			out.Skipped = append(out.Skipped, rep.Skipped...)
			for i, row := range rep.Rows {
				var b *Row
				if before != nil {
					b = before.row(row.Scenario, row.DB, i)
				}
				out.Rows = append(out.Rows, row)
				out.Before = append(out.Before, b)
			}
		}
	}
	if out != nil {
		out.Took = time.Since(start)
	}
	return out, errors.Join(errs...)
}

// runOther runs bin's bench with args and reads its JSON report;
// its progress goes to progress (nil: none).
func runOther(ctx context.Context, bin string, args []string, progress io.Writer) (*Report, error) {
	args = append([]string{"bench"}, args...)
	args = append(args, "--json")
	if progress == nil {
		args = append(args, "--quiet")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = progress
	if progress != nil {
		fmt.Fprintf(progress, "[before] %s %s\n", bin, strings.Join(args, " "))
	}
	runErr := cmd.Run()
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return nil, errors.Join(runErr, fmt.Errorf("reading its JSON report: %w", err))
	}
	return &rep, runErr
}

// row returns the i-th row of scenario s on db (nil when there is none).
func (r *Report) row(s int, db string, i int) *Row {
	n := 0
	for k := range r.Rows {
		if r.Rows[k].Scenario == s && r.Rows[k].DB == db {
			if n == i {
				return &r.Rows[k]
			}
			n++
		}
	}
	return nil
}

// UnmarshalJSON reads a row as MarshalJSON writes it (durations in ms).
func (r *Row) UnmarshalJSON(b []byte) error {
	type plain Row
	var v struct {
		plain
		ElapsedMS    float64 `json:"elapsed_ms"`
		P50MS        float64 `json:"p50_ms"`
		P99MS        float64 `json:"p99_ms"`
		MaxMS        float64 `json:"max_ms"`
		CeilingP50MS float64 `json:"ceiling_p50_ms"`
		CeilingP99MS float64 `json:"ceiling_p99_ms"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d := func(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
	*r = Row(v.plain)
	r.Elapsed, r.P50, r.P99, r.Max, r.CeilingP50, r.CeilingP99 = d(v.ElapsedMS), d(v.P50MS), d(v.P99MS), d(v.MaxMS), d(v.CeilingP50MS), d(v.CeilingP99MS)
	return nil
}

// writeComparison writes, per row, the other build's measurement and
// this one's: throughput, ratio to the reference, p99; the result is
// this build's (the other build judged by its own targets, which may
// differ).
func (r *Report) writeComparison(w io.Writer) error {
	fmt.Fprintf(w, "\nbefore: %s; after: this build (each pair measured one after the other)\n\n", r.BeforeBuild)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tscenario\tdb\tthroughput before → after\tchange\tof ref before → after\tp99 before → after\tresult")
	for i, row := range r.Rows {
		var b *Row
		if i < len(r.Before) {
			b = r.Before[i]
		}
		if b == nil {
			fmt.Fprintf(tw, "%d\t%s\t%s\t- → %s\t-\t- → %s\t- → %s\t%s\n", row.Scenario, row.Name, row.DB,
				fmtRate(row.Rate, row.Unit), pct(row.refRatio()), fmtDur(row.P99), result(row.Pass))
			continue
		}
		change := "-"
		if b.Rate > 0 {
			change = fmt.Sprintf("%+.0f%%", 100*(row.Rate/b.Rate-1))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s → %s\t%s\t%s → %s\t%s → %s\t%s\n", row.Scenario, row.Name, row.DB,
			fmtRate(b.Rate, b.Unit), fmtRate(row.Rate, row.Unit), change, pct(b.refRatio()), pct(row.refRatio()),
			fmtDur(b.P99), fmtDur(row.P99), result(row.Pass))
	}
	return tw.Flush()
}

func pct(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

func result(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}
