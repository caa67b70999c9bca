package main

import (
	"context"
	"flag"
	"strings"

	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/web/caagent"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var webCommands = []cli.Command{{
	Name: "ca-agent",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
		var s caagent.Setup
		fs.StringVar(&s.KeyFile, "key", "", "the bidder's SM2 private key (PEM; stands in for the USB key)")
		fs.StringVar(&s.CertFile, "cert", "", "the bidder's certificate (PEM)")
		fs.StringVar(&s.Addr, "addr", "127.0.0.1:17650", "loopback address to answer on")
		fs.StringVar(&s.Layout, "layout", "c1c3c2", "SM2 ciphertext layout of digital envelopes: c1c3c2 | c1c2c3 | asn1")
		fs.StringVar(&s.CreditCodeIn, "credit-code-in", "serialnumber", "where the bidder's CA puts the 统一社会信用代码 in the certificate: serialnumber | cn | ou | ext:OID")
		fs.Var((*stringList)(&s.Origins), "origin", "an origin (scheme://host:port) whose pages may use the agent; repeat for the platform and each institution")
		fs.BoolVar(&s.Unattended, "unattended", false, "sign and open without asking the person (demos and tests only; by default the agent asks on its terminal before each use of the key)")
		fs.DurationVar(&s.ConfirmTimeout, "confirm-timeout", caagent.DefaultConfirmTimeout, "how long the agent waits for the person to allow a use of the key")
		return func(ctx context.Context, _ []string) error {
			return s.Serve(ctx, env.Stdin, env.Stdout, env.Stderr)
		}
	},
}}
