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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// Spec is what a service tells the core about itself.
type Spec struct {
	// Name is "platform" or "institution": in the logs (service=Name),
	// the metrics (baohan_<Name>_...) and the admin API's realm.
	Name string
	// PeerKind is what its peers are, "institution" or "platform": in
	// messages and as the admin API's alias of the peer parameter.
	PeerKind string
	// SQLiteFile is the database file in storage.data_dir when
	// storage.db is empty.
	SQLiteFile string
	// Schema is the service's own tables.
	Schema Schema
	// MaxBlob bounds one blob kept in the database (0: the store's
	// default).
	MaxBlob int64
}

// Schema is a service's migrations, tracked in their own goose version
// table so that both services (and the store's own tables) can share one
// database.
type Schema struct {
	Migrations   fs.FS  // portable SQL, or sqlite/ and postgres/ directories
	VersionTable string // e.g. goose_platform
}

// MigrationsIn is the directory dir of an embedded file system: where a
// service embeds its migrations.
func MigrationsIn(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // a constant directory of the service's own embed
	}
	return sub
}

// Migrate applies the migrations not applied yet.
func (s Schema) Migrate(ctx context.Context, db *store.DB) error {
	return db.Migrate(ctx, s.Migrations, s.VersionTable)
}

// DefaultOutboxWorkers is the number of concurrent deliveries when
// outbox.workers is not set: 8 on SQLite, whose single writer serializes
// each delivery's transactions anyway (16 workers made the restores of a
// bid opening slower there, 8 faster than 4, most with an institution
// timing out: docs/PERFORMANCE.md), 32 on PostgreSQL, where
// deliveries wait on the network and on fsync (their outcomes are
// group-committed, so more of them share the commits: 32 made the bid
// opening faster than 16).
func DefaultOutboxWorkers(d store.Dialect) int {
	if d == store.Postgres {
		return 32
	}
	return 8
}

// Core is what both services are built on: the configuration they share
// with its defaults filled in, the store, the trust roots, the peers, the
// inbound pipeline, the signing client, the outbox dispatcher, the
// metrics and the admin token. Open builds it; the service then adds its
// own: the interfaces it serves (Server.Handle), its deliveries
// (Dispatcher.Deliver and OnOutcome), and its routes (Handler).
type Core struct {
	Spec   Spec
	Config config.Common // defaults filled in
	Log    *slog.Logger  // with service=<Name>
	Now    func() time.Time

	DB         *store.DB
	MasterKey  *gm.MasterKey
	Blobs      store.Blobs
	MessageLog *store.MessageLog
	Seen       *store.SeenSigns
	Roots      *gm.TrustRoots
	// CreditCodes reads the 统一社会信用代码 of a certificate where the
	// trust root that issued it puts it ([[trust_root]] credit_code_in).
	CreditCodes *pki.CreditCodes

	// Peers are the configured peers by name, ByAppKey the same by
	// appkey (the pipeline's directory).
	Peers    map[string]*transport.Peer
	ByAppKey transport.StaticPeers

	HTTP       *http.Client
	Server     *transport.Server
	Client     *transport.Client
	Dispatcher *store.Dispatcher
	// Files fetches and keeps the files peers name by URL (claims,
	// claim outcomes); Run runs it.
	Files *FileFetches

	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer

	admin     string
	ownDB     bool
	closeOnce sync.Once
}

