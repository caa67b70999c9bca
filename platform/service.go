package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// Service is the platform: construct with New, serve Handler, run the
// background work with Run, and Close at the end.
type Service struct {
	cfg    Config
	db     *store.DB
	ownDB  bool
	mk     *gm.MasterKey
	blobs  store.Blobs
	roots  *smx509.CertPool
	codes  *pki.CreditCodes           // where each trust root's CAs put the credit code
	pins   map[string]*sealPin        // the institutions' seals, by name
	peers  map[string]*transport.Peer // by institution name
	byKey  transport.StaticPeers      // by appkey
	now    func() time.Time
	log    *slog.Logger
	reg    *prometheus.Registry
	msgLog *store.MessageLog
	seen   *store.SeenSigns

	metrics *metrics
	stamps  stamps
	server  *transport.Server
	client  *transport.Client
	disp    *store.Dispatcher
	admin   string // the admin API's bearer token ("" disables the API)
	handler http.Handler

	// sealCheck replaces verifySeals (benchmarks of the streaming path).
	sealCheck func(ctx context.Context, blob string, size int64) (bool, []byte, string, error)

	closeOnce sync.Once
}

// Option configures New.
type Option func(*options)

type options struct {
	now      func() time.Time
	logger   *slog.Logger
	http     *http.Client
	reg      *prometheus.Registry
	db       *store.DB
	mk       *gm.MasterKey
	blobs    store.Blobs
	owner    string
	backoff  *store.Backoff
	sealFunc func(ctx context.Context, blob string, size int64) (bool, []byte, string, error)
}

// WithClock sets the clock (default time.Now): the bid-opening checks,
// the timestamp window and the outbox schedule all read it.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the structured logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient sets the client of the calls to institutions (default:
// a client with the institution's timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.http = c } }

// WithRegistry sets the Prometheus registry the metrics go to (default: a
// registry of the service's own, served at /metrics).
func WithRegistry(r *prometheus.Registry) Option { return func(o *options) { o.reg = r } }

// WithStore uses an open database and master key instead of opening them
// from Config.Storage; Close then leaves the database open.
func WithStore(db *store.DB, mk *gm.MasterKey) Option {
	return func(o *options) { o.db, o.mk = db, mk }
}

// WithBlobs sets the blob store (default: Config.Blobs).
func WithBlobs(b store.Blobs) Option { return func(o *options) { o.blobs = b } }

// WithDispatcherOwner names this process in the outbox leases.
func WithDispatcherOwner(owner string) Option { return func(o *options) { o.owner = owner } }

// WithBackoff sets the outbox retry policy (default from Config.Outbox).
func WithBackoff(b store.Backoff) Option { return func(o *options) { o.backoff = &b } }

