// Package cli is the machinery of the baohan command, apart from what
// its commands do: a table of commands, each defining its flags and what
// runs once they are parsed (flags may follow the positional arguments);
// dispatch on the longest matching command name ("ca issue"); the
// summaries and usages from a prose help file; one line on stderr per
// failure and the exit codes.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Command is one command. Name may hold a space for nested commands
// ("ca init", "ofd verify").
type Command struct {
	Name string
	// Summary (one line for the command list) and Usage (shown by --help
	// after "usage: PROGRAM ") come from the help file (ParseHelp).
	Summary, Usage string
	// Args: the command takes positional arguments; without it any is
	// refused.
	Args bool
	// Flags defines the command's flags on fs and returns what runs once
	// they are parsed.
	Flags func(env *Env, fs *flag.FlagSet) Action
}

// Action runs a command with its positional arguments. It returns an
// error to print as one line on stderr (exit 1), or an ExitError for a
// chosen code with no message.
type Action func(ctx context.Context, args []string) error

// Env carries the process's streams, so that commands are testable, and
// the command's arguments as given (after its name).
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Args   []string
}

// ExitError ends the process with Code without printing anything more.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// ExitIf is ExitError{Code: 1} when failed, else nil.
func ExitIf(failed bool) error {
	if failed {
		return ExitError{Code: 1}
	}
	return nil
}

// Set is a program's commands.
type Set struct {
	program, intro string
	commands       map[string]*Command
}

// NewSet indexes the tables of commands by name, each with its summary
// and usage from help (ParseHelp). intro heads the command list. A name
// twice or without help is a programming error: it panics.
func NewSet(program, intro string, help map[string][2]string, tables ...[]Command) *Set {
	s := &Set{program: program, intro: intro, commands: map[string]*Command{}}
	for _, t := range tables {
		for i := range t {
			c := &t[i]
			h, ok := help[c.Name]
			if _, dup := s.commands[c.Name]; dup || !ok {
				panic("cli: command defined twice or without help: " + c.Name)
			}
			c.Summary, c.Usage, s.commands[c.Name] = h[0], h[1], c
		}
	}
	return s
}

// Lookup returns the command named name.
func (s *Set) Lookup(name string) (*Command, bool) {
	c, ok := s.commands[name]
	return c, ok
}

// ParseHelp reads a help file: sections "### NAME", then the one-line
// summary, then the usage; everything before the first section is a
// comment. values fills in what the text names (e.g. "{x.Default}").
func ParseHelp(text string, values *strings.Replacer) map[string][2]string {
	m := map[string][2]string{}
	sections := strings.Split(text, "\n### ")
	for _, s := range sections[1:] {
		name, rest, _ := strings.Cut(s, "\n")
		summary, usage, _ := strings.Cut(rest, "\n")
		m[name] = [2]string{summary, values.Replace(strings.TrimRight(usage, "\n"))}
	}
	return m
}

// Run dispatches args to a command and returns the exit code: 0, 1 for
// a failure (one line on stderr), 2 for no or an unknown command, or the
// code of an ExitError.
func (s *Set) Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		s.printCommands(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var c *Command
	n := 0
	for i := len(args); i > 0 && c == nil; i-- {
		c, n = s.commands[strings.Join(args[:i], " ")], i
	}
	if c == nil {
		// A group name alone ("baohan ca") lists its subcommands.
		if sub := s.names(args[0] + " "); len(sub) > 0 {
			fmt.Fprintf(env.Stderr, "%s %s: choose a subcommand:\n", s.program, args[0])
			s.list(env.Stderr, sub)
			return 2
		}
		fmt.Fprintf(env.Stderr, "%s: unknown command %q (try %s --help)\n", s.program, strings.Join(args, " "), s.program)
		return 2
	}
	err := s.run(ctx, c, env, args[n:])
	var ee ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.Code
	default:
		msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
		fmt.Fprintf(env.Stderr, "%s %s: %s\n", s.program, c.Name, msg)
		return 1
	}
}

// run parses the flags of c (--help prints the usage and the flags to
// env.Stderr) and runs it.
func (s *Set) run(ctx context.Context, c *Command, env *Env, args []string) error {
	env.Args = args
	fs := flag.NewFlagSet(s.program+" "+c.Name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: %s %s\n\n%s\n", s.program, c.Usage, c.Summary)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(env.Stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	act := c.Flags(env, fs)
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
func (s *Set) names(prefix string) []string {
	var out []string
	for name := range s.commands {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Set) list(w io.Writer, names []string) {
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s %s\n", n, s.commands[n].Summary)
	}
}

func (s *Set) printCommands(w io.Writer) {
	fmt.Fprintln(w, s.intro)
	fmt.Fprintf(w, "\nusage: %s COMMAND [flags]\n\ncommands:\n", s.program)
	s.list(w, s.names(""))
	fmt.Fprintf(w, "\n%s COMMAND --help shows a command's flags.\n", s.program)
}

// Required checks that each flag of the name, value pairs is set.
func Required(pairs ...string) error {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("--%s is required", pairs[i])
		}
	}
	return nil
}

// WriteJSON writes v as indented JSON, with <, > and & as they are.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// MaxInput bounds what ReadInput reads.
const MaxInput = 64 << 20

// ReadInput reads the single optional positional argument FILE, or stdin
// when there is none or it is "-".
func ReadInput(env *Env, args []string) ([]byte, error) {
	if len(args) > 1 {
		return nil, fmt.Errorf("expected at most one FILE, got %d arguments", len(args))
	}
	var r io.Reader = env.Stdin
	name := "stdin"
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, args[0]
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > MaxInput {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, MaxInput)
	}
	return b, nil
}

// InputName names the input of ReadInput in messages: FILE, or stdin.
func InputName(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "stdin"
}
