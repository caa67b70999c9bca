package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/web"
)

// `platform serve|check` and `institution serve|check`: the same flags,
// the same order of precedence (file or embedded defaults, environment,
// flags), the same start and the same check.
var serviceCommands = slices.Concat(serviceKind{
	name: "platform", peer: "institution", defaultAddr: platform.DefaultAddr, defaultPeer: platform.DemoInstitutionURL,
	load: func(f *serveFlags, out io.Writer) (loaded, error) {
		cfg, err := loadConfig(f, platform.LoadConfig, platform.EnvPrefix, func() (platform.Config, error) {
			return platform.Embedded(f.DataDir, platform.EmbeddedOptions{Addr: f.Addr, DB: f.DB, InstitutionURL: f.peerURL}, out)
		})
		return loaded{&cfg.Common, func() error { return cfg.Check() }, func(ctx context.Context, env *Env, logger *slog.Logger) (service.Runner, http.Handler, string, error) {
			svc, err := platform.New(ctx, cfg, platform.WithLogger(logger))
			if err != nil {
				return nil, nil, "", err
			}
			h, err := web.MountPlatform(ctx, svc, logger, env.Stdout)
			var names []string
			for _, in := range svc.Config().Institutions {
				names = append(names, in.Name)
			}
			return svc, h, " for institutions: " + strings.Join(names, ", "), err
		}}, err
	},
	checkInput: checkInputOf(platform.LoadConfig),
}.commands(), serviceKind{
	name: "institution", peer: "platform", defaultAddr: institution.DefaultAddr, defaultPeer: institution.DemoPlatformURL,
	load: func(f *serveFlags, out io.Writer) (loaded, error) {
		cfg, err := loadConfig(f, institution.LoadConfig, institution.EnvPrefix, func() (institution.Config, error) {
			return institution.Embedded(f.DataDir, institution.EmbeddedOptions{Addr: f.Addr, PublicURL: f.PublicURL, PlatformURL: f.peerURL, DB: f.DB}, out)
		})
		return loaded{&cfg.Common, func() error { return cfg.Check() }, func(ctx context.Context, env *Env, logger *slog.Logger) (service.Runner, http.Handler, string, error) {
			svc, err := institution.New(ctx, cfg, institution.WithLogger(logger))
			if err != nil {
				return nil, nil, "", err
			}
			h, err := web.MountInstitution(ctx, svc, logger, env.Stdout)
			var names []string
			for _, p := range svc.Config().Platforms {
				names = append(names, p.Name)
			}
			return svc, h, " as " + cfg.Institution.Name + " for platforms: " + strings.Join(names, ", ") +
				"; bidders at " + svc.Config().Listen.PublicURL + "/bidder/", err
		}}, err
	},
	checkInput: checkInputOf(institution.LoadConfig),
}.commands())

// serviceKind is one service to the shared commands.
type serviceKind struct {
	name        string // platform | institution
	peer        string // its peers: institution | platform
	defaultAddr string // of the embedded defaults
	defaultPeer string // the demo peer's base URL of the embedded defaults
	// load reads the configuration file f.config or, without one, makes
	// the embedded defaults (their secrets printed once to out) and
	// applies the environment.
	load func(f *serveFlags, out io.Writer) (loaded, error)
	// checkInput reads a configuration file for the check.
	checkInput func(file string) (service.CheckInput, error)
}

// loaded is a service's configuration, ready to check and start.
type loaded struct {
	common *config.Common
	check  func() error
	// start makes the service, its console and the banner's end.
	start func(ctx context.Context, env *Env, logger *slog.Logger) (service.Runner, http.Handler, string, error)
}

// loadConfig reads the configuration file f.config or, without one,
// makes the embedded defaults and applies the environment (prefix).
func loadConfig[C any](f *serveFlags, file func(string) (C, error), prefix string, embedded func() (C, error)) (C, error) {
	if f.config != "" {
		return file(f.config)
	}
	cfg, err := embedded()
	if err == nil {
		err = config.ApplyEnv(prefix, &cfg)
	}
	return cfg, err
}

