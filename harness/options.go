package harness

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/web"
)

// Option changes the system before it starts.
type Option func(*options)

type options struct {
	dir            string
	ownDir         bool
	parties        Parties
	platDB, instDB string
	clock          *Clock
	pki            *PKI
	ca             *pki.CA
	chunkSize      int
	timeout        time.Duration
	poll           time.Duration
	backoff        *store.Backoff
	platPeer       []func(*config.Peer)
	instPeer       []func(*config.Peer)
	platCfg        []func(*platform.Config)
	instCfg        []func(*institution.Config)
	platOpts       []platform.Option
	instOpts       []institution.Option
	tls            *tls.Config
	tlsRoots       *x509.CertPool
	consoles       bool
	authOpts       []web.AuthOption
	logger         *slog.Logger
	quiet          bool
	noBidder       bool
	bare           bool
	forget         bool
	platWrap       func(http.Handler) http.Handler
	instWrap       func(http.Handler) http.Handler
}

// WithDir keeps the data (databases, PKI, blobs) in dir, which outlives
// the system. Default: a new temporary directory (Start: the test's),
// removed at the end.
func WithDir(dir string) Option { return func(o *options) { o.dir = dir } }

// WithParties names the parties and sets the secrets they share.
func WithParties(p Parties) Option { return func(o *options) { o.parties = p } }

// WithDB sets the services' database URLs: "" is a SQLite file in the
// service's data directory, a path or sqlite:PATH a SQLite file there,
// postgres://... a PostgreSQL database (with search_path, a schema:
// storetest.FreshSchema in tests). store has no in-memory SQLite (each
// connection would get its own database): a file in the test's
// temporary directory is the fast choice.
func WithDB(platformDB, institutionDB string) Option {
	return func(o *options) { o.platDB, o.instDB = platformDB, institutionDB }
}

// WithPlatformDB sets the platform's database URL alone.
func WithPlatformDB(url string) Option { return func(o *options) { o.platDB = url } }

// WithInstitutionDB sets the institution's database URL alone.
func WithInstitutionDB(url string) Option { return func(o *options) { o.instDB = url } }

// WithClock makes the services, peers and bidder read c (default: a new
// Clock).
func WithClock(c *Clock) Option { return func(o *options) { o.clock = c } }

// WithPKI uses p instead of the PKI in the data directory.
func WithPKI(p *PKI) Option { return func(o *options) { o.pki = p } }

// WithCA makes the PKI in the data directory with ca as its CA.
func WithCA(ca *pki.CA) Option { return func(o *options) { o.ca = ca } }

// WithChunkSize is the chunk size both peers agree on (default 4096; 0
// keeps the default).
func WithChunkSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.chunkSize = n
		}
	}
}

// WithTimeout is each service's timeout for a call to the other
// (default 5s; 0: the peer configuration's default).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithPoll is how often both outboxes look for due messages (default
// 20ms).
func WithPoll(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithBackoff is the platform outbox's retry schedule; nil: the one its
// configuration gives. Default: 20ms doubling to 200ms, no jitter,
// retried for ever.
func WithBackoff(b *store.Backoff) Option { return func(o *options) { o.backoff = b } }

// WithPlatformPeer edits the institution as the platform knows it (the
// peer dialect: layouts, digests, index base, rate limits...).
func WithPlatformPeer(fn func(*config.Peer)) Option {
	return func(o *options) { o.platPeer = append(o.platPeer, fn) }
}

// WithInstitutionPeer edits the platform as the institution knows it.
func WithInstitutionPeer(fn func(*config.Peer)) Option {
	return func(o *options) { o.instPeer = append(o.instPeer, fn) }
}

// WithPlatformConfig edits the platform's configuration (after the peer
// edits).
func WithPlatformConfig(fn func(*platform.Config)) Option {
	return func(o *options) { o.platCfg = append(o.platCfg, fn) }
}

// WithInstitutionConfig edits the institution's configuration.
func WithInstitutionConfig(fn func(*institution.Config)) Option {
	return func(o *options) { o.instCfg = append(o.instCfg, fn) }
}

// WithPlatformOptions passes options to platform.New, after the
// harness's own (clock, logger, backoff, HTTP client).
func WithPlatformOptions(opts ...platform.Option) Option {
	return func(o *options) { o.platOpts = append(o.platOpts, opts...) }
}

// WithInstitutionOptions passes options to institution.New.
func WithInstitutionOptions(opts ...institution.Option) Option {
	return func(o *options) { o.instOpts = append(o.instOpts, opts...) }
}

// WithTLS serves both doors with this server configuration and makes
// both services and the harness's HTTP client trust roots.
func WithTLS(server *tls.Config, roots *x509.CertPool) Option {
	return func(o *options) { o.tls, o.tlsRoots = server, roots }
}

// WithConsoles puts the web consoles in front of both services (under
// /console) and starts the bidder's CA agent, unattended, for the PKI's
// bidder. The auth options go to both consoles.
func WithConsoles(ao ...web.AuthOption) Option {
	return func(o *options) { o.consoles, o.authOpts = true, ao }
}

// WithLogger sends both services' logs to l (with service=platform or
// institution). Default: each service's log is kept in the system's
// PlatLog and InstLog (and copied to stderr when $BAOHAN_TEST_LOG is
// set).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Quiet keeps warnings and errors only in PlatLog and InstLog (default:
// everything from debug up).
func Quiet() Option { return func(o *options) { o.quiet = true } }

// WithoutBidder leaves the PKI's bidder unregistered at the platform.
func WithoutBidder() Option { return func(o *options) { o.noBidder = true } }

// WithWrap wraps each service's handler (consoles included) behind its
// door; nil leaves one alone.
func WithWrap(platform, institution func(http.Handler) http.Handler) Option {
	return func(o *options) { o.platWrap, o.instWrap = platform, institution }
}

// WithOwnDir is WithDir for a directory the system removes when it
// closes.
func WithOwnDir(dir string) Option { return func(o *options) { o.dir, o.ownDir = dir, true } }

// WithBareDoors makes both doors pass requests straight through (Door.Bare),
// for benchmarks: no record, no observers, no faults.
func WithBareDoors() Option { return func(o *options) { o.bare = true } }

// WithoutRecord makes both doors keep no record of the exchanges
// (Door.Forget); their observers still see each one.
func WithoutRecord() Option { return func(o *options) { o.forget = true } }
