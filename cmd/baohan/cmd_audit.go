package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/web"
)

var auditCommands = []cli.Command{{
	Name: "audit verify",
	Flags: func(env *Env, fs *flag.FlagSet) cli.Action {
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