// Open checks cfg and the peers, loads the trust roots and the admin
// token, opens the store (unless opts has one) and applies the store's
// and the service's migrations, and builds the pipeline, the client and
// the dispatcher. Nothing runs yet: serve Handler and call Run.
func Open(ctx context.Context, spec Spec, cfg config.Common, peers []config.Peer, o Options) (*Core, error) {
	cfg.Normalize()
	if err := cfg.Check(spec.PeerKind, peers); err != nil {
		return nil, fmt.Errorf("%s configuration: %w", spec.Name, err)
	}
	if cfg.TimestampWindow.Duration == 0 {
		cfg.TimestampWindow.Duration = config.DefaultTimestampWindow
	}
	c := &Core{Spec: spec, Config: cfg, Now: o.Now, Log: o.Logger.With("service", spec.Name)}
	for _, w := range cfg.Warnings {
		c.Log.Warn("configuration: " + w)
	}
	var err error
	if c.Peers, c.ByAppKey, err = transportPeers(peers, cfg.TimestampWindow); err != nil {
		return nil, err
	}
	if c.Roots, err = gm.LoadTrustRoots(config.TrustRootFiles(cfg.TrustRoots, cfg.TrustRoot)...); err != nil {
		return nil, err
	}
	if c.CreditCodes, err = config.CreditCodes(cfg.TrustRoot); err != nil {
		return nil, err
	}
	if c.admin, err = cfg.Admin.Resolve(); err != nil {
		return nil, err
	}

	if o.DB != nil {
		if o.MasterKey == nil {
			return nil, fmt.Errorf("%s: WithStore needs the master key", spec.Name)
		}
		c.DB, c.MasterKey = o.DB, o.MasterKey
	} else {
		if c.DB, c.MasterKey, err = OpenStore(ctx, cfg.Storage, spec.SQLiteFile); err != nil {
			return nil, err
		}
		c.ownDB = true
	}
	fail := func(err error) (*Core, error) {
		c.Close()
		return nil, err
	}
	if err := spec.Schema.Migrate(ctx, c.DB); err != nil {
		return fail(fmt.Errorf("%s migrations: %w", spec.Name, err))
	}
	if c.Blobs = o.Blobs; c.Blobs == nil {
		if c.Blobs, err = openBlobs(c.DB, cfg.Storage, spec.MaxBlob); err != nil {
			return fail(err)
		}
	}

	c.Registerer, c.Gatherer = o.Registerer, o.Gatherer
	if c.Registerer == nil {
		r := NewRegistry()
		c.Registerer, c.Gatherer = r, r
	}
	if err := c.Registerer.Register(newOutboxCollector(spec.Name, c.DB)); err != nil {
		return fail(fmt.Errorf("%s metrics: %w", spec.Name, err))
	}

	c.MessageLog = store.NewMessageLog(c.DB)
	c.MessageLog.Now = c.Now
	c.Seen = store.NewSeenSigns(c.DB)
	c.Seen.Now = c.Now
	if c.HTTP = o.HTTP; c.HTTP == nil {
		c.HTTP = NewHTTPClient(config.LongestTimeout(peers))
	}
	// Seen: the signs of what we send go into our own replay store, so a
	// request of ours posted back to us (one appsecret signs both
	// directions, the sign does not cover the interface) is a replay.
	c.Client = &transport.Client{HTTP: c.HTTP, Log: c.MessageLog, Now: c.Now, Seen: c.Seen}
	c.Files = &FileFetches{DB: c.DB, Blobs: c.Blobs, Now: c.Now, Log: c.Log, Every: cfg.Outbox.Poll.Duration,
		Fetcher: &transport.FileFetcher{Client: c.HTTP, AllowPlain: cfg.Listen.Plain, AllowPrivate: cfg.Fetch.AllowPrivateAddresses}}
	proxies, _ := cfg.Listen.Proxies()              // checked by Check
	budget, _ := cfg.Listen.UnauthenticatedBudget() // checked by Check
	c.Server = &transport.Server{
		Peers:                 c.ByAppKey,
		Log:                   c.MessageLog,
		Seen:                  c.Seen,
		Now:                   c.Now,
		MaxBody:               cfg.Listen.MaxBody,
		Prefix:                strings.TrimRight(cfg.Listen.Prefix, "/"),
		Logger:                c.Log,
		TrustedProxies:        proxies,
		UnauthenticatedBudget: budget,
	}

	ob := &c.Config.Outbox
	if ob.Workers == 0 {
		ob.Workers = DefaultOutboxWorkers(c.DB.Dialect)
	}
	if ob.Poll.Duration == 0 {
		ob.Poll.Duration = config.DefaultPoll
	}
	if ob.RetryInitial.Duration == 0 {
		ob.RetryInitial.Duration = config.DefaultRetryInitial
	}
	if ob.RetryMax.Duration == 0 {
		ob.RetryMax.Duration = max(config.DefaultRetryMax, ob.RetryInitial.Duration)
	}
	ob.Lease.Duration = ob.LeaseFor(peers)
	ob.PerPeer = ob.PerPeerFor(len(peers))
	backoff := store.Backoff{Initial: ob.RetryInitial.Duration, Max: ob.RetryMax.Duration, MaxAttempts: ob.MaxAttempts}
	if ob.MaxAttempts == 0 {
		backoff.MaxAttempts = -1 // retry until answered
	}
	if o.Backoff != nil {
		backoff = *o.Backoff
	}
	c.Dispatcher = &store.Dispatcher{
		DB:           c.DB,
		Owner:        o.Owner,
		Backoff:      backoff,
		Workers:      ob.Workers,
		PerPeer:      ob.PerPeer,
		Lease:        ob.Lease.Duration,
		PollInterval: ob.Poll.Duration,
		Logger:       c.Log,
		Now:          c.Now,
	}
	if c.DB.Dialect == store.Postgres {
		if err := c.Registerer.Register(newListeningGauge(spec.Name, c.Dispatcher)); err != nil {
			return fail(fmt.Errorf("%s metrics: %w", spec.Name, err))
		}
	}
	if c.Roots.Len() == 0 {
		c.Log.Warn("trust_roots: none configured; bidders' certificates and seals cannot be verified")
	}
	return c, nil
}

