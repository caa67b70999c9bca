// Command baohan is the single binary of the project: the platform and
// institution services, the demo, the conformance kit and the
// troubleshooting tools, as subcommands.
//
// Each subcommand lives in its own file (cmd_*.go) and registers itself in
// init with register. Wiring only: the logic lives in the packages.
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
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. Name may hold a space for nested commands
// ("ca init", "ofd verify"): the longest registered prefix of the
// arguments wins.
type command struct {
	Name    string
	Summary string // one line for the command list
	Usage   string // shown by --help, after "usage: baohan "
	// Run gets the arguments after the command name. It returns an error
	// to print as one line on stderr (exit 1), or an exitError for a
	// chosen code with no message.
	Run func(ctx context.Context, env *Env, args []string) error
}

// Env carries the process's streams so that commands are testable.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// exitError ends the process with Code without printing anything more.
type exitError struct{ Code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("baohan: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// newFlags returns a FlagSet for c whose --help prints the usage and the
// flags to env.Stderr.
func newFlags(env *Env, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("baohan "+c.Name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: baohan %s\n\n%s\n", c.Usage, c.Summary)
		if hasFlags(fs) {
			fmt.Fprintln(env.Stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args with fs, allowing flags after positional
// arguments (baohan ofd verify FILE --json). It returns the positional
// arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseNone is parseFlags for a command that takes no positional
// arguments.
func parseNone(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	return err
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

// readFlagFile reads the file given as --flag and parses it; errors name
// the flag, and the file when it does not parse.
func readFlagFile[T any](flag, path string, parse func([]byte) (T, error)) (T, error) {
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		return v, fmt.Errorf("--%s: %w", flag, err)
	}
	if v, err = parse(b); err != nil {
		return v, fmt.Errorf("--%s %s: %w", flag, path, err)
	}
	return v, nil
}

// writeJSON writes v as indented JSON, with <, > and & as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
	for i := len(args); i > 0; i-- {
		if cc, ok := commands[strings.Join(args[:i], " ")]; ok {
			c, n = cc, i
			break
		}
	}
	if c == nil {
		// A group name alone ("baohan ca") lists its subcommands.
		if sub := subcommands(args[0]); len(sub) > 0 {
			fmt.Fprintf(env.Stderr, "baohan %s: choose a subcommand:\n", args[0])
			for _, s := range sub {
				fmt.Fprintf(env.Stderr, "  %-28s %s\n", s.Name, s.Summary)
			}
			return 2
		}
		fmt.Fprintf(env.Stderr, "baohan: unknown command %q (try baohan --help)\n", strings.Join(args, " "))
		return 2
	}
	err := c.Run(ctx, env, args[n:])
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.Code
	default:
		msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
		fmt.Fprintf(env.Stderr, "baohan %s: %s\n", c.Name, msg)
		return 1
	}
}

func subcommands(group string) []*command {
	var out []*command
	for name, c := range commands {
		if strings.HasPrefix(name, group+" ") {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "baohan: electronic bid guarantee (电子投标保函) platform and institution, 国密 throughout.")
	fmt.Fprintln(w, "\nusage: baohan COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nbaohan COMMAND --help shows a command's flags.")
}
