package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/baohan-dev/baohan/protocol"
)

// The protocol tools: compute and check the sign of a request, and check
// a request against the rules of its interface. What integrators run when
// the peer says "sign mismatch".

func init() {
	register(&command{
		Name:    "sign",
		Summary: "print the sign (SM3, 64 lowercase hex) of a JSON request",
		Usage: "sign --secret SECRET [--string] [FILE]\n\n" +
			"Reads the request (one flat JSON object) from FILE or stdin and prints its sign:\n" +
			"SM3 over the fields except sign and empty ones, sorted by key byte-wise, as\n" +
			"key=value joined by &, then &appsecret=SECRET; values exactly as in the JSON.\n" +
			"--string prints the string that is hashed instead. The secret may come from\n" +
			"$BAOHAN_APPSECRET instead of --secret.",
		Run: runSign,
	})
	register(&command{
		Name:    "verify",
		Summary: "check the sign of a JSON request; on a mismatch, say which known signing variant was used",
		Usage: "verify --secret SECRET [FILE]\n\n" +
			"Reads the request from FILE or stdin. Prints ok and exits 0 when its sign is\n" +
			"right (hex case ignored); otherwise prints the expected sign, the sign sent and\n" +
			"the diagnosis (HMAC-SM3, &key=, the secret appended bare, empty fields kept,\n" +
			"case-insensitive sort, numbers re-formatted, ...) and exits 1. The secret may\n" +
			"come from $BAOHAN_APPSECRET instead of --secret.",
		Run: runVerify,
	})
	register(&command{
		Name:    "validate",
		Summary: "check a JSON request against every rule of its interface",
		Usage: "validate --interface NAME [FILE]\n\n" +
			"Reads the request from FILE or stdin and checks every rule of interface NAME\n" +
			"(required fields, lengths in characters, times, decimals, enumerations, the\n" +
			"conditional rules). Prints ok and exits 0, or one line per violation and exits 1.\n" +
			"NAME is one of the 14 interfaces or the 2 optional ones (" + interfaceNames() + "),\n" +
			"or applydata for the decrypted 投保申请数据 of baohanapply.",
		Run: runValidate,
	})
}

func interfaceNames() string {
	names := make([]string, len(protocol.All))
	for k, i := range protocol.All {
		names[k] = string(i)
	}
	return strings.Join(names, ", ")
}

// secretFlag resolves --secret or $BAOHAN_APPSECRET.
func secretFlag(secret string) (string, error) {
	if secret == "" {
		secret = os.Getenv("BAOHAN_APPSECRET")
	}
	if secret == "" {
		return "", errors.New("--secret is required (or set BAOHAN_APPSECRET)")
	}
	return secret, nil
}

func readRequest(env *Env, args []string) (*protocol.Request, error) {
	b, err := readInput(env, args)
	if err != nil {
		return nil, err
	}
	return protocol.ParseRequest(b)
}

func runSign(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["sign"])
	secret := fs.String("secret", "", "the appsecret")
	showString := fs.Bool("string", false, "print the string that is hashed, not the sign")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	s, err := secretFlag(*secret)
	if err != nil {
		return err
	}
	r, err := readRequest(env, pos)
	if err != nil {
		return err
	}
	if *showString {
		fmt.Fprintln(env.Stdout, protocol.SignString(r.Fields, s))
		return nil
	}
	fmt.Fprintln(env.Stdout, protocol.Sign(r.Fields, s))
	return nil
}

func runVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["verify"])
	secret := fs.String("secret", "", "the appsecret")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	s, err := secretFlag(*secret)
	if err != nil {
		return err
	}
	r, err := readRequest(env, pos)
	if err != nil {
		return err
	}
	res := protocol.Verify(r, s)
	if res.OK {
		fmt.Fprintln(env.Stdout, "ok")
		for _, note := range res.Variants {
			fmt.Fprintln(env.Stderr, "note: "+note)
		}
		return nil
	}
	got := res.Got
	if got == "" {
		got = "(none)"
	}
	fmt.Fprintf(env.Stdout, "expected %s\ngot      %s\n%s\n", res.Expected, got, res.Diagnosis())
	return exitError{Code: 1}
}

func runValidate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["validate"])
	name := fs.String("interface", "", "the interface: "+interfaceNames()+", or applydata")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *name == "" {
		return errors.New("--interface is required")
	}
	b, err := readInput(env, pos)
	if err != nil {
		return err
	}
	var vs []protocol.Violation
	if *name == "applydata" {
		_, vs = protocol.ValidateApplyData(b)
	} else {
		i, ok := protocol.Lookup(*name)
		if !ok {
			msg := fmt.Sprintf("unknown interface %q", *name)
			if s, ok := protocol.Suggest(*name); ok {
				msg += fmt.Sprintf(" (did you mean %q?)", string(s))
			}
			return errors.New(msg + "; one of " + interfaceNames() + ", or applydata")
		}
		r, err := protocol.ParseRequest(b)
		if err != nil {
			return err
		}
		vs = protocol.Validate(i, r)
	}
	if len(vs) == 0 {
		fmt.Fprintln(env.Stdout, "ok")
		return nil
	}
	for _, v := range vs {
		fmt.Fprintln(env.Stdout, v.Message)
	}
	return exitError{Code: 1}
}
