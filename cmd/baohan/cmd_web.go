package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/web"
	"github.com/baohan-dev/baohan/web/caagent"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func init() {
	register(&command{
		Name:    "ca-agent",
		Summary: "bidder-side CA client on 127.0.0.1: opens envelopes, signs challenges and the agreement for the consoles",
		Usage: "ca-agent --key BIDDER.key.pem --cert BIDDER.cert.pem [--addr 127.0.0.1:17650] --origin URL [--origin URL...] [--unattended]\n\n" +
			"Before each use of the key (a signature, an envelope opened, the agreement signed) the agent shows on\n" +
			"this terminal what it is asked (the purpose, the page's origin, the application) and a code: type the\n" +
			"code to allow it, no to refuse; unanswered within --confirm-timeout it is refused. --unattended signs\n" +
			"and opens without asking: for demos and tests only, never with a bidder's real key.",
		Run: runCAAgent,
	})
}

func runCAAgent(ctx context.Context, env *Env, args []string) error {
	c := commands["ca-agent"]
	fs := newFlags(env, c)
	keyFile := fs.String("key", "", "the bidder's SM2 private key (PEM; stands in for the USB key)")
	certFile := fs.String("cert", "", "the bidder's certificate (PEM)")
	addr := fs.String("addr", "127.0.0.1:17650", "loopback address to answer on")
	layout := fs.String("layout", "c1c3c2", "SM2 ciphertext layout of digital envelopes: c1c3c2 | c1c2c3 | asn1")
	codeIn := fs.String("credit-code-in", "serialnumber", "where the bidder's CA puts the 统一社会信用代码 in the certificate: serialnumber | cn | ou | ext:OID")
	var origins stringList
	fs.Var(&origins, "origin", "an origin (scheme://host:port) whose pages may use the agent; repeat for the platform and each institution")
	unattended := fs.Bool("unattended", false, "sign and open without asking the person (demos and tests only; by default the agent asks on its terminal before each use of the key)")
	confirmTimeout := fs.Duration("confirm-timeout", caagent.DefaultConfirmTimeout, "how long the agent waits for the person to allow a use of the key")
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

// The consoles mount in front of the services' handlers. The serve
// commands call these two functions instead of serving svc.Handler()
// directly:
//
//	h, err := platformConsole(ctx, env, svc, logger)     // baohan platform serve
//	h, err := institutionConsole(ctx, env, svc, logger)  // baohan institution serve
//	service.Serve(ctx, ln, h, logger)
//
// The console answers under /console/ (and, at the institution, GET
// /bidder/<token> from a browser); every other request goes to the
// service's handler. Environment:
//
//	BAOHAN_CONSOLE_ADMIN_USER, BAOHAN_CONSOLE_ADMIN_PASSWORD
//	    the first admin account, created when the console has none; without
//	    a password one is generated and printed once on stdout
//	BAOHAN_CA_AGENT_URL
//	    where bidders' pages find baohan ca-agent (default http://127.0.0.1:17650)
//	BAOHAN_CONSOLE_LOCKOUT
//	    wrong passwords in a row that lock a staff account (default 5)
const (
	envConsoleAdminUser     = "BAOHAN_CONSOLE_ADMIN_USER"
	envConsoleAdminPassword = "BAOHAN_CONSOLE_ADMIN_PASSWORD"
	envCAAgentURL           = "BAOHAN_CA_AGENT_URL"
	envConsoleLockout       = "BAOHAN_CONSOLE_LOCKOUT"
)

func consoleOptions(logger *slog.Logger, listen config.Listen) (web.Options, []web.AuthOption, error) {
	var ao []web.AuthOption
	if strings.HasPrefix(listen.PublicURL, "https://") {
		ao = append(ao, web.WithSecureCookies())
	}
	if v := os.Getenv(envConsoleLockout); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return web.Options{}, nil, fmt.Errorf("%s=%q: want a number of failed logins from 1 to 100", envConsoleLockout, v)
		}
		ao = append(ao, web.WithLockout(n))
	}
	proxies, err := listen.Proxies()
	if err != nil {
		return web.Options{}, nil, err
	}
	return web.Options{AgentURL: os.Getenv(envCAAgentURL), Logger: logger, TrustedProxies: proxies}, ao, nil
}

// firstAdmin creates the console's first admin account and prints it
// once when it was generated.
func firstAdmin(ctx context.Context, env *Env, auth *web.Auth, what string) error {
	pw := os.Getenv(envConsoleAdminPassword)
	acc, err := auth.EnsureAdmin(ctx, os.Getenv(envConsoleAdminUser), pw)
	if err != nil {
		return fmt.Errorf("%s console: %w", what, err)
	}
	if acc != nil && pw == "" {
		fmt.Fprintf(env.Stdout, "%s console: created admin account %q with password %s (shown once; change it on the console's 密码 page)\n", what, acc.Username, acc.Password)
	}
	return nil
}

// platformConsole returns the platform's handler with its console.
func platformConsole(ctx context.Context, env *Env, svc *platform.Service, logger *slog.Logger) (http.Handler, error) {
	o, ao, err := consoleOptions(logger, svc.Config().Listen)
	if err != nil {
		return nil, err
	}
	c, err := web.Platform(ctx, svc, o, ao...)
	if err != nil {
		return nil, err
	}
	if err := firstAdmin(ctx, env, c.Auth(), "platform"); err != nil {
		return nil, err
	}
	return c.Handler(svc.Handler()), nil
}

// institutionConsole returns the institution's handler with its console
// and the bidder's page behind redirecturl.
func institutionConsole(ctx context.Context, env *Env, svc *institution.Service, logger *slog.Logger) (http.Handler, error) {
	o, ao, err := consoleOptions(logger, svc.Config().Listen)
	if err != nil {
		return nil, err
	}
	c, err := web.Institution(ctx, svc, o, ao...)
	if err != nil {
		return nil, err
	}
	if err := firstAdmin(ctx, env, c.Auth(), "institution"); err != nil {
		return nil, err
	}
	return c.Handler(svc.Handler()), nil
}
