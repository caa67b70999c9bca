package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/service"
)

func init() {
	register(&command{
		Name:    "institution serve",
		Summary: "run the financial institution's side (金融机构): the served interfaces, the bidder's flow, issuance and the admin API",
		Usage: "institution serve [--config FILE] [--addr HOST:PORT] [--data DIR] [--db URL] [--public-url URL] [--platform-url URL]\n\n" +
			"Without --config it starts at once on embedded defaults: SQLite in DIR, plain HTTP, a demo\n" +
			"platform peer (appkey " + institution.DemoAppKey + ", appsecret read from DIR or generated and printed once),\n" +
			"an admin bearer token and a test CA with the institution's seal identity in DIR/ca.\n" +
			"With the same --data as `baohan platform serve` (embedded defaults too), the two share the demo\n" +
			"appsecret and the test CA, and talk to each other out of the box (platform :8080, institution :8082).\n" +
			"Environment variables " + institution.EnvPrefix + "_<SECTION>_<KEY> override the file.",
		Run: runInstitutionServe,
	})
}

func runInstitutionServe(ctx context.Context, env *Env, args []string) error {
	c := commands["institution serve"]
	fs := newFlags(env, c)
	cfgFile := fs.String("config", "", "TOML configuration (see docs/institution.example.toml); none: embedded defaults")
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:8082 without --config)")
	data := fs.String("data", "", "data directory (default ./baohan-institution without --config)")
	db := fs.String("db", "", "database URL: empty for SQLite in the data directory, or postgres://...")
	publicURL := fs.String("public-url", "", "how bidders and platforms reach this service (redirecturl, invoiceurl)")
	platformURL := fs.String("platform-url", "", "embedded defaults: the demo platform's base URL (default "+institution.DemoPlatformURL+")")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	var cfg institution.Config
	if *cfgFile != "" {
		if *platformURL != "" {
			return errors.New("--platform-url is for the embedded defaults; set base_url of the [[platform]] in the configuration")
		}
		if err := config.Load(*cfgFile, institution.EnvPrefix, &cfg); err != nil {
			return err
		}
		if *addr != "" {
			cfg.Listen.Addr = *addr
		}
		if *data != "" {
			cfg.Storage.DataDir = *data
		}
		if *db != "" {
			cfg.Storage.DB = *db
		}
		if *publicURL != "" {
			cfg.Listen.PublicURL = *publicURL
		}
	} else {
		if *addr == "" {
			*addr = "127.0.0.1:8082"
		}
		if *data == "" {
			*data = "baohan-institution"
		}
		cfg, err = institution.Embedded(*data, institution.EmbeddedOptions{Addr: *addr, PublicURL: *publicURL,
			PlatformURL: *platformURL, DB: *db}, env.Stdout)
		if err != nil {
			return err
		}
		if err := config.ApplyEnv(institution.EnvPrefix, &cfg); err != nil {
			return err
		}
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	ln, url, err := service.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	// Port 0 and the default public URL: use the port actually bound.
	if strings.HasSuffix(cfg.Listen.PublicURL, ":0") || cfg.Listen.PublicURL == "" {
		cfg.Listen.PublicURL = url
	}
	svc, err := institution.New(ctx, cfg, institution.WithLogger(logger))
	if err != nil {
		return err
	}
	defer svc.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	h, err := institutionConsole(ctx, env, svc, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "institution %s serving at %s (interfaces at %s%s/<name>, bidders at %s/bidder/, console at %s/console/, admin API at %s/api/)\n",
		cfg.Institution.Name, url, url, cfg.Listen.Prefix, cfg.Listen.PublicURL, url, url)
	err = service.Serve(ctx, ln, h, logger)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}
