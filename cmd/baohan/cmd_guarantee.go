package main

import (
	"context"
	"fmt"
	"os"

	"github.com/baohan-dev/baohan/institution"
)

// baohan guarantee verify: ask an institution's verification URL (验真)
// about a guarantee, by number and code or by file. `baohan verify`
// stays the check of a sign.

func init() {
	register(&command{
		Name:    "guarantee verify",
		Summary: "ask an institution whether a guarantee is genuine and its status (验真), by number and code or by OFD file",
		Usage: "guarantee verify --url VERIFY_URL --baohanno NO --code CODE [--json]\n" +
			"       baohan guarantee verify --url VERIFY_URL FILE.ofd [--json]\n\n" +
			"VERIFY_URL is the institution's verification URL, as the guarantee's QR code\n" +
			"carries it without its query (e.g. https://fi.example.cn/verify). With a number\n" +
			"and the 验真码 printed beside it, the answer is the guarantee's status (有效,\n" +
			"已退保, 已注销, 已理赔, 已失效, 已放弃) and terms; with a file, whether the\n" +
			"institution issued it byte for byte and whether its seals hold (the failing\n" +
			"entry named otherwise). Exit 0 when the institution verifies the guarantee\n" +
			"(any status) or the file (issued, seals valid), 1 otherwise.",
		Run: runGuaranteeVerify,
	})
}

func runGuaranteeVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["guarantee verify"])
	u := fs.String("url", "", "the institution's verification URL")
	no := fs.String("baohanno", "", "the guarantee number (保函编号)")
	code := fs.String("code", "", "the verification code (验真码)")
	asJSON := fs.Bool("json", false, "print the institution's answer as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := required("url", *u); err != nil {
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
		if err := required("baohanno", *no, "code", *code); err != nil {
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
		if err := writeJSON(env.Stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprint(env.Stdout, text)
	}
	if !verified {
		return exitError{Code: 1}
	}
	return nil
}
