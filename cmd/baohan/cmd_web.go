package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/web/caagent"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var webCommands = []command{{
	Name:    "ca-agent",
	Summary: "bidder-side CA client on 127.0.0.1: opens envelopes, signs challenges and the agreement for the consoles",
	Usage: "ca-agent --key BIDDER.key.pem --cert BIDDER.cert.pem [--addr 127.0.0.1:17650] --origin URL [--origin URL...] [--unattended]\n\n" +
		"Before each use of the key (a signature, an envelope opened, the agreement signed) the agent shows on\n" +
		"this terminal what it is asked (the purpose, the page's origin, the application) and a code: type the\n" +
		"code to allow it, no to refuse; unanswered within --confirm-timeout it is refused. --unattended signs\n" +
		"and opens without asking: for demos and tests only, never with a bidder's real key.",
	Flags: func(env *Env, fs *flag.FlagSet) action {
		keyFile := fs.String("key", "", "the bidder's SM2 private key (PEM; stands in for the USB key)")
		certFile := fs.String("cert", "", "the bidder's certificate (PEM)")
		addr := fs.String("addr", "127.0.0.1:17650", "loopback address to answer on")
		layout := fs.String("layout", "c1c3c2", "SM2 ciphertext layout of digital envelopes: c1c3c2 | c1c2c3 | asn1")
		codeIn := fs.String("credit-code-in", "serialnumber", "where the bidder's CA puts the 统一社会信用代码 in the certificate: serialnumber | cn | ou | ext:OID")
		var origins stringList
		fs.Var(&origins, "origin", "an origin (scheme://host:port) whose pages may use the agent; repeat for the platform and each institution")
		unattended := fs.Bool("unattended", false, "sign and open without asking the person (demos and tests only; by default the agent asks on its terminal before each use of the key)")
		confirmTimeout := fs.Duration("confirm-timeout", caagent.DefaultConfirmTimeout, "how long the agent waits for the person to allow a use of the key")
		return func(ctx context.Context, _ []string) error {
			if *keyFile == "" || *certFile == "" {
				return errors.New("--key and --cert are required")
			}
			if *confirmTimeout <= 0 {
				return errors.New("--confirm-timeout must be positive (e.g. 2m)")
			}
			l, err := gm.ParseCipherLayout(*layout)
			if err != nil {
				return fmt.Errorf("--layout: %w", err)
			}
			in, err := pki.ParseCreditCodeIn(*codeIn)
			if err != nil {
				return fmt.Errorf("--credit-code-in: %w", err)
			}
			key, cert, err := caagent.LoadFiles(*keyFile, *certFile)
			if err != nil {
				return err
			}
			code, err := pki.CreditCode(cert, in)
			if err != nil {
				code = "no credit code: " + err.Error()
			}
			logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
			cfg := caagent.Config{
				Key: key, Cert: cert, Origins: origins, Layout: l, CreditCodeIn: in,
				Logger: logger, ConfirmTimeout: *confirmTimeout, Unattended: *unattended,
			}
			if !*unattended {
				cfg.Confirm = caagent.TerminalConfirm(env.Stdin, env.Stdout)
			}
			agent, err := caagent.New(cfg)
			if err != nil {
				return err
			}
			host, _, err := net.SplitHostPort(*addr)
			if err != nil {
				return fmt.Errorf("--addr: %w", err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fmt.Errorf("--addr %s: the CA agent answers on a loopback address only (127.0.0.1:PORT)", *addr)
			}
			ln, err := net.Listen("tcp", *addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "CA agent for %s (%s) at http://%s, for pages of %s\n",
				cert.Subject.CommonName, code, ln.Addr(), strings.Join(origins, ", "))
			if *unattended {
				fmt.Fprintln(env.Stdout, "unattended: signs and opens without asking (--unattended; for demos and tests only)")
			} else {
				fmt.Fprintf(env.Stdout, "asks here before each use of the key: type the code shown to allow it, no to refuse (%s to answer)\n", *confirmTimeout)
			}
			return agent.Serve(ctx, ln)
		}
	},
}}
