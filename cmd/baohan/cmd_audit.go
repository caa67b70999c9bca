package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	Args: true,
	Flags: func(env *Env, fs *flag.FlagSet) action {
		dbURL := fs.String("db", "", "database URL: postgres://... or the SQLite file")
		data := fs.String("data", "", "a service's data directory (SQLite)")
		side := fs.String("side", "", "platform or institution (with --data, when the directory holds both)")
		return func(ctx context.Context, pos []string) error {
			if len(pos) > 0 {
				return fmt.Errorf("unexpected argument %q", pos[0])
			}
			if *side != "" && sqliteFiles[*side] == "" {
				return fmt.Errorf("--side must be platform or institution, got %q", *side)
			}
			url, err := auditTarget(*dbURL, *data, *side)
			if err != nil {
				return err
			}
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			db, err := store.Open(ctx, url, "", store.WithoutSharedMigrations(), store.WithLogger(quiet))
			if err != nil {
				return fmt.Errorf("opening %s: %w", redactURL(url), err)
			}
			defer db.Close()
			if ok, err := tableExists(ctx, db, "message_log_head"); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("%s has no message log (is it a baohan database?)", redactURL(url))
			}
			var broken []error
			brk, n, err := store.NewMessageLog(db).Verify(ctx)
			if err != nil {
				return err
			}
			report(env, "message log", brk, n)
			if brk != nil {
				broken = append(broken, brk)
			}
			// The consoles' audit log: there when a console ever ran on this
			// database (its table), chained since this version (its head).
			if ok, err := tableExists(ctx, db, "web_audit"); err != nil {
				return err
			} else if ok {
				brk, n, err := web.VerifyAudit(ctx, db)
				if err != nil {
					fmt.Fprintf(env.Stdout, "console audit log: cannot be verified: %v\n", err)
					broken = append(broken, fmt.Errorf("console audit log: %w", err))
				} else {
					report(env, "console audit log", brk, n)
					if brk != nil {
						broken = append(broken, brk)
					}
				}
			} else {
				fmt.Fprintln(env.Stdout, "console audit log: none (no console has run on this database)")
			}
			if len(broken) > 0 {
				return fmt.Errorf("%s: %w", redactURL(url), errors.Join(broken...))
			}
			return nil
		}
	},
}}

// sqliteFiles are the database file names of the services' data directories.
var sqliteFiles = map[string]string{"platform": "platform.db", "institution": "institution.db"}

// report prints one log's outcome.
func report(env *Env, name string, brk *store.ChainBreak, n int64) {
	if brk != nil {
		fmt.Fprintf(env.Stdout, "%s: broken at entry %d: %s\n", name, brk.ID, brk.Reason)
		return
	}
	fmt.Fprintf(env.Stdout, "%s: ok, %d entries\n", name, n)
}

// tableExists reports whether db has table name (in the current schema
// on PostgreSQL).
func tableExists(ctx context.Context, db *store.DB, name string) (bool, error) {
	var n int
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.Dialect == store.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	if err := db.QueryRowContext(ctx, db.Rebind(q), name).Scan(&n); err != nil {
		return false, fmt.Errorf("looking for table %s: %w", name, err)
	}
	return n > 0, nil
}

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

// redactURL hides a password in a database URL.
func redactURL(u string) string {
	i := strings.Index(u, "://")
	at := strings.LastIndex(u, "@")
	if i < 0 || at < i {
		return u
	}
	cred := u[i+3 : at]
	if user, _, ok := strings.Cut(cred, ":"); ok {
		return u[:i+3] + user + ":***" + u[at:]
	}
	return u
}
