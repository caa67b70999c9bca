package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
)

var institutionKind = serviceKind{name: "institution", peer: "platform", defaultAddr: institution.DefaultAddr,
	defaultPeer: institution.DemoPlatformURL, example: "docs/institution.example.toml"}

func init() {
	register(&command{
		Name:    "institution serve",
		Summary: "run the financial institution's side (金融机构): the served interfaces, the bidder's flow, issuance and the admin API",
		Usage: "institution serve [--config FILE] [--addr HOST:PORT] [--data DIR] [--db URL] [--tls-cert FILE --tls-key FILE | --plain] [--prefix /PATH] [--public-url URL]\n\n" +
			"Without --config it starts at once on embedded defaults: SQLite in DIR, plain HTTP on loopback\n" +
			"(" + institution.DefaultAddr + "), a demo platform peer (appkey " + institution.DemoAppKey + ", base URL " + institution.DemoPlatformURL + ",\n" +
			"appsecret read from DIR or generated and printed once), an admin bearer token (DIR/admin.token,\n" +
			"printed once) and a test CA with the institution's seal identity in DIR/ca. A configuration\n" +
			"without [admin] token gets the token in <data_dir>/admin.token the same way.\n" +
			"With the same --data as `baohan platform serve` (embedded defaults too), the two share the demo\n" +
			"appsecret and the test CA, and talk to each other out of the box (platform :8080, institution :8082).\n" +
			"Environment variables " + institution.EnvPrefix + "_<SECTION>_<KEY> override the file; flags override both.\n" +
			"See docs/institution.example.toml; the admin API is described at /api/openapi.json (docs/ADMIN-API.md).",
		Run: runInstitutionServe,
	})
	register(&command{
		Name:    "institution check",
		Summary: "check an institution configuration (and the environment overrides), its files and database without starting",
		Usage: "institution check --config FILE [--reach]\n\n" +
			"Checks the configuration, the files it names (trust roots, TLS, admin token file, the seal\n" +
			"certificate, key and picture), the database (reachable, migrations applied; nothing is\n" +
			"created) and with --reach each platform's base_url. Exit 1 when a check fails.",
		Run: runInstitutionCheck,
	})
}

// loadInstitution builds the configuration: the file (or the embedded
// defaults), the environment, then the flags. Secrets made for the
// embedded defaults are printed once to env.Stdout.
func loadInstitution(env *Env, f *serveFlags) (institution.Config, error) {
	var cfg institution.Config
	var err error
	if f.config != "" {
		if err := f.fromFile(); err != nil {
			return cfg, err
		}
		if cfg, err = institution.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	} else {
		if err := f.embedded(); err != nil {
			return cfg, err
		}
		if cfg, err = institution.Embedded(f.data, institution.EmbeddedOptions{Addr: f.addr, PublicURL: f.publicURL,
			PlatformURL: f.peerURL, DB: f.db}, env.Stdout); err != nil {
			return cfg, err
		}
		if err := config.ApplyEnv(institution.EnvPrefix, &cfg); err != nil {
			return cfg, err
		}
	}
	f.override(&cfg.Common)
	return cfg, nil
}

func runInstitutionServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["institution serve"])
	f := serveFlags{kind: institutionKind}
	f.register(fs)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	logger, err := f.logger(env)
	if err != nil {
		return err
	}
	cfg, err := loadInstitution(env, &f)
	if err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	return serve(ctx, env, &f, &cfg.Common, logger, func(ctx context.Context) (runner, http.Handler, string, error) {
		svc, err := institution.New(ctx, cfg, institution.WithLogger(logger))
		if err != nil {
			return nil, nil, "", err
		}
		h, err := institutionConsole(ctx, env, svc, logger)
		if err != nil {
			svc.Close()
			return nil, nil, "", err
		}
		names := make([]string, 0, len(cfg.Platforms))
		for _, p := range svc.Config().Platforms {
			names = append(names, p.Name)
		}
		return svc, h, " as " + cfg.Institution.Name + " for platforms: " + strings.Join(names, ", ") +
			"; bidders at " + svc.Config().Listen.PublicURL + "/bidder/", nil
	})
}

func runInstitutionCheck(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, commands["institution check"])
	var f checkFlags
	f.register(fs)
	if err := f.parse(fs, args); err != nil {
		return err
	}
	cfg, err := institution.LoadConfig(f.config)
	if err != nil {
		return err
	}
	in := cfg.CheckInput(f.config)
	in.Reach = f.reach
	return check(ctx, env, in)
}
