package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/baohan-dev/baohan/demo"
)

func init() {
	register(&command{
		Name:    "demo",
		Summary: "run the whole system in one process: platform, institution, consoles, CA agent, and every interface end to end",
		Usage: "demo [--data DIR] [--keep] [--json] [--opening 10s]\n\n" +
			"Starts a platform and an institution on 127.0.0.1 (embedded SQLite in a temporary directory, or DIR),\n" +
			"their web consoles, the bidder's CA agent and a test CA, then runs six scenarios that between them use\n" +
			"all 14 interfaces: a guarantee from application to plaintext guarantee and invoice, a refusal, a\n" +
			"withdrawal, give-ups at both sides, a cancellation and a claim. Prints one line per exchange, writes\n" +
			"the issued OFD guarantees into the data directory, verifies their seals, and exits 0 only when every\n" +
			"step checked out. With --keep everything stays up for the consoles until interrupted.",
		Run: runDemo,
	})
}

func runDemo(ctx context.Context, env *Env, args []string) error {
	c := commands["demo"]
	fs := newFlags(env, c)
	data := fs.String("data", "", "data directory (kept); default: a temporary directory, removed at the end unless --keep")
	keep := fs.Bool("keep", false, "leave everything running after the scenarios and print the console URLs and accounts")
	asJSON := fs.Bool("json", false, "write the result as JSON on stdout (progress still goes to stderr)")
	opening := fs.Duration("opening", 10*time.Second, "how far ahead the main section's bid opening (开标) is set")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if *opening < 2*time.Second || *opening > 10*time.Minute {
		return fmt.Errorf("--opening must be between 2s and 10m, got %s", *opening)
	}
	dir := *data
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
	fmt.Fprintf(out, "  platform     %s  (%s)\n  institution  %s  (%s)\n  CA agent     %s  (bidder %s; unattended: signs without asking)\n  test CA      %s\n\n",
		sys.PlatformURL, demo.PlatformName, sys.InstitutionURL, demo.InstitutionName, sys.AgentURL, demo.MainBidder.Name, sys.CAFile)
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
		printKeep(out, sys, temp)
		if *asJSON {
			printKeep(env.Stderr, sys, temp)
		}
		<-ctx.Done()
		fmt.Fprintln(env.Stderr, "stopping")
	} else if temp {
		fmt.Fprintln(out, "(the temporary data directory is removed; run with --data DIR to keep the OFD files, --keep to explore the consoles)")
	}
	if !res.OK {
		return exitError{Code: 1}
	}
	return nil
}

// printKeep prints what a person needs to explore the running system.
func printKeep(w io.Writer, sys *demo.System, temp bool) {
	fmt.Fprintf(w, "\nEverything keeps running; press Ctrl-C to stop.\n\n")
	fmt.Fprintf(w, "platform console      %s/console/   (bidders log in with the CA agent at %s)\n", sys.PlatformURL, sys.AgentURL)
	fmt.Fprintf(w, "institution console   %s/console/\n", sys.InstitutionURL)
	for _, console := range []string{"platform", "institution"} {
		for _, a := range sys.Accounts[console] {
			fmt.Fprintf(w, "  %-12s %-9s password %s\n", console, a.Username, a.Password)
		}
	}
	fmt.Fprintf(w, "\nadmin APIs (Authorization: Bearer TOKEN)\n  platform     %s/api/  token %s\n  institution  %s/api/  token %s\n",
		sys.PlatformURL, sys.PlatformAdminToken, sys.InstitutionURL, sys.InstitutionAdminToken)
	fmt.Fprintf(w, "\npeer pair  appkey %s  appsecret %s  platformcode %s\n", demo.AppKey, sys.AppSecret, demo.PlatformCode)
	fmt.Fprintf(w, "test CA and the bidders' keys and certificates: %s\n", filepath.Dir(sys.CAFile))
	if temp {
		fmt.Fprintf(w, "data directory %s is left in place; remove it when done\n", sys.Dir)
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
