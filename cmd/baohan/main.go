// Command baohan is the single binary of the project: the platform and
// institution services, the demo, the conformance kit and the
// troubleshooting tools, as subcommands.
//
// Wiring only: each cmd_<area>.go holds a table of its subcommands (name,
// help, flags) and calls the packages that do the work; main.go
// dispatches to them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand. Name may hold a space for nested commands
// ("ca init", "ofd verify"): the longest known prefix of the arguments
// wins.
type command struct {
	Name string
	// Summary (one line for the command list) and Usage (shown by --help,
	// after "usage: baohan ") come from help.txt.
	Summary, Usage string
	// Args: the command takes positional arguments (flags may follow
	// them: baohan ofd verify FILE --json); without it any is refused.
	Args bool
	// Flags defines the command's flags on fs and returns what runs once
	// they are parsed.
	Flags func(env *Env, fs *flag.FlagSet) action
}

// action runs a command with its positional arguments. It returns an
// error to print as one line on stderr (exit 1), or an exitError for a
// chosen code with no message.
type action func(ctx context.Context, args []string) error

// Env carries the process's streams so that commands are testable, and
// the command's arguments as given (after its name).
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Args   []string
}

// exitError ends the process with Code without printing anything more.
type exitError struct{ Code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// exitIf is exitError{Code: 1} when failed.
func exitIf(failed bool) error {
	if failed {
		return exitError{Code: 1}
	}
	return nil
}

// commands are all subcommands by name.
var commands = index(protocolCommands, cryptoCommands, ofdCommands, serviceCommands, webCommands,
	auditCommands, conformanceCommands, benchCommands, demoCommands)

// index gives each command its help (help.txt) and indexes them by name.
func index(tables ...[]command) map[string]*command {
	m, help := map[string]*command{}, helpSections()
	for _, t := range tables {
		for i := range t {
			c := &t[i]
			h, ok := help[c.Name]
			if _, dup := m[c.Name]; dup || !ok {
				panic("baohan: command defined twice or without help: " + c.Name)
			}
			c.Summary, c.Usage, m[c.Name] = h[0], h[1], c
		}
	}
	return m
}

// required checks that each flag of the name, value pairs is set.
func required(pairs ...string) error {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("--%s is required", pairs[i])
		}
	}
	return nil
}

// writeJSON writes v as indented JSON, with <, > and & as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeReport writes a report of bench or the conformance kit as JSON or
// as a table.
func writeReport(w io.Writer, asJSON bool, r interface {
	WriteJSON(io.Writer) error
	WriteTable(io.Writer) error
}) error {
	if asJSON {
		return r.WriteJSON(w)
	}
	return r.WriteTable(w)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a command and returns the exit code.
func run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printCommands(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var c *command
	n := 0
	for i := len(args); i > 0 && c == nil; i-- {
		c, n = commands[strings.Join(args[:i], " ")], i
	}
	if c == nil {
		// A group name alone ("baohan ca") lists its subcommands.
		if sub := names(args[0] + " "); len(sub) > 0 {
			fmt.Fprintf(env.Stderr, "baohan %s: choose a subcommand:\n", args[0])
			list(env.Stderr, sub)
			return 2
		}
		fmt.Fprintf(env.Stderr, "baohan: unknown command %q (try baohan --help)\n", strings.Join(args, " "))
		return 2
	}
	err := c.run(ctx, env, args[n:])
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.Code
	default:
		msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
		fmt.Fprintf(env.Stderr, "baohan %s: %s\n", c.Name, msg)
		return 1
	}
}

// run parses the flags of c (--help prints the usage and the flags to
// env.Stderr) and runs it.
func (c *command) run(ctx context.Context, env *Env, args []string) error {
	env.Args = args
	fs := flag.NewFlagSet("baohan "+c.Name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: baohan %s\n\n%s\n", c.Usage, c.Summary)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(env.Stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	act := c.Flags(env, fs)
	// Flags may come after positional arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if !c.Args && len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	return act(ctx, pos)
}

// names are the sorted names of the commands that start with prefix.
func names(prefix string) []string {
	var out []string
	for name := range commands {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func list(w io.Writer, names []string) {
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s %s\n", n, commands[n].Summary)
	}
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "baohan: electronic bid guarantee (电子投标保函) platform and institution, 国密 throughout.")
	fmt.Fprintln(w, "\nusage: baohan COMMAND [flags]\n\ncommands:")
	list(w, names(""))
	fmt.Fprintln(w, "\nbaohan COMMAND --help shows a command's flags.")
}
