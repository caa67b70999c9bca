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
		f := bench.RegisterFlags(fs)
		return func(ctx context.Context, pos []string) error {
			if len(pos) > 0 {
				return fmt.Errorf("unexpected argument %q (see --help)", pos[0])
			}
			// The services log warnings to files in the work directory; keep the
			// store's informational lines (migrations) off the terminal.
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			defer slog.SetDefault(prev)

			rep, runErr := f.Run(ctx, env.Stderr)
			if rep != nil {
				rep.Command = "baohan bench " + strings.Join(env.Args, " ")
				if err := writeReport(env.Stdout, *f.JSON, rep); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if *f.Strict && !rep.Pass() {
				return cli.ExitError{Code: 3}
			}
			return nil
		}
	},
}}
