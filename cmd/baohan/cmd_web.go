package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/web/caagent"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func init() {
	register(&command{
		Name:    "ca-agent",
		Summary: "bidder-side CA client on 127.0.0.1: opens envelopes, signs login challenges and the agreement for the consoles",
		Usage:   "ca-agent --key BIDDER.key.pem --cert BIDDER.cert.pem [--addr 127.0.0.1:17650] --origin URL [--origin URL...]",
		Run:     runCAAgent,
	})
}

func runCAAgent(ctx context.Context, env *Env, args []string) error {
	c := commands["ca-agent"]
	fs := newFlags(env, c)
	keyFile := fs.String("key", "", "the bidder's SM2 private key (PEM; stands in for the USB key)")
	certFile := fs.String("cert", "", "the bidder's certificate (PEM)")
	addr := fs.String("addr", "127.0.0.1:17650", "loopback address to answer on")
	layout := fs.String("layout", "c1c3c2", "SM2 ciphertext layout of digital envelopes: c1c3c2 | c1c2c3 | asn1")
	var origins stringList
	fs.Var(&origins, "origin", "an origin (scheme://host:port) whose pages may use the agent; repeat for the platform and each institution")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if *keyFile == "" || *certFile == "" {
		return errors.New("--key and --cert are required")
	}
	l, err := gm.ParseCipherLayout(*layout)
	if err != nil {
		return fmt.Errorf("--layout: %w", err)
	}
	key, cert, err := caagent.LoadFiles(*keyFile, *certFile)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	agent, err := caagent.New(caagent.Config{
		Key: key, Cert: cert, Origins: origins, Layout: l,
		Logger: logger,
	})
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
		cert.Subject.CommonName, caagent.CreditCode(cert), ln.Addr(), strings.Join(origins, ", "))
	return agent.Serve(ctx, ln)
}