// transportPeers builds the peers' transport form, by name and by appkey;
// a peer without a timestamp_window of its own gets window.
func transportPeers(peers []config.Peer, window config.Duration) (map[string]*transport.Peer, transport.StaticPeers, error) {
	byName := make(map[string]*transport.Peer, len(peers))
	byKey := make(transport.StaticPeers, len(peers))
	for _, p := range peers {
		if p.TimestampWindow.Duration == 0 {
			p.TimestampWindow = window
		}
		tp, err := p.Transport()
		if err != nil {
			return nil, nil, err
		}
		tp.Name = p.DisplayName()
		byName[tp.Name], byKey[tp.AppKey] = tp, tp
	}
	return byName, byKey, nil
}

// openBlobs opens the blob store storage.blobs names. On PostgreSQL,
// where the default is the database, a blob directory left by a
// configuration that relied on the former default ("dir") is not
// silently abandoned: storage.blobs must then say which.
func openBlobs(db *store.DB, s config.Storage, maxBlob int64) (store.Blobs, error) {
	dir := filepath.Join(s.DataDir, "blobs")
	switch s.BlobsIn(db.Dialect.String()) {
	case config.BlobsDB:
		if s.Blobs == "" && s.DataDir != "" && nonEmptyDir(dir) {
			return nil, fmt.Errorf("storage.blobs is not set, and on PostgreSQL that means %q, but %s holds blobs: set storage.blobs = %q to keep them there (or %q once they are copied into the database)",
				config.BlobsDB, dir, config.BlobsDir, config.BlobsDB)
		}
		b := store.NewDBBlobs(db)
		if maxBlob > 0 {
			b.MaxSize = maxBlob
		}
		return b, nil
	default:
		b, err := store.NewDirBlobs(dir)
		if err != nil {
			return nil, fmt.Errorf("blob directory %s: %w", dir, err)
		}
		return b, nil
	}
}

func nonEmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return err == nil
}

// NewHTTPClient is the default client of the calls to peers: no redirects
// (a signed request goes where it is configured to, or fails), and the
// longest peer timeout as a bound of every call.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
}

// Run delivers the outbox, purges expired replay guards every minute and
// runs the service's own jobs, until ctx ends.
func (c *Core) Run(ctx context.Context, jobs ...func(context.Context)) error {
	if c.Dispatcher.Deliver == nil {
		return fmt.Errorf("%s: the dispatcher has no Deliver", c.Spec.Name)
	}
	var wg sync.WaitGroup
	jobs = append(jobs, func(ctx context.Context) { c.Seen.PurgeEvery(ctx, time.Minute) }, c.Files.Run)
	for _, job := range jobs {
		wg.Go(func() { job(ctx) })
	}
	err := c.Dispatcher.Run(ctx)
	wg.Wait()
	return err
}

// Every runs fn at once and then every interval until ctx ends: a job of
// Run.
func Every(interval time.Duration, fn func(context.Context)) func(context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			fn(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// Close closes the database when Open opened it.
func (c *Core) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.ownDB && c.DB != nil {
			err = c.DB.Close()
		}
	})
	return err
}

// AdminEnabled reports whether an admin token is configured.
func (c *Core) AdminEnabled() bool { return c.admin != "" }

// AdminTokenFile is the file in the data directory that holds the admin
// token `serve` makes when none is configured.
const AdminTokenFile = "admin.token"

// EnsureAdminToken gives a configuration without [admin] token and
// token_file the token in <data_dir>/admin.token, made (and printed once
// to w) when absent. `baohan <service> serve` calls it, so that an
// operator always has a token to use.
func EnsureAdminToken(c *config.Common, w io.Writer) error {
	if c.Admin.Token != "" || c.Admin.TokenFile != "" {
		return nil
	}
	if c.Storage.DataDir == "" {
		return errors.New("storage.data_dir is required")
	}
	if err := os.MkdirAll(c.Storage.DataDir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(c.Storage.DataDir, AdminTokenFile)
	token, made, err := ReadOrMakeSecret(path)
	if err != nil {
		return err
	}
	if made {
		fmt.Fprintf(w, "admin API bearer token %s (kept in %s)\n", token, path)
	}
	c.Admin.TokenFile = path
	return nil
}
