package institution

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/bidderauth"
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
	core *service.Core
	cfg  Config
	chk  *checked
	db   *store.DB
	mk   *gm.MasterKey
	repo repo

	peers  *peerSet
	docs   Documents
	pay    PaymentProvider
	inv    InvoiceIssuer
	blobs  blobStore
	msgs   *store.MessageLog
	client *transport.Client
	disp   *store.Dispatcher

	now     func() time.Time
	logger  *slog.Logger
	metrics *metrics
	handler *service.Mux

	appLocks keyedMutex // bidder steps with outside effects, one at a time per application

	bidderRoots *smx509.CertPool // trust roots of bidder certificates (quit and give-up proofs); nil: none configured
	codes       *pki.CreditCodes // where each trust root's CAs put the bidder's credit code
	challenges  *bidderauth.Challenges
}

// spec is the institution to the service core.
var spec = service.Spec{
	Name:       "institution",
	PeerKind:   "platform",
	SQLiteFile: "institution.db",
	Schema:     service.Schema{Migrations: Migrations(), VersionTable: VersionTable},
}

// Option configures New: the options of every service (package service)
// and the institution's own (WithDocuments, WithPaymentProvider,
// WithInvoiceIssuer).
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

// WithDocuments replaces the OFD maker (default: ofd/guarantee and ofd/ses
// with the configured seal).
func WithDocuments(d Documents) Option { return service.Own(d) }

// WithPaymentProvider plugs a real payment provider (default: simulated,
// every payment succeeds with a generated reference).
func WithPaymentProvider(p PaymentProvider) Option { return service.Own(p) }

// WithInvoiceIssuer plugs a real invoicing system (default: the built-in
// issuer, numbered invoices served at /invoices/<token>).
func WithInvoiceIssuer(i InvoiceIssuer) Option { return service.Own(i) }

// New checks cfg, opens the store (unless WithStore), applies the
// migrations, loads the seal and the trust roots, and returns a Service
// ready to serve. Call Run to deliver outbound messages and Close at the
// end.
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := service.Apply(opts)
	cfg = cfg.withDefaults()
	chk, err := cfg.check()
	if err != nil {
		return nil, fmt.Errorf("institution configuration: %w", err)
	}
	core, err := service.Open(ctx, spec, cfg.Common, cfg.peerConfigs(), o)
	if err != nil {
		return nil, err
	}
	cfg.Common = core.Config
	cfg.Listen.PublicURL = strings.TrimRight(cfg.Listen.PublicURL, "/")
	s := &Service{core: core, cfg: cfg, chk: chk, db: core.DB, mk: core.MasterKey, repo: repo{d: core.DB.Dialect},
		blobs: blobStore{b: core.Blobs}, msgs: core.MessageLog, client: core.Client, disp: core.Dispatcher,
		now: core.Now, logger: core.Log, bidderRoots: core.Roots.Pool(), codes: core.CreditCodes}
	fail := func(err error) (*Service, error) {
		core.Close()
		return nil, err
	}
	if s.peers, err = newPeerSet(cfg.Platforms, core.Peers); err != nil {
		return fail(err)
	}
	for _, d := range service.OwnOptions[Documents](o) {
		s.docs = d
	}
	for _, p := range service.OwnOptions[PaymentProvider](o) {
		s.pay = p
	}
	for _, i := range service.OwnOptions[InvoiceIssuer](o) {
		s.inv = i
	}
	if s.pay == nil {
		s.pay = SimulatedPayments{}
	}
	if s.inv == nil {
		s.inv = &builtinInvoices{svc: s}
	}
	if s.metrics, err = newMetrics(core.Registerer); err != nil {
		return fail(err)
	}
	if s.docs == nil {
		d, err := NewOFDDocuments(cfg.Institution, core.Roots, s.now)
		if err != nil {
			return fail(err)
		}
		s.docs = d
	}
	if s.challenges, err = bidderChallenges(s.mk); err != nil {
		return fail(err)
	}
	// No bidder token in the message log (redact.go).
	core.Server.Log = redactingLog{s.msgs}
	// The answer to baohanapply holds the bidder token, kept here only
	// hashed and sealed: the replay store does not keep it, and a retry
	// is answered again by the handler (from the sealed copy).
	core.Server.Rehandle = map[protocol.Interface]bool{protocol.BaohanApply: true}
	core.Client.Log = redactingLog{s.msgs}
	core.Server.Metrics = s.metrics // counts what the unauthenticated budget drops
	s.registerInterfaces(core.Server)
	core.Dispatcher.Deliver = s.deliver
	core.Dispatcher.OnOutcome = s.onOutcome
	s.handler = core.Handler(service.Routes{Admin: s.adminRoutes, Public: s.publicRoutes})
	return s, nil
}

// Handler serves everything: the protocol interfaces at
// <prefix>/<name>, the bidder API at /bidder/, invoices at /invoices/,
// the admin API at /api/ (described at /api/openapi.json), /metrics,
// /healthz and /readyz.
func (s *Service) Handler() http.Handler { return s.handler }

// Routes are the patterns Handler serves.
func (s *Service) Routes() []string { return s.handler.Patterns() }

// Run delivers outbound messages, finishes work a crash interrupted and
// purges expired replay records, until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	return s.core.Run(ctx, service.Every(resumeEvery, s.resume))
}

// Close releases the database when the service opened it.
func (s *Service) Close() error { return s.core.Close() }

// Config returns the configuration the service runs with.
func (s *Service) Config() Config { return s.cfg }

// DB returns the service's database (for the consoles and tests).
func (s *Service) DB() *store.DB { return s.db }

// TrustRoots are the CA certificates of the bidders' certificates
// (trust_roots and [[trust_root]]), loaded once.
func (s *Service) TrustRoots() *gm.TrustRoots { return s.core.Roots }
