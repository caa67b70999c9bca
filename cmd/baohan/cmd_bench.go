package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/baohan-dev/baohan/bench"
	"github.com/baohan-dev/baohan/internal/cli"
)

// baohan bench: the two peaks of the trade (bid deadline, bid opening)
// against ceilings measured in the same run. The logic is in package
// bench; this is flags and output.

var benchCommands = []cli.Command{{
	Name: "bench",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		quick := fs.Bool("quick", false, "run everything small (under a minute)")
		scenarios := fs.String("scenario", "1,2,3,4,5", "scenarios to run, comma-separated")
		db := fs.String("db", "both", "database: sqlite, postgres or both")
		pg := fs.String("pg", "", "PostgreSQL URL (default $BAOHAN_TEST_POSTGRES or "+bench.DefaultPostgresURL+")")
		clients := fs.Int("clients", 0, "concurrent clients of scenarios 1 and 4 (default 64)")
		notices := fs.Int("notices", 0, "baohannotice requests of scenario 1 (default 20000; quick 600)")
		sizes := fs.String("sizes", "", "guarantee sizes of scenario 2 (default 1MB,20MB; quick 1MB,4MB)")
		files := fs.Int("files", 0, "files uploaded per size in scenario 2 (default ~64 MiB per size, 4..64; quick 4)")
		uploaders := fs.Int("uploaders", 0, "files uploaded at once in scenario 2 (default 4; quick 2)")
		guarantees := fs.Int("guarantees", 0, "guarantees restored at the bid opening of scenario 3 (default 10000; quick 500)")
		institutions := fs.Int("institutions", 0, "institutions of scenario 3 (default 5)")
		workers := fs.Int("workers", 0, "the platform's outbox workers in scenario 3 (default: the platform's default)")
		applies := fs.Int("applies", 0, "baohanapply requests of scenario 4 (default 10000; quick 600)")
		pickups := fs.Int("pickups", 0, "messages of each row of scenario 5, one at a time (default 200; quick 50)")
		seed := fs.Int("seed", 0, "seed N applications with their histories and measure the grown platform (list pages, claim, scenario 1, audit verify); alone unless --scenario is given")
		asJSON := fs.Bool("json", false, "print the report as JSON")
		dir := fs.String("dir", "", "work directory, kept after the run (default: a temporary one, removed)")
		cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of each timed part to FILE (part inserted before the extension)")
		memprofile := fs.String("memprofile", "", "write an allocation profile at the end of each timed part to FILE (likewise)")
		strict := fs.Bool("strict", false, "exit 3 when a target is missed")
		quiet := fs.Bool("quiet", false, "no progress on stderr")
		return func(ctx context.Context, pos []string) error {
			if len(pos) > 0 {
				return fmt.Errorf("unexpected argument %q (see --help)", pos[0])
			}
			o := bench.Options{Quick: *quick, PostgresURL: *pg, Clients: *clients, Notices: *notices, Files: *files, Uploaders: *uploaders,
				Guarantees: *guarantees, Institutions: *institutions, Workers: *workers, Applies: *applies, Pickups: *pickups, Seed: *seed, Dir: *dir,
				CPUProfile: *cpuprofile, MemProfile: *memprofile}
			var err error
			if o.Scenarios, err = bench.ParseScenarios(*scenarios); err != nil {
				return fmt.Errorf("--%w", err)
			}
			if *seed > 0 && !flagSet(fs, "scenario") {
				o.Scenarios = nil
			}
			if o.DBs, err = bench.ParseDBs(*db); err != nil {
				return fmt.Errorf("--%w", err)
			}
			if *sizes != "" {
				if o.Sizes, err = bench.ParseSizes(*sizes); err != nil {
					return fmt.Errorf("--%w", err)
				}
			}
			if !*quiet {
				o.Progress = env.Stderr
			}
			// The services log warnings to files in the work directory; keep the
			// store's informational lines (migrations) off the terminal.
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			defer slog.SetDefault(prev)

			rep, runErr := bench.Run(ctx, o)
			if rep != nil {
				rep.Command = "baohan bench " + strings.Join(env.Args, " ")
				if err := writeReport(env.Stdout, *asJSON, rep); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if *strict && !rep.Pass() {
				return cli.ExitError{Code: 3}
			}
			return nil
		}
	},
}}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
