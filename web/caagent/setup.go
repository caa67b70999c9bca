package caagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
)

// Setup is the agent as `baohan ca-agent` takes it: the bidder's key and
// certificate files, the address, the settings by name. Its errors name
// the command's flags.
type Setup struct {
	KeyFile, CertFile string
	Addr              string   // a loopback address: 127.0.0.1:PORT
	Origins           []string // Config.Origins
	Layout            string   // gm.ParseCipherLayout
	CreditCodeIn      string   // pki.ParseCreditCodeIn
	Unattended        bool
	ConfirmTimeout    time.Duration
}

// Serve checks the setup, loads the key, listens, says on out whose key
// answers where, and serves until ctx ends. Unless Unattended it asks
// the person on in and out before each use of the key; it logs to log.
func (s Setup) Serve(ctx context.Context, in io.Reader, out, log io.Writer) error {
	if s.KeyFile == "" || s.CertFile == "" {
		return errors.New("--key and --cert are required")
	}
	if s.ConfirmTimeout <= 0 {
		return errors.New("--confirm-timeout must be positive (e.g. 2m)")
	}
	l, err := gm.ParseCipherLayout(s.Layout)
	if err != nil {
		return fmt.Errorf("--layout: %w", err)
	}
	codeIn, err := pki.ParseCreditCodeIn(s.CreditCodeIn)
	if err != nil {
		return fmt.Errorf("--credit-code-in: %w", err)
	}
	key, cert, err := LoadFiles(s.KeyFile, s.CertFile)
	if err != nil {
		return err
	}
	code, err := pki.CreditCode(cert, codeIn)
	if err != nil {
		code = "no credit code: " + err.Error()
	}
	cfg := Config{
		Key: key, Cert: cert, Origins: s.Origins, Layout: l, CreditCodeIn: codeIn,
		Logger: slog.New(slog.NewTextHandler(log, nil)), ConfirmTimeout: s.ConfirmTimeout, Unattended: s.Unattended,
	}
	if !s.Unattended {
		cfg.Confirm = TerminalConfirm(in, out)
	}
	agent, err := New(cfg)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %s: the CA agent answers on a loopback address only (127.0.0.1:PORT)", s.Addr)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "CA agent for %s (%s) at http://%s, for pages of %s\n",
		cert.Subject.CommonName, code, ln.Addr(), strings.Join(s.Origins, ", "))
	if s.Unattended {
		fmt.Fprintln(out, "unattended: signs and opens without asking (--unattended; for demos and tests only)")
	} else {
		fmt.Fprintf(out, "asks here before each use of the key: type the code shown to allow it, no to refuse (%s to answer)\n", s.ConfirmTimeout)
	}
	return agent.Serve(ctx, ln)
}
