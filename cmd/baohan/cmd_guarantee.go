package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/internal/cli"
)

// guaranteeCommands ask an institution's verification URL (验真) about a
// guarantee; `baohan verify` stays the check of a sign.
var guaranteeCommands = []cli.Command{{
	Name: "guarantee verify",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		u := fs.String("url", "", "the institution's verification URL")
		no := fs.String("baohanno", "", "the guarantee number (保函编号)")
		code := fs.String("code", "", "the verification code (验真码)")
		asJSON := fs.Bool("json", false, "print the institution's answer as JSON")
		return func(ctx context.Context, pos []string) error {
			if err := cli.Required("url", *u); err != nil {
				return err
			}
			var (
				out      any
				text     string
				verified bool
			)
			switch {
			case len(pos) == 1 && *no == "" && *code == "":
				doc, err := os.ReadFile(pos[0])
				if err != nil {
					return err
				}
				f, err := institution.VerifyFileRemote(ctx, nil, *u, doc)
				if err != nil {
					return err
				}
				out, text, verified = f, f.Summary(), f.Verified()
			case len(pos) == 0:
				if err := cli.Required("baohanno", *no, "code", *code); err != nil {
					return err
				}
				v, err := institution.VerifyRemote(ctx, nil, *u, *no, *code)
				if err != nil {
					return err
				}
				out, text, verified = v, v.Summary(), true
			default:
				return fmt.Errorf("give either --baohanno and --code, or one FILE.ofd")
			}
			if *asJSON {
				if err := cli.WriteJSON(env.Stdout, out); err != nil {
					return err
				}
			} else {
				fmt.Fprint(env.Stdout, text)
			}
			return cli.ExitIf(!verified)
		}
	},
}}
