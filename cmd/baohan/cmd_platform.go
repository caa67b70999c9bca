package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/platform"
)

var platformKind = serviceKind{name: "platform", peer: "institution", defaultAddr: platform.DefaultAddr,
	defaultPeer: platform.DemoInstitutionURL, example: "docs/platform.example.toml"}

func init() {
	register(&command{
		Name:    "platform serve",
		Summary: "run the trading centre's data service platform (数据服务支撑平台): the served interfaces, the calls to institutions, the admin API",
		Usage: "platform serve [--config FILE] [--addr HOST:PORT] [--data DIR] [--db URL] [--tls-cert FILE --tls-key FILE | --plain] [--prefix /PATH]\n\n" +
			"Without --config it starts at once on embedded defaults: SQLite in DIR, plain HTTP on loopback\n" +
			"(" + platform.DefaultAddr + "), a demo institution (appkey " + platform.DemoAppKey + ", base URL " + platform.DemoInstitutionURL + ",\n" +
			"appsecret read from DIR or generated and printed once), an admin bearer token (DIR/admin.token,\n" +
			"printed once) and a test CA in DIR/ca as the trust root. A configuration without [admin] token\n" +
			"gets the token in <data_dir>/admin.token the same way.\n" +
			"Environment variables " + platform.EnvPrefix + "_<SECTION>_<KEY> override the file; flags override both.\n" +
			"See docs/platform.example.toml; the admin API is described at /api/openapi.json (docs/ADMIN-API.md).",
		Run: runPlatformServe,
	})
	register(&command{
		Name:    "platform check",
		Summary: "check a platform configuration (and the environment overrides), its files and database without starting",
		Usage: "platform check --config FILE [--reach]\n\n" +
			"Checks the configuration, the files it names (trust roots, TLS, admin token file, seal\n" +
			"certificates), the database (reachable, migrations applied; nothing is created) and with\n" +
			"--reach each institution's base_url. Exit 1 when a check fails.",
		Run: runPlatformCheck,
	})
}

// loadPlatform builds the configuration: the file (or the embedded
// defaults), the environment, then the flags. Secrets made for the
// embedded defaults are printed once to env.Stdout.
func loadPlatform(env *Env, f *serveFlags) (platform.Config, error) {
	var cfg platform.Config
	var err error
	if f.config != "" {
		if err := f.fromFile(); err != nil {
			return cfg, err
		}
		if cfg, err = platform.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	} else {
		if err := f.embedded(); err != nil {
			return cfg, err
		}
		if cfg, err = platform.Embedded(f.data, platform.EmbeddedOptions{Addr: f.addr, DB: f.db, InstitutionURL: f.peerURL}, env.Stdout); err != nil {
			return cfg, err
		}
		if err := config.ApplyEnv(platform.EnvPrefix, &cfg); err != nil {
			return cfg, err
		}
	}
	f.override(&cfg.Common)
	return cfg, nil
}

func runPlatformServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["platform serve"])
	f := serveFlags{kind: platformKind}
	f.register(fs)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	logger, err := f.logger(env)
	if err != nil {
		return err
	}
	cfg, err := loadPlatform(env, &f)
	if err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	return serve(ctx, env, &f, &cfg.Common, logger, func(ctx context.Context) (runner, http.Handler, string, error) {
		svc, err := platform.New(ctx, cfg, platform.WithLogger(logger))
		if err != nil {
			return nil, nil, "", err
		}
		h, err := platformConsole(ctx, env, svc, logger)
		if err != nil {
			svc.Close()
			return nil, nil, "", err
		}
		names := make([]string, 0, len(cfg.Institutions))
		for _, in := range svc.Config().Institutions {
			names = append(names, in.Name)
		}
		return svc, h, " for institutions: " + strings.Join(names, ", "), nil
	})
}

func runPlatformCheck(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["platform check"])
	var f checkFlags
	f.register(fs)
	if err := f.parse(fs, args); err != nil {
		return err
	}
	cfg, err := platform.LoadConfig(f.config)
	if err != nil {
		return err
	}
	in := cfg.CheckInput(f.config)
	in.Reach = f.reach
	return check(ctx, env, in)
}