// checkInputOf reads a configuration file with load for the check.
func checkInputOf[C interface {
	CheckInput(string) service.CheckInput
}](load func(string) (C, error)) func(string) (service.CheckInput, error) {
	return func(file string) (service.CheckInput, error) {
		cfg, err := load(file)
		if err != nil {
			return service.CheckInput{}, err
		}
		return cfg.CheckInput(file), nil
	}
}

// serveFlags are the flags that override the configuration.
type serveFlags struct {
	service.Overrides
	config, peerURL, logLevel string
	logJSON                   bool
}

func (k serviceKind) commands() []cli.Command {
	serve, check := cli.Command{Name: k.name + " serve"}, cli.Command{Name: k.name + " check"}
	serve.Flags = func(env *Env, fs *flag.FlagSet) cli.Action {
		var f serveFlags
		example := "docs/" + k.name + ".example.toml"
		fs.StringVar(&f.config, "config", "", "TOML configuration (see "+example+"); none: embedded defaults")
		fs.StringVar(&f.Addr, "addr", "", "listen address (default "+k.defaultAddr+" without --config)")
		fs.StringVar(&f.DataDir, "data", "", "data directory: SQLite, blobs, generated secrets (default ./baohan-"+k.name+" without --config)")
		fs.StringVar(&f.DB, "db", "", "database URL: empty for SQLite in the data directory, or postgres://...")
		fs.StringVar(&f.TLSCert, "tls-cert", "", "TLS certificate chain (PEM)")
		fs.StringVar(&f.TLSKey, "tls-key", "", "TLS private key (PEM)")
		fs.BoolVar(&f.Plain, "plain", false, "serve plain HTTP (loopback, tests, behind a TLS proxy)")
		fs.StringVar(&f.Prefix, "prefix", "", "path prefix of the protocol endpoints, e.g. /baohan")
		fs.StringVar(&f.PublicURL, "public-url", "", "how "+k.peer+"s and browsers reach this service")
		fs.StringVar(&f.TrustRoots, "trust-roots", "", "comma-separated PEM files of the accepted CAs (replaces trust_roots; embedded defaults: DIR/ca)")
		fs.StringVar(&f.peerURL, k.peer+"-url", "", "embedded defaults: the demo "+k.peer+"'s base URL (default "+k.defaultPeer+")")
		fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
		fs.BoolVar(&f.logJSON, "log-json", false, "log JSON lines instead of text")
		return func(ctx context.Context, _ []string) error {
			logger, err := service.NewLogger(env.Stderr, f.logLevel, f.logJSON)
			if err != nil {
				return fmt.Errorf("--log-level: %v", err)
			}
			if f.config != "" && f.peerURL != "" {
				return fmt.Errorf("--%s-url is for the embedded defaults; set base_url of the [[%s]] in the configuration", k.peer, k.peer)
			} else if f.config == "" {
				if err := f.Embedded(k.name, k.defaultAddr); err != nil {
					return err
				}
			}
			cfg, err := k.load(&f, env.Stdout)
			if err != nil {
				return err
			}
			f.Apply(cfg.common)
			if err := cfg.check(); err != nil {
				return err
			}
			return service.RunUntilDone(ctx, service.Starting{Name: k.name, Config: cfg.common, Logger: logger, Out: env.Stdout, ListenerURL: f.config == "",
				Start: func(ctx context.Context, _ string) (service.Runner, http.Handler, string, error) {
					return cfg.start(ctx, env, logger)
				}})
		}
	}
	check.Args = true
	check.Flags = func(env *Env, fs *flag.FlagSet) cli.Action {
		file := fs.String("config", "", "TOML configuration to check")
		reach := fs.Bool("reach", false, "also call each peer's base_url (any HTTP answer counts as reachable)")
		return func(ctx context.Context, pos []string) error {
			// The file may also be the one argument.
			if len(pos) == 1 && *file == "" {
				*file = pos[0]
			} else if len(pos) > 0 {
				return fmt.Errorf("unexpected argument %q", pos[0])
			}
			if *file == "" {
				return errors.New("--config FILE is required")
			}
			in, err := k.checkInput(*file)
			if err != nil {
				return err
			}
			in.Reach = *reach
			return service.CheckAndPrint(ctx, env.Stdout, in)
		}
	}
	return []cli.Command{serve, check}
}
