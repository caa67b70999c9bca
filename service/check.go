package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/store"
)

// What `baohan platform check` and `baohan institution check` check, the
// same way: the configuration, the files it names, the database and,
// when asked, the peers. Nothing is created or changed: a database or a
// master key not made yet is noted, as serve makes them.

// Finding is one line of a check.
type Finding struct {
	What   string // config, warning, fetch, files, database, peer
	Level  Level
	Detail string
}

// Level is how a finding counts.
type Level int

// The levels of a finding.
const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warn:
		return "warning"
	}
	return "FAIL"
}

// File is a file of the configuration the check reads.
type File struct {
	Key   string // the key naming it, e.g. institution.seal_cert
	Path  string
	Parse func([]byte) error // what it must hold (nil: readable is enough)
}

// CheckInput is what a service gives the check.
type CheckInput struct {
	Spec   Spec
	Source string // the configuration file, for the messages
	Config config.Common
	Peers  []config.Peer
	// Summary ends the config line, e.g. "2 institutions".
	Summary string
	// Problems are the service's own findings about its configuration
	// (its Check), nil when there are none.
	Problems error
	// Files are the service's own files (seal certificates, keys).
	Files []File
	// Reach: also call each peer's base URL.
	Reach bool
	// Timeout bounds the database check and each call (default 10s).
	Timeout time.Duration
}

// Check checks the configuration, its files, the database and, with
// Reach, the peers. The findings come in that order; any Fail makes
// Failed true.
func Check(ctx context.Context, in CheckInput) []Finding {
	if in.Timeout <= 0 {
		in.Timeout = 10 * time.Second
	}
	var out []Finding
	add := func(what string, l Level, format string, a ...any) {
		out = append(out, Finding{What: what, Level: l, Detail: fmt.Sprintf(format, a...)})
	}
	cfg := in.Config
	cfg.Normalize()
	if err := errors.Join(cfg.Check(in.Spec.PeerKind, in.Peers), in.Problems); err != nil {
		add("config", Fail, "%s: %s", in.Source, oneLine(err))
	} else {
		add("config", OK, "%s (%s)", in.Source, in.Summary)
	}
	for _, w := range cfg.Warnings {
		add("warning", Warn, "%s", w)
	}
	if cfg.Fetch.AllowPrivateAddresses {
		add("fetch", Warn, "[fetch] allow_private_addresses = true: the files peers name by URL may be fetched from loopback and private addresses, this service's own network included; keep it only for peers that host their files on a private network")
	}
	out = append(out, checkFiles(cfg, in.Files)...)
	out = append(out, checkDatabase(ctx, in)...)
	if in.Reach {
		for _, p := range in.Peers {
			out = append(out, reachPeer(ctx, p, in.Timeout))
		}
	}
	return out
}

// Failed reports whether a finding failed.
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Level == Fail {
			return true
		}
	}
	return false
}

// PrintFindings writes the findings one a line, aligned.
func PrintFindings(w io.Writer, fs []Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "%-9s %-7s %s\n", f.What, f.Level, f.Detail)
	}
}

func oneLine(err error) string { return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ") }

// checkFiles reads every file the configuration names.
func checkFiles(cfg config.Common, own []File) []Finding {
	var fails []string
	var read []string
	roots, err := gm.LoadTrustRoots(config.TrustRootFiles(cfg.TrustRoots, cfg.TrustRoot)...)
	if _, cerr := config.CreditCodes(cfg.TrustRoot); cerr != nil {
		fails = append(fails, oneLine(cerr))
	}
	switch {
	case err != nil:
		fails = append(fails, err.Error())
	case roots.Len() == 0:
		fails = append(fails, "trust_roots: none configured; the bidders' certificates (and the platform's guarantee seals) could not be verified")
	default:
		read = append(read, fmt.Sprintf("trust_roots (%d certificates)", roots.Len()))
	}
	if !cfg.Listen.Plain && cfg.Listen.TLSCert != "" {
		if _, err := TLSConfig(cfg.Listen.TLSCert, cfg.Listen.TLSKey); err != nil {
			fails = append(fails, "listen.tls_cert, listen.tls_key: "+err.Error())
		} else {
			read = append(read, "listen.tls_cert and tls_key")
		}
	}
	if cfg.Admin.TokenFile != "" {
		if _, err := cfg.Admin.Resolve(); err != nil {
			fails = append(fails, err.Error())
		} else {
			read = append(read, "admin.token_file")
		}
	}
	for _, f := range own {
		if f.Path == "" {
			continue
		}
		b, err := os.ReadFile(f.Path)
		if err == nil && f.Parse != nil {
			err = f.Parse(b)
		}
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // the path is said once
		}
		if err != nil {
			fails = append(fails, fmt.Sprintf("%s %s: %v", f.Key, f.Path, err))
		} else {
			read = append(read, f.Key)
		}
	}
	var out []Finding
	if len(fails) > 0 {
		out = append(out, Finding{What: "files", Level: Fail, Detail: strings.Join(fails, "; ")})
	}
	if len(read) > 0 {
		out = append(out, Finding{What: "files", Level: OK, Detail: "readable: " + strings.Join(read, ", ")})
	}
	if cfg.Admin.Token == "" && cfg.Admin.TokenFile == "" && cfg.Storage.DataDir != "" {
		out = append(out, Finding{What: "files", Level: Warn, Detail: fmt.Sprintf("no [admin] token: serve makes one in %s", filepath.Join(cfg.Storage.DataDir, AdminTokenFile))})
	}
	return out
}

