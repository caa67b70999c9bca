package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/protocol"
)

// The protocol tools: compute and check the sign of a request, and check
// a request against the rules of its interface. What integrators run when
// the peer says "sign mismatch".

var protocolCommands = []cli.Command{{
	Name: "sign",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		secret := fs.String("secret", "", "the appsecret")
		showString := fs.Bool("string", false, "print the string that is hashed, not the sign")
		return func(ctx context.Context, pos []string) error {
			r, s, err := readSigned(env, *secret, pos)
			if err != nil {
				return err
			}
			if *showString {
				_, err = fmt.Fprintln(env.Stdout, protocol.SignString(r.Fields, s))
			} else {
				_, err = fmt.Fprintln(env.Stdout, protocol.Sign(r.Fields, s))
			}
			return err
		}
	},
}, {
	Name: "verify",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		secret := fs.String("secret", "", "the appsecret")
		return func(ctx context.Context, pos []string) error {
			r, s, err := readSigned(env, *secret, pos)
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
			return cli.ExitError{Code: 1}
		}
	},
}, {
	Name: "validate",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		name := fs.String("interface", "", "the interface: "+interfaceNames()+", or applydata")
		return func(ctx context.Context, pos []string) error {
			if *name == "" {
				return errors.New("--interface is required")
			}
			b, err := cli.ReadInput(env, pos)
			if err != nil {
				return err
			}
			vs, err := protocol.ValidateNamed(*name, b)
			if err != nil {
				return err
			}
			for _, v := range vs {
				fmt.Fprintln(env.Stdout, v.Message)
			}
			if len(vs) == 0 {
				fmt.Fprintln(env.Stdout, "ok")
			}
			return cli.ExitIf(len(vs) > 0)
		}
	},
}}

// interfaceNames lists the interfaces in the help.
var interfaceNames = protocol.InterfaceNames

// readSigned reads the request of FILE or stdin and the secret of
// --secret or $BAOHAN_APPSECRET.
func readSigned(env *Env, secret string, pos []string) (*protocol.Request, string, error) {
	if secret == "" {
		secret = os.Getenv("BAOHAN_APPSECRET")
	}
	if secret == "" {
		return nil, "", errors.New("--secret is required (or set BAOHAN_APPSECRET)")
	}
	b, err := cli.ReadInput(env, pos)
	if err != nil {
		return nil, "", err
	}
	r, err := protocol.ParseRequest(b)
	return r, secret, err
}