// New opens the store (unless WithStore), applies the migrations, loads
// the trust roots and builds the service. It starts nothing: serve
// Handler and call Run.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := options{now: time.Now, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("platform configuration: %w", err)
	}
	s := &Service{cfg: cfg, now: o.now, log: o.logger.With("service", "platform"), sealCheck: o.sealFunc}
	var err error
	if s.peers, err = cfg.peers(); err != nil {
		return nil, err
	}
	s.byKey = transport.StaticPeers{}
	for _, p := range s.peers {
		s.byKey[p.AppKey] = p
	}
	var n int
	if s.roots, n, err = loadTrustRoots(config.TrustRootFiles(cfg.TrustRoots, cfg.TrustRoot)); err != nil {
		return nil, err
	}
	if s.codes, err = config.CreditCodes(cfg.TrustRoot); err != nil {
		return nil, err
	}
	if s.pins, err = cfg.sealPins(); err != nil {
		return nil, err
	}
	if s.admin, err = adminToken(cfg); err != nil {
		return nil, err
	}

	if o.db != nil {
		s.db, s.mk = o.db, o.mk
		if s.mk == nil {
			return nil, errors.New("platform: WithStore needs the master key")
		}
	} else {
		if s.db, s.mk, err = service.OpenStore(ctx, cfg.Storage, DefaultSQLiteFile); err != nil {
			return nil, err
		}
		s.ownDB = true
	}
	fail := func(err error) (*Service, error) {
		s.Close()
		return nil, err
	}
	if err := s.db.Migrate(ctx, Migrations(), VersionTable); err != nil {
		return fail(err)
	}
	switch {
	case o.blobs != nil:
		s.blobs = o.blobs
	case cfg.Blobs == "db":
		b := store.NewDBBlobs(s.db)
		b.MaxSize = cfg.MaxFileSize + 1<<20
		s.blobs = b
	default:
		dir := filepath.Join(cfg.Storage.DataDir, "blobs")
		if s.blobs, err = store.NewDirBlobs(dir); err != nil {
			return fail(fmt.Errorf("blob directory %s: %w", dir, err))
		}
	}

	s.reg = o.reg
	if s.reg == nil {
		s.reg = defaultRegistry()
	}
	s.metrics = newMetrics(s.reg, s.db)
	s.msgLog = store.NewMessageLog(s.db)
	s.msgLog.Now = s.now
	s.seen = store.NewSeenSigns(s.db)
	s.seen.Now = s.now
	mlog := &messageLog{log: s.msgLog}

	httpClient := o.http
	if httpClient == nil {
		httpClient = &http.Client{Timeout: maxTimeout(cfg)}
	}
	// Seen: the signs of what we send go into our own replay store, so a
	// request of ours posted back to us (one appsecret signs both
	// directions, the sign does not cover the interface) is a replay.
	s.client = &transport.Client{HTTP: httpClient, Log: mlog, Metrics: s.metrics, Now: s.now, Seen: s.seen}

	maxChunk := 0
	for _, p := range s.peers {
		maxChunk = max(maxChunk, p.Profile.ChunkSize)
	}
	proxies, err := cfg.Listen.Proxies()
	if err != nil {
		return fail(err)
	}
	budget, err := cfg.Listen.UnauthenticatedBudget()
	if err != nil {
		return fail(err)
	}
	s.server = &transport.Server{
		TrustedProxies: proxies,
		Peers:          s.byKey,
		Log:            mlog,
		Metrics:        s.metrics,
		Seen:           s.seen,
		Now:            s.now,
		// A chunk travels as base64 (4/3) inside a small JSON object.
		BodyLimits: map[protocol.Interface]int64{protocol.UploadBaohanFile: int64(maxChunk)*4/3 + 64<<10},
		Prefix:     strings.TrimRight(cfg.Listen.Prefix, "/"),
		Logger:     s.log,
	}
	s.server.UnauthenticatedBudget = budget
	s.server.Handle(protocol.BaohanNotice, served(s.handleNotice))
	s.server.Handle(protocol.DownloadPublicKey, served(s.handlePublicKey))
	s.server.Handle(protocol.UploadBaohanFile, served(s.handleUpload))
	s.server.Handle(protocol.BaohanFileCompleteNotice, served(s.handleComplete))
	s.server.Handle(protocol.InvoiceNotice, served(s.handleInvoiceNotice))
	s.server.Handle(protocol.QuitNotice, served(s.handleQuitNotice))
	s.server.Handle(protocol.GiveupNotice, served(s.handleGiveupNotice))

	if s.cfg.Outbox.Workers <= 0 {
		s.cfg.Outbox.Workers = DefaultOutboxWorkers(s.db.Dialect)
	}
	backoff := store.Backoff{MaxAttempts: cfg.Outbox.MaxAttempts, Max: cfg.Outbox.BackoffMax.Duration}
	if o.backoff != nil {
		backoff = *o.backoff
	}
	s.disp = &store.Dispatcher{
		DB:           s.db,
		Owner:        o.owner,
		Deliver:      s.deliver,
		OnOutcome:    s.onOutcome,
		Backoff:      backoff,
		Workers:      s.cfg.Outbox.Workers,
		PerPeer:      cfg.perInstitution(),
		Lease:        cfg.Outbox.Lease.Duration,
		PollInterval: cfg.Outbox.PollInterval.Duration,
		Logger:       s.log,
		Now:          s.now,
	}
	if s.roots == nil {
		s.log.Warn(ErrNoTrustRoots.Error())
	}
	s.handler = s.routes()
	s.log.Info("platform ready", "institutions", len(s.peers), "trust_roots", n, "db", s.db.Dialect.String(),
		"prefix", s.server.Prefix, "admin_api", s.admin != "")
	return s, nil
}