// checkDatabase opens the database without migrating it and counts the
// migrations not applied; it checks the master key without making one.
func checkDatabase(ctx context.Context, in CheckInput) []Finding {
	s := in.Config.Storage
	var out []Finding
	keyFile := s.MasterKeyFile
	if keyFile == "" && s.DataDir != "" {
		keyFile = filepath.Join(s.DataDir, "master.key")
	}
	switch _, err := os.Stat(keyFile); {
	case os.Getenv(MasterKeyEnv) != "":
		if _, err := gm.LoadMasterKey(os.Getenv(MasterKeyEnv), ""); err != nil {
			out = append(out, Finding{What: "database", Level: Fail, Detail: MasterKeyEnv + ": " + err.Error()})
		}
	case err == nil:
		if _, err := gm.LoadMasterKey("", keyFile); err != nil {
			out = append(out, Finding{What: "database", Level: Fail, Detail: "master key: " + err.Error()})
		}
	case keyFile != "":
		out = append(out, Finding{What: "database", Level: Warn, Detail: fmt.Sprintf("no master key yet: serve makes %s (every replica needs the same one)", keyFile)})
	}
	url := s.DB
	if url == "" {
		if s.DataDir == "" {
			return out
		}
		url = filepath.Join(s.DataDir, in.Spec.SQLiteFile)
	}
	postgres := strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
	if !postgres {
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite://"), "sqlite:")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return append(out, Finding{What: "database", Level: OK, Detail: fmt.Sprintf("SQLite %s not made yet: serve makes it", path)})
		}
	}
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, url, s.DataDir, store.WithoutSharedMigrations(), store.WithLogger(quiet))
	if err != nil {
		return append(out, Finding{What: "database", Level: Fail, Detail: "unreachable: " + err.Error()})
	}
	defer db.Close()
	pending, err := Pending(ctx, db, in.Spec.Schema)
	switch {
	case err != nil:
		out = append(out, Finding{What: "database", Level: Fail, Detail: err.Error()})
	case pending != "":
		out = append(out, Finding{What: "database", Level: Warn, Detail: fmt.Sprintf("%s reachable; serve applies the migrations not applied yet: %s", db.Dialect, pending)})
	default:
		out = append(out, Finding{What: "database", Level: OK, Detail: fmt.Sprintf("%s reachable, every migration applied", db.Dialect)})
	}
	return out
}

// Pending names the migrations of the store and of schema that db has
// not applied ("" when none), e.g. "goose_institution 4".
func Pending(ctx context.Context, db *store.DB, schema Schema) (string, error) {
	shared, err := db.PendingShared(ctx)
	if err != nil {
		return "", err
	}
	own, err := db.PendingMigrations(ctx, schema.Migrations, schema.VersionTable)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, p := range []struct {
		table string
		v     []int64
	}{{store.SharedVersionTable, shared}, {schema.VersionTable, own}} {
		if len(p.v) > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", p.table, p.v))
		}
	}
	return strings.Join(parts, ", "), nil
}

// SchemaCurrent returns an error unless db is reachable and every
// migration of the store and of schema is applied.
func SchemaCurrent(ctx context.Context, db *store.DB, schema Schema) error {
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	pending, err := Pending(ctx, db, schema)
	if err != nil {
		return err
	}
	if pending != "" {
		return fmt.Errorf("migrations not applied: %s", pending)
	}
	return nil
}

// reachPeer calls the peer's base URL: any HTTP answer means it is
// reachable (its interfaces are POST only).
func reachPeer(ctx context.Context, p config.Peer, timeout time.Duration) Finding {
	f := Finding{What: "peer"}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.BaseURL, nil)
	if err != nil {
		f.Level, f.Detail = Fail, fmt.Sprintf("%s: %v", p.DisplayName(), err)
		return f
	}
	start := time.Now()
	res, err := NewHTTPClient(timeout).Do(req)
	if err != nil {
		f.Level, f.Detail = Fail, fmt.Sprintf("%s %s unreachable: %v", p.DisplayName(), p.BaseURL, err)
		return f
	}
	res.Body.Close()
	f.Detail = fmt.Sprintf("%s %s answered HTTP %d in %s", p.DisplayName(), p.BaseURL, res.StatusCode, time.Since(start).Round(time.Millisecond))
	return f
}
