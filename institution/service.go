package institution

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// Service is one institution: its HTTP handler (the served interfaces,
// the bidder's API, the admin API, invoices and metrics), its outbox
// dispatcher, and the Go methods the consoles and the demo call.
type Service struct {
	cfg    Config
	chk    *checked
	db     *store.DB
	mk     *gm.MasterKey
	ownsDB bool
	repo   repo

	peers  *peerSet
	docs   Documents
	pay    PaymentProvider
	inv    InvoiceIssuer
	blobs  blobStore
	mlog   transport.MessageLog
	msgs   *store.MessageLog
	seenDB *store.SeenSigns
	seen   protocol.SeenStore
	server *transport.Server
	client *transport.Client
	disp   *store.Dispatcher
	// enqueued counts the outbox messages enqueued (enqueueIn), so that
	// inTx wakes the dispatcher only after a transaction that enqueued.
	enqueued atomic.Uint64

	now     func() time.Time
	logger  *slog.Logger
	http    *http.Client
	metrics *metrics
	handler http.Handler

	closeOnce sync.Once
	appLocks  keyedMutex // bidder steps with outside effects, one at a time per application
	sent      sentSeconds

	bidderRoots *smx509.CertPool // trust roots of bidder certificates (quit and give-up proofs); nil: none configured
	codes       *pki.CreditCodes // where each trust root's CAs put the bidder's credit code
	challenges  *bidderauth.Challenges
}

// Option configures New.
type Option func(*options)

type options struct {
	now      func() time.Time
	logger   *slog.Logger
	http     *http.Client
	registry prometheus.Registerer
	gatherer prometheus.Gatherer
	db       *store.DB
	mk       *gm.MasterKey
	docs     Documents
	pay      PaymentProvider
	inv      InvoiceIssuer
}

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient sets the client of outbound calls (default: a client with
// the per-peer timeouts and no redirects).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.http = c } }

// WithMetrics registers the service's metrics on r, and serves g at
// /metrics (both default to a private registry).
func WithMetrics(r prometheus.Registerer, g prometheus.Gatherer) Option {
	return func(o *options) { o.registry, o.gatherer = r, g }
}

// WithStore uses an open database and master key instead of opening
// cfg.Storage (the service then does not close them).
func WithStore(db *store.DB, mk *gm.MasterKey) Option {
	return func(o *options) { o.db, o.mk = db, mk }
}

// WithDocuments replaces the OFD maker (default: ofd/guarantee and ofd/ses
// with the configured seal).
func WithDocuments(d Documents) Option { return func(o *options) { o.docs = d } }

// WithPaymentProvider plugs a real payment provider (default: simulated,
// every payment succeeds with a generated reference).
func WithPaymentProvider(p PaymentProvider) Option { return func(o *options) { o.pay = p } }

// WithInvoiceIssuer plugs a real invoicing system (default: the built-in
// issuer, numbered invoices served at /invoices/<token>).
func WithInvoiceIssuer(i InvoiceIssuer) Option { return func(o *options) { o.inv = i } }

// New checks cfg, opens the store (unless WithStore), applies the
// migrations, loads the seal and the trust roots, and returns a Service
// ready to serve. Call Run to deliver outbound messages and Close at the
// end.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := options{now: time.Now, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	chk, err := cfg.check()
	if err != nil {
		return nil, fmt.Errorf("institution config: %w", err)
	}
	peers, err := newPeerSet(cfg.Platforms)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, chk: chk, peers: peers, now: o.now, logger: o.logger, pay: o.pay, inv: o.inv}
	s.cfg.Listen.PublicURL = strings.TrimRight(cfg.Listen.PublicURL, "/")
	if s.pay == nil {
		s.pay = SimulatedPayments{}
	}
	if s.inv == nil {
		s.inv = &builtinInvoices{svc: s}
	}
	s.http = o.http
	if s.http == nil {
		s.http = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	reg, gat := o.registry, o.gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gat = r, r
	}
	if s.metrics, err = newMetrics(reg, gat); err != nil {
		return nil, err
	}

	s.docs = o.docs
	if s.docs == nil {
		d, err := NewOFDDocuments(cfg.Institution, config.TrustRootFiles(cfg.TrustRoots, cfg.TrustRoot), s.now)
		if err != nil {
			return nil, err
		}
		s.docs = d
	}
	if s.bidderRoots, err = loadTrustRoots(config.TrustRootFiles(cfg.TrustRoots, cfg.TrustRoot)); err != nil {
		return nil, err
	}
	if s.codes, err = config.CreditCodes(cfg.TrustRoot); err != nil {
		return nil, err
	}

	if o.db != nil {
		s.db, s.mk = o.db, o.mk
	} else {
		db, mk, err := service.OpenStore(ctx, cfg.Storage, "institution.db")
		if err != nil {
			return nil, err
		}
		s.db, s.mk, s.ownsDB = db, mk, true
	}
	if s.mk == nil {
		s.Close()
		return nil, errors.New("institution: a master key is required")
	}
	if s.challenges, err = bidderChallenges(s.mk); err != nil {
		s.Close()
		return nil, err
	}
	s.repo = repo{d: s.db.Dialect}
	mig, err := fs.Sub(Migrations, "migrations")
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.db.Migrate(ctx, mig, MigrationTable); err != nil {
		s.Close()
		return nil, fmt.Errorf("institution migrations: %w", err)
	}
	if err := s.wireStore(); err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves everything: the protocol interfaces at
// <prefix>/<name>, the bidder API at /bidder/, invoices at /invoices/,
// the admin API at /api/ and metrics at /metrics.
func (s *Service) Handler() http.Handler { return s.handler }

// Run delivers outbound messages, finishes work a crash interrupted and
// purges expired replay records, until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.seenDB.PurgeEvery(ctx, 10*time.Minute)
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(resumeEvery)
		defer t.Stop()
		for {
			s.resume(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	err := s.disp.Run(ctx)
	wg.Wait()
	return err
}

// Close releases the database when the service opened it.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.ownsDB && s.db != nil {
			err = s.db.Close()
		}
	})
	return err
}

// Config returns the configuration the service runs with.
func (s *Service) Config() Config { return s.cfg }

// TrustRoots are the CA certificates of trust_roots and [[trust_root]],
// loaded once (nil when none is configured). Do not add to the pool.
func (s *Service) TrustRoots() *smx509.CertPool { return s.bidderRoots }

// DB returns the service's database (for the consoles and tests).
func (s *Service) DB() *store.DB { return s.db }
