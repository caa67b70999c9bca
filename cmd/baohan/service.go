package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/service"
)

// What `platform serve` and `institution serve`, `platform check` and
// `institution check` share: the same flags, the same order of
// precedence (file or embedded defaults, environment, flags), the same
// start and the same check.

// serviceKind is one service to the shared commands.
type serviceKind struct {
	name        string // platform | institution
	peer        string // its peers: institution | platform
	defaultAddr string // of the embedded defaults
	defaultPeer string // the demo peer's base URL of the embedded defaults
	example     string // docs/<name>.example.toml
}

// serveFlags are the flags that override the configuration.
type serveFlags struct {
	kind                                                                                      serviceKind
	config, addr, data, db, tlsCert, tlsKey, prefix, publicURL, peerURL, logLevel, trustRoots string
	plain, logJSON                                                                            bool
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	k := f.kind
	fs.StringVar(&f.config, "config", "", "TOML configuration (see "+k.example+"); none: embedded defaults")
	fs.StringVar(&f.addr, "addr", "", "listen address (default "+k.defaultAddr+" without --config)")
	fs.StringVar(&f.data, "data", "", "data directory: SQLite, blobs, generated secrets (default ./baohan-"+k.name+" without --config)")
	fs.StringVar(&f.db, "db", "", "database URL: empty for SQLite in the data directory, or postgres://...")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate chain (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.BoolVar(&f.plain, "plain", false, "serve plain HTTP (loopback, tests, behind a TLS proxy)")
	fs.StringVar(&f.prefix, "prefix", "", "path prefix of the protocol endpoints, e.g. /baohan")
	fs.StringVar(&f.publicURL, "public-url", "", "how "+k.peer+"s and browsers reach this service")
	fs.StringVar(&f.trustRoots, "trust-roots", "", "comma-separated PEM files of the accepted CAs (replaces trust_roots; embedded defaults: DIR/ca)")
	fs.StringVar(&f.peerURL, k.peer+"-url", "", "embedded defaults: the demo "+k.peer+"'s base URL (default "+k.defaultPeer+")")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.logJSON, "log-json", false, "log JSON lines instead of text")
}

// embedded checks the flags for the embedded defaults and fills the
// address and the data directory they default to.
func (f *serveFlags) embedded() error {
	if f.addr == "" {
		f.addr = f.kind.defaultAddr
	}
	if f.data == "" {
		f.data = "baohan-" + f.kind.name
	}
	if !f.plain && f.tlsCert == "" && !loopback(f.addr) {
		return fmt.Errorf("the embedded defaults serve plain HTTP on loopback only; %s is not loopback: pass --plain to serve plain HTTP there anyway, --tls-cert and --tls-key, or use --config", f.addr)
	}
	return nil
}

// fromFile refuses the flags that are for the embedded defaults only.
func (f *serveFlags) fromFile() error {
	if f.peerURL != "" {
		return fmt.Errorf("--%s-url is for the embedded defaults; set base_url of the [[%s]] in the configuration", f.kind.peer, f.kind.peer)
	}
	return nil
}

// override applies the flags over the configuration.
func (f *serveFlags) override(c *config.Common) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Listen.Addr, f.addr)
	set(&c.Storage.DataDir, f.data)
	set(&c.Storage.DB, f.db)
	set(&c.Listen.TLSCert, f.tlsCert)
	set(&c.Listen.TLSKey, f.tlsKey)
	set(&c.Listen.Prefix, f.prefix)
	set(&c.Listen.PublicURL, f.publicURL)
	if f.plain {
		c.Listen.Plain = true
	}
	if f.trustRoots != "" {
		c.TrustRoots = nil
		for _, p := range strings.Split(f.trustRoots, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustRoots = append(c.TrustRoots, p)
			}
		}
	}
	if f.tlsCert != "" && f.tlsKey != "" && !f.plain {
		c.Listen.Plain = false
	}
}

// loopback reports whether addr's host is a loopback address or name.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (f *serveFlags) logger(env *Env) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if f.logJSON {
		return slog.New(slog.NewJSONHandler(env.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(env.Stderr, opts)), nil
}

// runner is a service being served.
type runner interface {
	Run(ctx context.Context) error
	Close() error
}

// serve opens the listener of c, lets start build the service and its
// handler (the console around it), prints the banner and serves until
// ctx ends. The embedded defaults' public URL names the listen address,
// whose port is known only once it is bound.
func serve(ctx context.Context, env *Env, f *serveFlags, c *config.Common, logger *slog.Logger,
	start func(ctx context.Context) (runner, http.Handler, string, error)) error {
	if err := service.EnsureAdminToken(c, env.Stdout); err != nil {
		return err
	}
	ln, url, err := service.Listen(c.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	// A configuration's public URL is never guessed from the listen
	// address (0.0.0.0:8443 is no address a browser uses): without one
	// the console refuses CA login and says so.
	if strings.HasSuffix(c.Listen.PublicURL, ":0") || (c.Listen.PublicURL == "" && f.config == "") {
		c.Listen.PublicURL = url
	}
	// Libraries that log to the default logger (migrations) log like the
	// service.
	prev := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(prev)
	svc, h, banner, err := start(ctx)
	if err != nil {
		return err
	}
	defer svc.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	prefix := strings.TrimRight(c.Listen.Prefix, "/")
	fmt.Fprintf(env.Stdout, "%s serving at %s (interfaces at %s%s/<name>, console at %s/console/, admin API at %s/api/ described at %s/api/openapi.json, metrics at %s/metrics)%s\n",
		f.kind.name, url, url, prefix, url, url, url, url, banner)
	err = service.Serve(ctx, ln, h, logger)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}

// checkFlags are the flags of `<service> check`.
type checkFlags struct {
	config string
	reach  bool
}

func (f *checkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "TOML configuration to check")
	fs.BoolVar(&f.reach, "reach", false, "also call each peer's base_url (any HTTP answer counts as reachable)")
}

// parse reads the flags; the file may also be the one argument.
func (f *checkFlags) parse(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && f.config == "" {
		f.config = pos[0]
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if f.config == "" {
		return errors.New("--config FILE is required")
	}
	return nil
}

// check runs the checks of in, prints them and fails with the failed
// ones.
func check(ctx context.Context, env *Env, in service.CheckInput) error {
	fs := service.Check(ctx, in)
	service.PrintFindings(env.Stdout, fs)
	var failed []string
	for _, f := range fs {
		if f.Level == service.Fail {
			failed = append(failed, f.What+": "+f.Detail)
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}
