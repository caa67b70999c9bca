package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
)

func init() {
	register(&command{
		Name:    "platform serve",
		Summary: "run the trading centre's data service platform (数据服务支撑平台): the served interfaces, the calls to institutions, the admin API",
		Usage: "platform serve [--config FILE] [--addr HOST:PORT] [--data DIR] [--db URL] [--tls-cert FILE --tls-key FILE | --plain] [--prefix /PATH]\n\n" +
			"Without --config it starts at once on embedded defaults: SQLite in DIR, plain HTTP on loopback\n" +
			"(" + platform.DefaultAddr + "), a demo institution (appkey " + platform.DemoAppKey + ", base URL " + platform.DemoInstitutionURL + ",\n" +
			"appsecret read from DIR or generated and printed once), an admin bearer token (DIR/admin.token,\n" +
			"printed once) and a test CA in DIR/ca as the trust root.\n" +
			"Environment variables " + platform.EnvPrefix + "_<SECTION>_<KEY> override the file; flags override both.\n" +
			"See docs/platform.example.toml.",
		Run: runPlatformServe,
	})
	register(&command{
		Name:    "platform check",
		Summary: "check a platform configuration file (and the environment overrides) without starting",
		Usage:   "platform check --config FILE",
		Run:     runPlatformCheck,
	})
}

// platformFlags are the flags that override the configuration.
type platformFlags struct {
	config, addr, data, db, tlsCert, tlsKey, prefix, publicURL, institutionURL, logLevel, trustRoots string
	plain, logJSON                                                                                   bool
}

func (f *platformFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "TOML configuration (see docs/platform.example.toml); none: embedded defaults")
	fs.StringVar(&f.addr, "addr", "", "listen address (default "+platform.DefaultAddr+" without --config)")
	fs.StringVar(&f.data, "data", "", "data directory: SQLite, blobs, generated secrets (default ./baohan-platform without --config)")
	fs.StringVar(&f.db, "db", "", "database URL: empty for SQLite in the data directory, or postgres://...")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate chain (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.BoolVar(&f.plain, "plain", false, "serve plain HTTP (loopback, tests, behind a TLS proxy)")
	fs.StringVar(&f.prefix, "prefix", "", "path prefix of the protocol endpoints, e.g. /baohan")
	fs.StringVar(&f.publicURL, "public-url", "", "how institutions and browsers reach this service")
	fs.StringVar(&f.trustRoots, "trust-roots", "", "comma-separated PEM files of the accepted CAs (replaces trust_roots; embedded defaults: DIR/ca)")
	fs.StringVar(&f.institutionURL, "institution-url", "", "embedded defaults: the demo institution's base URL (default "+platform.DemoInstitutionURL+")")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.logJSON, "log-json", false, "log JSON lines instead of text")
}

// load builds the configuration: the file (or the embedded defaults), the
// environment, then the flags. Secrets made for the embedded defaults are
// printed once to env.Stdout.
func (f *platformFlags) load(env *Env) (platform.Config, error) {
	var cfg platform.Config
	var err error
	if f.config != "" {
		if f.institutionURL != "" {
			return cfg, errors.New("--institution-url is for the embedded defaults; set base_url of the [[institution]] in the configuration")
		}
		if cfg, err = platform.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	} else {
		if f.addr == "" {
			f.addr = platform.DefaultAddr
		}
		if f.data == "" {
			f.data = "baohan-platform"
		}
		if !f.plain && f.tlsCert == "" && !loopback(f.addr) {
			return cfg, fmt.Errorf("the embedded defaults serve plain HTTP on loopback only; %s is not loopback: pass --plain to serve plain HTTP there anyway, --tls-cert and --tls-key, or use --config", f.addr)
		}
		if cfg, err = platform.Embedded(f.data, platform.EmbeddedOptions{Addr: f.addr, DB: f.db, InstitutionURL: f.institutionURL}, env.Stdout); err != nil {
			return cfg, err
		}
		if err := config.ApplyEnv(platform.EnvPrefix, &cfg); err != nil {
			return cfg, err
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen.Addr, f.addr)
	set(&cfg.Storage.DataDir, f.data)
	set(&cfg.Storage.DB, f.db)
	set(&cfg.Listen.TLSCert, f.tlsCert)
	set(&cfg.Listen.TLSKey, f.tlsKey)
	set(&cfg.Listen.Prefix, f.prefix)
	set(&cfg.Listen.PublicURL, f.publicURL)
	if f.plain {
		cfg.Listen.Plain = true
	}
	if f.trustRoots != "" {
		cfg.TrustRoots = nil
		for _, p := range strings.Split(f.trustRoots, ",") {
			if p = strings.TrimSpace(p); p != "" {
				cfg.TrustRoots = append(cfg.TrustRoots, p)
			}
		}
	}
	if f.tlsCert != "" && f.tlsKey != "" && !f.plain {
		cfg.Listen.Plain = false
	}
	return cfg, nil
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

func (f *platformFlags) logger(env *Env) (*slog.Logger, error) {
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

func runPlatformServe(ctx context.Context, env *Env, args []string) error {
	c := commands["platform serve"]
	fs := newFlags(env, c)
	var f platformFlags
	f.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	logger, err := f.logger(env)
	if err != nil {
		return err
	}
	cfg, err := f.load(env)
	if err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	if err := platform.EnsureAdminToken(&cfg, env.Stdout); err != nil {
		return err
	}
	ln, url, err := service.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	// The embedded defaults' public URL names the listen address, whose
	// port is known only now when it is :0. A configuration's is never
	// guessed from the listen address (0.0.0.0:8443 is no address a
	// browser uses): without one the console refuses CA login and says so.
	if strings.HasSuffix(cfg.Listen.PublicURL, ":0") || (cfg.Listen.PublicURL == "" && f.config == "") {
		cfg.Listen.PublicURL = url
	}
	// Libraries that log to the default logger (migrations) log like the
	// service.
	prev := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(prev)
	svc, err := platform.New(ctx, cfg, platform.WithLogger(logger))
	if err != nil {
		return err
	}
	defer svc.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	names := make([]string, 0, len(cfg.Institutions))
	for _, in := range cfg.Institutions {
		names = append(names, in.Name)
	}
	h, err := platformConsole(ctx, env, svc, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "platform serving at %s (interfaces at %s%s/<name>, console at %s/console/, admin API at %s/api/, metrics at %s/metrics) for institutions: %s\n",
		url, url, strings.TrimRight(cfg.Listen.Prefix, "/"), url, url, url, strings.Join(names, ", "))
	err = service.Serve(ctx, ln, h, logger)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}

func runPlatformCheck(ctx context.Context, env *Env, args []string) error {
	c := commands["platform check"]
	fs := newFlags(env, c)
	file := fs.String("config", "", "TOML configuration to check")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *file == "" {
		*file = pos[0]
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if *file == "" {
		return errors.New("--config FILE is required")
	}
	cfg, err := platform.LoadConfig(*file)
	if err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: ok (%d institutions)\n", *file, len(cfg.Institutions))
	return nil
}
