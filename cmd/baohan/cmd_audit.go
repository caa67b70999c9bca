package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/web"
)

var auditCommands = []command{{
	Name:    "audit verify",
	Summary: "check the tamper-evident logs (SM3 hash chains) of a platform or institution database: the message log and the console audit log",
	Usage: "audit verify (--db URL | --data DIR) [--side platform|institution]\n\n" +
		"Every exchange with a peer is a row of the message log, and every staff login and action a row of\n" +
		"the console audit log; each is chained by SM3: a row's hash covers its content and the previous\n" +
		"row's hash, and a head row holds the last. An edited, inserted or deleted row breaks the chain.\n" +
		"One line per log: \"message log: ok, N entries\" when it holds, or \"...: broken at entry N: why\"\n" +
		"naming the first broken entry. Exit 0 when both hold, 1 otherwise. Read-only; safe while the\n" +
		"service runs.\n" +
		"--data DIR opens DIR/platform.db or DIR/institution.db (--side chooses when both are there).",
	Flags: func(env *Env, fs *flag.FlagSet) action {
		dbURL := fs.String("db", "", "database URL: postgres://... or the SQLite file")
		data := fs.String("data", "", "a service's data directory (SQLite)")
		side := fs.String("side", "", "platform or institution (with --data, when the directory holds both)")
		return func(ctx context.Context, _ []string) error {
			if *side != "" && sqliteFiles[*side] == "" {
				return fmt.Errorf("--side must be platform or institution, got %q", *side)
			}
			url, err := auditTarget(*dbURL, *data, *side)
			if err != nil {
				return err
			}
			return store.VerifyLogs(ctx, url, env.Stdout, store.MessageLogChain, web.AuditChain)
		}
	},
}}

// sqliteFiles are the database file names of the services' data directories.
var sqliteFiles = map[string]string{"platform": "platform.db", "institution": "institution.db"}

// auditTarget picks the database to open.
func auditTarget(dbURL, data, side string) (string, error) {
	switch {
	case dbURL != "" && data != "":
		return "", errors.New("give --db or --data, not both")
	case dbURL != "":
		if !strings.Contains(dbURL, "://") {
			if _, err := os.Stat(strings.TrimPrefix(dbURL, "sqlite:")); err != nil {
				return "", fmt.Errorf("--db: %w", err) // never create an empty database
			}
		}
		return dbURL, nil
	case data == "":
		return "", errors.New("give --db URL or --data DIR")
	}
	var found []string
	for _, s := range []string{"platform", "institution"} {
		if side != "" && s != side {
			continue
		}
		p := filepath.Join(data, sqliteFiles[s])
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		if side != "" {
			return "", fmt.Errorf("no %s in %s", sqliteFiles[side], data)
		}
		return "", fmt.Errorf("no platform.db or institution.db in %s (a PostgreSQL database is given with --db)", data)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%s holds both platform.db and institution.db: choose one with --side", data)
}