func maxTimeout(cfg Config) time.Duration {
	d := time.Duration(0)
	for _, in := range cfg.Institutions {
		d = max(d, in.CallTimeout())
	}
	return d
}

// adminToken returns the configured admin token, or the one in
// AdminTokenFile.
func adminToken(cfg Config) (string, error) {
	if cfg.AdminToken != "" {
		return cfg.AdminToken, nil
	}
	if cfg.AdminTokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(cfg.AdminTokenFile)
	if err != nil {
		return "", fmt.Errorf("admin_token_file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < 16 {
		return "", fmt.Errorf("admin_token_file %s: the token is shorter than 16 characters", cfg.AdminTokenFile)
	}
	return t, nil
}

// Handler serves the protocol endpoints (<prefix>/<interface>), the admin
// API (/api/), /metrics and /healthz.
func (s *Service) Handler() http.Handler { return s.handler }

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", s.adminHandler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("/", s.server)
	return mux
}

func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.db.PingContext(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"status":"unavailable","error":"database: %s"}`+"\n", jsonEscape(err.Error()))
		return
	}
	fmt.Fprintln(w, `{"status":"ok"}`)
}

// Run delivers the outbox (the calls and the scheduled restores) and
// purges expired replay guards and stale chunks, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.seen.PurgeEvery(ctx, time.Minute) }()
	go func() { defer wg.Done(); s.purgeChunksEvery(ctx, time.Hour) }()
	err := s.disp.Run(ctx)
	wg.Wait()
	return err
}

// kick wakes the dispatcher after a commit that enqueued something.
func (s *Service) kick() { s.disp.Kick() }

// Close closes the database when New opened it.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.ownDB && s.db != nil {
			err = s.db.Close()
		}
	})
	return err
}

// DB is the service's database (for consoles built on the service).
func (s *Service) DB() *store.DB { return s.db }

// MessageLog is the service's message log.
func (s *Service) MessageLog() *store.MessageLog { return s.msgLog }

// Config returns the configuration in use (defaults filled in).
func (s *Service) Config() Config { return s.cfg }

// TrustRoots are the CA certificates of trust_roots and [[trust_root]],
// loaded once (nil when none is configured). Do not add to the pool.
func (s *Service) TrustRoots() *smx509.CertPool { return s.roots }

// DeriveKey returns a key for one use named by label, derived from the
// master key (gm.MasterKey.DeriveKey): every process of the platform on
// one database has the same master key, so they derive the same key. The
// console's login challenges are made with one.
func (s *Service) DeriveKey(label string) ([]byte, error) { return s.mk.DeriveKey(label) }

// staleChunkAge is how long chunks of a file never completed are kept.
const staleChunkAge = 7 * 24 * time.Hour

// purgeChunksEvery deletes chunks older than staleChunkAge (uploads never
// completed) every interval.
func (s *Service) purgeChunksEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.PurgeStaleChunks(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("purging stale chunks", "err", err)
		} else if n > 0 {
			s.log.Info("stale chunks purged", "chunks", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeStaleChunks deletes the chunks of uploads not completed within a
// week, and returns how many.
func (s *Service) PurgeStaleChunks(ctx context.Context) (int, error) {
	cut := micros(s.now().Add(-staleChunkAge))
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT applyno, baohanno, filetype, idx, blob FROM plat_chunks WHERE created_at < ? LIMIT 1000`), cut)
	if err != nil {
		return 0, err
	}
	type key struct {
		applyNo, baohanNo string
		fileType, idx     int
		blob              string
	}
	var ks []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.applyNo, &k.baohanNo, &k.fileType, &k.idx, &k.blob); err != nil {
			rows.Close()
			return 0, err
		}
		ks = append(ks, k)
	}
	rows.Close()
	for _, k := range ks {
		if _, err := s.db.Writer().ExecContext(ctx, s.db.Rebind(`DELETE FROM plat_chunks WHERE applyno = ? AND baohanno = ? AND filetype = ? AND idx = ?`),
			k.applyNo, k.baohanNo, k.fileType, k.idx); err != nil {
			return 0, err
		}
		if err := s.blobs.Delete(ctx, k.blob); err != nil {
			s.log.Warn("deleting chunk blob", "applyno", k.applyNo, "err", err)
		}
	}
	return len(ks), nil
}

func jsonEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return r.Replace(s)
}
