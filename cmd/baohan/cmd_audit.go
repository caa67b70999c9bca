package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/baohan-dev/baohan/store"
)

func init() {
	register(&command{
		Name:    "audit verify",
		Summary: "check the tamper-evident message log (SM3 hash chain) of a platform or institution database",
		Usage: "audit verify (--db URL | --data DIR) [--side platform|institution]\n\n" +
			"Every exchange with a peer is a row of the message log, chained by SM3: each row's hash covers\n" +
			"its content and the previous row's hash, and a head row holds the last. An edited, inserted or\n" +
			"deleted row breaks the chain. Exit 0 and \"ok, N entries\" when it holds; exit 1 naming the\n" +
			"first broken entry otherwise. Read-only; safe while the service runs.\n" +
			"--data DIR opens DIR/platform.db or DIR/institution.db (--side chooses when both are there).",
		Run: runAuditVerify,
	})
}

// sqliteFiles are the database file names of the services' data directories.
var sqliteFiles = map[string]string{"platform": "platform.db", "institution": "institution.db"}

func runAuditVerify(ctx context.Context, env *Env, args []string) error {
	c := commands["audit verify"]
	fs := newFlags(env, c)
	dbURL := fs.String("db", "", "database URL: postgres://... or the SQLite file")
	data := fs.String("data", "", "a service's data directory (SQLite)")
	side := fs.String("side", "", "platform or institution (with --data, when the directory holds both)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
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
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT last_id FROM message_log_head WHERE k = 1").Scan(&n); err != nil {
		return fmt.Errorf("%s has no message log (is it a baohan database?): %w", redactURL(url), err)
	}
	brk, err := store.NewMessageLog(db).VerifyChain(ctx)
	if err != nil {
		return err
	}
	if brk != nil {
		fmt.Fprintf(env.Stdout, "broken at entry %d: %s\n", brk.ID, brk.Reason)
		return fmt.Errorf("message log of %s: %w", redactURL(url), brk)
	}
	fmt.Fprintf(env.Stdout, "ok, %d entries\n", n)
	return nil
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
