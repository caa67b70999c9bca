package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"

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
	core   *service.Core
	cfg    Config
	db     *store.DB
	mk     *gm.MasterKey
	blobs  store.Blobs
	roots  *smx509.CertPool
	codes  *pki.CreditCodes           // where each trust root's CAs put the credit code
	pins   map[string]*sealPin        // the institutions' seals, by name
	peers  map[string]*transport.Peer // by institution name
	now    func() time.Time
	log    *slog.Logger
	msgLog *store.MessageLog

	metrics *metrics
	client  *transport.Client
	disp    *store.Dispatcher
	handler *service.Mux

	// sealCheck replaces verifySeals (benchmarks of the streaming path).
	sealCheck func(ctx context.Context, blob string, size int64) (bool, []byte, string, error)

	// drops are the deletions of a completed file's chunk blobs, after
	// the answer (Close waits for them).
	drops sync.WaitGroup
}

// spec is the platform to the service core.
var spec = service.Spec{
	Name:       "platform",
	PeerKind:   "institution",
	SQLiteFile: DefaultSQLiteFile,
	Schema:     service.Schema{Migrations: Migrations(), VersionTable: VersionTable},
}

// Option configures New: the options of every service (package service)
// and the platform's own.
type Option = service.Option

// The options every service takes (package service).
var (
	WithClock           = service.WithClock
	WithLogger          = service.WithLogger
	WithHTTPClient      = service.WithHTTPClient
	WithMetrics         = service.WithMetrics
	WithRegistry        = service.WithRegistry
	WithStore           = service.WithStore
	WithBlobs           = service.WithBlobs
	WithDispatcherOwner = service.WithDispatcherOwner
	WithBackoff         = service.WithBackoff
)

// sealFunc replaces the guarantee check (benchmarks of the streaming path).
type sealFunc func(ctx context.Context, blob string, size int64) (bool, []byte, string, error)

// New opens the store (unless WithStore), applies the migrations, loads
// the trust roots and builds the service. It starts nothing: serve
// Handler and call Run.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := service.Apply(opts)
	cfg = cfg.withDefaults()
	if err := cfg.validateOwn(); err != nil {
		return nil, fmt.Errorf("platform configuration: %w", err)
	}
	pins, err := cfg.sealPins()
	if err != nil {
		return nil, err
	}
	sp := spec
	sp.MaxBlob = cfg.MaxFileSize + 1<<20
	core, err := service.Open(ctx, sp, cfg.Common, cfg.peerConfigs(), o)
	if err != nil {
		return nil, err
	}
	cfg.Common = core.Config
	s := &Service{core: core, cfg: cfg, pins: pins, db: core.DB, mk: core.MasterKey, blobs: core.Blobs, roots: core.Roots.Pool(),
		codes: core.CreditCodes, peers: core.Peers, now: core.Now, log: core.Log, msgLog: core.MessageLog, client: core.Client, disp: core.Dispatcher}
	for _, f := range service.OwnOptions[sealFunc](o) {
		s.sealCheck = f
	}
	if s.metrics, err = newMetrics(core.Registerer); err != nil {
		core.Close()
		return nil, err
	}
	core.Client.Metrics = s.metrics
	core.Server.Metrics = s.metrics // counts exchanges, and what the unauthenticated budget drops

	// The body limit of uploadbaohanfile follows from the largest
	// max_chunk_size: a chunk travels as base64 (4/3) or hex (2) inside a
	// small JSON object.
	var maxBody int64
	for _, p := range s.peers {
		n := int64(p.Profile.MaxChunk())
		if p.Profile.Encoding == gm.Hex {
			n *= 2
		} else {
			n = n * 4 / 3
		}
		maxBody = max(maxBody, n+64<<10)
	}
	core.Server.BodyLimits = map[protocol.Interface]int64{protocol.UploadBaohanFile: maxBody}
	core.Server.Handle(protocol.BaohanNotice, s.handleNotice)
	core.Server.Handle(protocol.DownloadPublicKey, s.handlePublicKey)
	core.Server.Handle(protocol.UploadBaohanFile, s.handleUpload)
	core.Server.Handle(protocol.BaohanFileCompleteNotice, s.handleComplete)
	core.Server.Handle(protocol.InvoiceNotice, s.handleInvoiceNotice)
	core.Server.Handle(protocol.QuitNotice, s.handleQuitNotice)
	core.Server.Handle(protocol.GiveupNotice, s.handleGiveupNotice)
	core.Server.Handle(protocol.ClaimsResultNotice, s.handleClaimsResult)
	core.Server.Handle(protocol.ClaimsRepayNotice, s.handleClaimsRepay)
	core.Dispatcher.Deliver = s.deliver
	core.Dispatcher.OnOutcome = s.onOutcome

	s.handler = core.Handler(service.Routes{Admin: s.adminRoutes})
	s.log.Info("platform ready", "institutions", len(s.peers), "trust_roots", core.Roots.Len(), "db", s.db.Dialect.String(),
		"prefix", core.Server.Prefix, "admin_api", core.AdminEnabled())
	return s, nil
}

// Handler serves the protocol endpoints (<prefix>/<interface>), the admin
// API (/api/, described at /api/openapi.json), /metrics, /healthz and
// /readyz.
func (s *Service) Handler() http.Handler { return s.handler }

// Routes are the patterns Handler serves.
func (s *Service) Routes() []string { return s.handler.Patterns() }

// Run delivers the outbox (the calls and the scheduled restores) and
// purges expired replay guards and stale chunks, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return s.core.Run(ctx, service.Every(time.Hour, s.purgeStaleChunks), service.Every(checkReceivedEvery, s.checkReceived))
}

// Close waits for the chunk blobs being deleted and closes the database
// when New opened it.
func (s *Service) Close() error {
	s.drops.Wait()
	return s.core.Close()
}

// DB is the service's database (for consoles built on the service).
func (s *Service) DB() *store.DB { return s.db }

// Blobs returns the service's blob store (guarantee files, chunks).
func (s *Service) Blobs() store.Blobs { return s.blobs }

// MessageLog is the service's message log.
func (s *Service) MessageLog() *store.MessageLog { return s.msgLog }

// Config returns the configuration in use (defaults filled in).
func (s *Service) Config() Config { return s.cfg }

// DeriveKey returns a key for one use named by label, derived from the
// master key (gm.MasterKey.DeriveKey): every process of the platform on
// one database has the same master key, so they derive the same key. The
// console's login challenges are made with one.
func (s *Service) DeriveKey(label string) ([]byte, error) { return s.mk.DeriveKey(label) }

// TrustRoots are the CA certificates the platform accepts (trust_roots
// and [[trust_root]]), loaded once.
func (s *Service) TrustRoots() *gm.TrustRoots { return s.core.Roots }

// staleChunkAge is how long chunks of a file never completed are kept.
const staleChunkAge = 7 * 24 * time.Hour

// purgeStaleChunks deletes chunks older than staleChunkAge (uploads
// never completed): a job of Run.
func (s *Service) purgeStaleChunks(ctx context.Context) {
	if n, err := s.PurgeStaleChunks(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("purging stale chunks", "err", err)
	} else if n > 0 {
		s.log.Info("stale chunks purged", "chunks", n)
	}
}

// PurgeStaleChunks deletes the chunks of uploads not completed within a
// week, and returns how many.
func (s *Service) PurgeStaleChunks(ctx context.Context) (int, error) {
	cut := store.Micros(s.now().Add(-staleChunkAge))
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
