package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/inspect"
	"github.com/baohan-dev/baohan/ofd/render"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

// The OFD tools: verify the seals of a guarantee, show what a document
// holds, make a sealed sample, draw a page.
var ofdCommands = []cli.Command{{
	Name: "ofd verify",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		rootsFile := fs.String("roots", "", "PEM file of trusted CA certificates; enforces chains and validity")
		asJSON := fs.Bool("json", false, "print the full report as JSON")
		return func(ctx context.Context, pos []string) error {
			var roots *gm.TrustRoots
			if *rootsFile != "" {
				var err error
				if roots, err = gm.LoadTrustRoots(*rootsFile); err != nil {
					return fmt.Errorf("--roots: %w", err)
				}
			}
			doc, err := cli.ReadInput(env, pos)
			if err != nil {
				return err
			}
			v, err := inspect.Verify(cli.InputName(pos), doc, roots.Pool())
			if err != nil {
				return err
			}
			if *asJSON {
				err = cli.WriteJSON(env.Stdout, v)
			} else {
				err = v.WriteText(env.Stdout)
			}
			if err != nil {
				return err
			}
			return cli.ExitIf(!v.OK)
		}
	},
}, {
	Name: "ofd info",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		asJSON := fs.Bool("json", false, "print as JSON")
		noText := fs.Bool("no-text", false, "do not print the pages' text")
		return func(ctx context.Context, pos []string) error {
			doc, err := cli.ReadInput(env, pos)
			if err != nil {
				return err
			}
			in, err := inspect.Describe(cli.InputName(pos), doc, !*noText)
			if err != nil {
				return err
			}
			if *asJSON {
				return cli.WriteJSON(env.Stdout, in)
			}
			return in.WriteText(env.Stdout)
		}
	},
}, {
	Name: "ofd sample",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		dir := fs.String("dir", "", "the test CA directory (from baohan ca init)")
		outFile := fs.String("out", "", "the OFD file to write")
		plaintext := fs.Bool("plaintext", false, "make the merged plaintext guarantee (filetype 2)")
		instName := fs.String("institution", "示例融资担保有限公司", "the institution's name (certificate CN and file name in CA_DIR)")
		bidderName := fs.String("bidder", "示例建设工程有限公司", "the bidder's name (certificate CN and file name in CA_DIR)")
		return func(ctx context.Context, _ []string) error {
			if err := cli.Required("dir", *dir, "out", *outFile); err != nil {
				return err
			}
			doc, parties, issued, err := guarantee.SampleFromCA(*dir, *instName, *bidderName, time.Now().In(ses.CST), *plaintext)
			for _, s := range issued {
				fmt.Fprintf(env.Stderr, "issued %s\n", s)
			}
			if err != nil {
				return err
			}
			if err := os.WriteFile(*outFile, doc, 0o644); err != nil {
				return err
			}
			form := "ciphertext guarantee (filetype 1)"
			if *plaintext {
				form = "plaintext guarantee merged with the sealed ciphertext one (filetype 2)"
			}
			fmt.Fprintf(env.Stdout, "wrote %s: %s, %d bytes, sealed by %s, agreement signed by %s attached\n", *outFile, form, len(doc),
				parties[0].Cert.Subject.CommonName, parties[1].Cert.Subject.CommonName)
			fmt.Fprintf(env.Stdout, "check it: baohan ofd verify %s --roots %s\n", *outFile, filepath.Join(*dir, pki.CACertFile))
			return nil
		}
	},
}, {
	Name: "ofd render",
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		outFile := fs.String("out", "", "output file: .png or .svg")
		page := fs.Int("page", 1, "page number, from 1")
		dpi := fs.Float64("dpi", render.DefaultDPI, "PNG resolution")
		return func(ctx context.Context, pos []string) error {
			if err := cli.Required("out", *outFile); err != nil {
				return err
			}
			doc, err := cli.ReadInput(env, pos)
			if err != nil {
				return err
			}
			var out []byte
			switch ext := strings.ToLower(filepath.Ext(*outFile)); ext {
			case ".svg":
				out, err = render.SVG(doc, *page-1)
			case ".png":
				if *dpi <= 0 || *dpi > 1200 {
					return fmt.Errorf("--dpi %v: between 1 and 1200", *dpi)
				}
				out, err = render.PNG(doc, *page-1, *dpi)
			default:
				return fmt.Errorf("--out %s: the extension must be .png or .svg", *outFile)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", cli.InputName(pos), err)
			}
			if err := os.WriteFile(*outFile, out, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "wrote %s (page %d, %d bytes)\n", *outFile, *page, len(out))
			return nil
		}
	},
}}
