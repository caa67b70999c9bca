package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// set is a program with a command that echoes its flag and arguments, a
// group of two, and one that fails with each kind of error.
func set() *Set {
	help := ParseHelp("comment\n\n### echo\nsay it\necho [--loud] [ARG...]\n\nSays {what}.\n\n### ca init\nmake a CA\nca init\n\n### ca issue\nissue\nca issue\n\n### fail\nfail\nfail CODE\n",
		strings.NewReplacer("{what}", "the arguments"))
	none := func(env *Env, fs *flag.FlagSet) Action { return func(context.Context, []string) error { return nil } }
	return NewSet("prog", "prog: a test program.", help, []Command{{
		Name: "echo", Args: true,
		Flags: func(env *Env, fs *flag.FlagSet) Action {
			loud := fs.Bool("loud", false, "shout")
			return func(_ context.Context, args []string) error {
				s := strings.Join(args, " ")
				if *loud {
					s = strings.ToUpper(s)
				}
				_, err := env.Stdout.Write([]byte(s + "|" + strings.Join(env.Args, " ") + "\n"))
				return err
			}
		},
	}, {Name: "ca init", Flags: none}, {Name: "ca issue", Flags: none}}, []Command{{
		Name: "fail", Args: true,
		Flags: func(env *Env, fs *flag.FlagSet) Action {
			return func(_ context.Context, args []string) error {
				switch args[0] {
				case "3":
					return ExitError{Code: 3}
				case "1":
					return ExitIf(true)
				}
				return errors.New("went wrong\nin two lines")
			}
		},
	}})
}

func TestRun(t *testing.T) {
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string // parts of them
	}{
		{nil, 2, "prog: a test program.\n\nusage: prog COMMAND [flags]\n\ncommands:\n  ca init                      make a CA\n", ""},
		{[]string{"--help"}, 0, "  fail                         fail\n\nprog COMMAND --help shows a command's flags.\n", ""},
		{[]string{"echo", "a", "--loud", "b"}, 0, "A B|a --loud b\n", ""},
		{[]string{"echo", "--", "--loud"}, 0, "--loud|-- --loud\n", ""},
		{[]string{"echo", "--help"}, 0, "", "usage: prog echo [--loud] [ARG...]\n\nSays the arguments.\n\nsay it\n\nflags:\n  -loud\n"},
		{[]string{"echo", "--quiet"}, 1, "", "prog echo: flag provided but not defined: -quiet\n"},
		{[]string{"ca", "init", "x"}, 1, "", "prog ca init: unexpected argument \"x\"\n"},
		{[]string{"ca", "init", "--help"}, 0, "", "usage: prog ca init\n\nmake a CA\n"},
		{[]string{"ca"}, 2, "", "prog ca: choose a subcommand:\n  ca init                      make a CA\n  ca issue                     issue\n"},
		{[]string{"cb", "x"}, 2, "", "prog: unknown command \"cb x\" (try prog --help)\n"},
		{[]string{"fail", "3"}, 3, "", ""},
		{[]string{"fail", "1"}, 1, "", ""},
		{[]string{"fail", "x"}, 1, "", "prog fail: went wrong; in two lines\n"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := set().Run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, tt.args)
		if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) ||
			tt.stderr == "" && tt.code != 2 && errb.Len() > 0 {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %q", tt.args, code, out.String(), errb.String())
		}
	}
}

func TestNewSetRefusesMistakes(t *testing.T) {
	help := map[string][2]string{"a": {"A", "a"}}
	for name, tables := range map[string][][]Command{
		"twice":        {{{Name: "a"}}, {{Name: "a"}}},
		"without help": {{{Name: "b"}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			NewSet("p", "", help, tables...)
		}()
	}
}

func TestReadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(file, []byte("from the file"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := &Env{Stdin: strings.NewReader("from stdin")}
	for _, tt := range []struct {
		args      []string
		want, err string
		name      string
	}{
		{nil, "from stdin", "", "stdin"},
		{[]string{"-"}, "from stdin", "", "-"},
		{[]string{file}, "from the file", "", file},
		{[]string{file + ".no"}, "", "no such file", file + ".no"},
		{[]string{"a", "b"}, "", "expected at most one FILE, got 2 arguments", "stdin"},
	} {
		env.Stdin = strings.NewReader("from stdin")
		b, err := ReadInput(env, tt.args)
		if string(b) != tt.want || (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) || InputName(tt.args) != tt.name {
			t.Errorf("%q: %q %v, name %q", tt.args, b, err, InputName(tt.args))
		}
	}
	if _, err := ReadInput(&Env{Stdin: bytes.NewReader(make([]byte, MaxInput+1))}, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("too large: %v", err)
	}
}

func TestRequiredAndWriteJSON(t *testing.T) {
	if err := Required("a", "x", "b", ""); err == nil || err.Error() != "--b is required" {
		t.Errorf("Required: %v", err)
	}
	if err := Required("a", "x"); err != nil {
		t.Error(err)
	}
	var b strings.Builder
	if err := WriteJSON(&b, map[string]string{"k": "<&>"}); err != nil || b.String() != "{\n  \"k\": \"<&>\"\n}\n" {
		t.Errorf("WriteJSON: %q %v", b.String(), err)
	}
}
