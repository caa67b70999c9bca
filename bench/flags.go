package bench

import (
	"flag"
	"fmt"
	"io"
)

// Flags is the command line of `baohan bench`: RegisterFlags puts it on
// a FlagSet, Options reads it back once the FlagSet has parsed.
type Flags struct {
	fs *flag.FlagSet

	quick                                                 *bool
	scenarios, db, pg, sizes, dir, cpuprofile, memprofile *string
	clients, notices, files, uploaders, guarantees        *int
	institutions, workers, applies, pickups, seed         *int
	JSON, Strict, Quiet                                   *bool
	// Before is the path of another build of baohan to measure beside
	// this one (RunCompared).
	Before *string
}

// RegisterFlags defines the bench's flags on fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	return &Flags{fs: fs,
		quick:        fs.Bool("quick", false, "run everything small (under a minute)"),
		scenarios:    fs.String("scenario", "1,2,3,4,5", "scenarios to run, comma-separated"),
		db:           fs.String("db", "both", "database: sqlite, postgres or both"),
		pg:           fs.String("pg", "", "PostgreSQL URL (default $BAOHAN_TEST_POSTGRES or "+DefaultPostgresURL+")"),
		clients:      fs.Int("clients", 0, "concurrent clients of scenarios 1 and 4 (default 64)"),
		notices:      fs.Int("notices", 0, "baohannotice requests of scenario 1 (default 20000; quick 600)"),
		sizes:        fs.String("sizes", "", "guarantee sizes of scenario 2 (default 1MB,20MB; quick 1MB,4MB)"),
		files:        fs.Int("files", 0, "files uploaded per size in scenario 2 (default ~64 MiB per size, 4..64; quick 4)"),
		uploaders:    fs.Int("uploaders", 0, "files uploaded at once in scenario 2 (default 4; quick 2)"),
		guarantees:   fs.Int("guarantees", 0, "guarantees restored at the bid opening of scenario 3 (default 10000; quick 500)"),
		institutions: fs.Int("institutions", 0, "institutions of scenario 3 (default 5)"),
		workers:      fs.Int("workers", 0, "the platform's outbox workers in scenario 3 (default: the platform's default)"),
		applies:      fs.Int("applies", 0, "baohanapply requests of scenario 4 (default 10000; quick 600)"),
		pickups:      fs.Int("pickups", 0, "messages of each row of scenario 5, one at a time (default 200; quick 50)"),
		seed:         fs.Int("seed", 0, "seed N applications with their histories and measure the grown platform (list pages, claim, scenario 1, audit verify); alone unless --scenario is given"),
		JSON:         fs.Bool("json", false, "print the report as JSON"),
		dir:          fs.String("dir", "", "work directory, kept after the run (default: a temporary one, removed)"),
		cpuprofile:   fs.String("cpuprofile", "", "write a CPU profile of each timed part to FILE (part inserted before the extension)"),
		memprofile:   fs.String("memprofile", "", "write an allocation profile at the end of each timed part to FILE (likewise)"),
		Strict:       fs.Bool("strict", false, "exit 3 when a target is missed"),
		Quiet:        fs.Bool("quiet", false, "no progress on stderr"),
		Before:       fs.String("before", "", "another build of baohan (a path) measured beside this one, scenario by scenario, with the change per row"),
	}
}

// Options are the options the parsed flags give; progress goes to
// stderr unless --quiet.
func (f *Flags) Options(stderr io.Writer) (Options, error) {
	o := Options{Quick: *f.quick, PostgresURL: *f.pg, Clients: *f.clients, Notices: *f.notices, Files: *f.files,
		Uploaders: *f.uploaders, Guarantees: *f.guarantees, Institutions: *f.institutions, Workers: *f.workers,
		Applies: *f.applies, Pickups: *f.pickups, Seed: *f.seed, Dir: *f.dir, CPUProfile: *f.cpuprofile, MemProfile: *f.memprofile}
	var err error
	if o.Scenarios, err = ParseScenarios(*f.scenarios); err != nil {
		return o, fmt.Errorf("--%w", err)
	}
	if o.Seed > 0 && !f.set("scenario") {
		o.Scenarios = nil
	}
	if o.DBs, err = ParseDBs(*f.db); err != nil {
		return o, fmt.Errorf("--%w", err)
	}
	if *f.sizes != "" {
		if o.Sizes, err = ParseSizes(*f.sizes); err != nil {
			return o, fmt.Errorf("--%w", err)
		}
	}
	if *f.Before != "" && o.Seed > 0 {
		return o, fmt.Errorf("--before does not combine with --seed: measure the growth of each build on its own")
	}
	if !*f.Quiet {
		o.Progress = stderr
	}
	return o, nil
}

// shape are the flags given that shape the load (counts, sizes, the
// server), as arguments for another build's bench: not the scenario and
// database (given per run), the output, profiles and work directory.
func (f *Flags) shape() []string {
	var args []string
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "quick", "pg", "clients", "notices", "sizes", "files", "uploaders", "guarantees", "institutions", "workers", "applies", "pickups":
			args = append(args, "--"+fl.Name+"="+fl.Value.String())
		}
	})
	return args
}

func (f *Flags) set(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}
