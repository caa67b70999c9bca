package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/baohan-dev/baohan/demo"
	"github.com/baohan-dev/baohan/internal/cli"
)

var demoCommands = []cli.Command{{
	Name: "demo",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		data := fs.String("data", "", "data directory (kept); default: a temporary directory, removed at the end unless --keep")
		keep := fs.Bool("keep", false, "leave everything running after the scenarios and print the console URLs and accounts")
		asJSON := fs.Bool("json", false, "write the result as JSON on stdout (progress still goes to stderr)")
		opening := fs.Duration("opening", 10*time.Second, "how far ahead the main section's bid opening (开标) is set")
		return func(ctx context.Context, _ []string) error {
			if *opening < 2*time.Second || *opening > 10*time.Minute {
				return fmt.Errorf("--opening must be between 2s and 10m, got %s", *opening)
			}
			dir, err := *data, error(nil)
			temp := dir == ""
			if temp {
				if dir, err = os.MkdirTemp("", "baohan-demo-"); err != nil {
					return err
				}
				if !*keep {
					defer os.RemoveAll(dir)
				}
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			// The services log to DIR/demo.log; so do the libraries that use the
			// default logger (migrations), for the time of the demo.
			logFile, err := os.OpenFile(filepath.Join(dir, "demo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			defer logFile.Close()
			logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
			prev := slog.Default()
			slog.SetDefault(logger)
			defer slog.SetDefault(prev)

			out := env.Stdout
			if *asJSON {
				out = io.Discard
			}
			fmt.Fprintf(out, "baohan demo: data in %s (logs in demo.log)\n", dir)
			sys, err := demo.Start(ctx, demo.Options{Dir: dir, Consoles: true, Logger: logger})
			if err != nil {
				return err
			}
			defer sys.Close()
			sys.WriteAddresses(out)
			fmt.Fprintln(out, "exchanges (time since start, caller → callee, interface, applyno, answer, time taken):")

			res, err := demo.Run(ctx, sys, demo.RunOptions{Progress: env.Stderr, TTY: isTerminal(env.Stderr), Exchanges: out, OpeningDelay: *opening})
			if err != nil {
				return err
			}
			if *asJSON {
				if err := res.WriteJSON(env.Stdout); err != nil {
					return err
				}
			} else if err := res.WriteSummary(env.Stdout); err != nil {
				return err
			}
			if *keep {
				sys.WriteAccess(out, temp)
				if *asJSON {
					sys.WriteAccess(env.Stderr, temp)
				}
				<-ctx.Done()
				fmt.Fprintln(env.Stderr, "stopping")
			} else if temp {
				fmt.Fprintln(out, "(the temporary data directory is removed; run with --data DIR to keep the OFD files, --keep to explore the consoles)")
			}
			if !res.OK {
				return cli.ExitError{Code: 1}
			}
			return nil
		}
	},
}}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
