package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/web"
)

// The demo's parties.
const (
	PlatformName    = harness.PlatformName
	InstitutionName = harness.InstitutionName
	InstitutionCode = harness.InstCreditCode
	ProductName     = harness.Product
	AppKey          = "APPKEY-DEMO-0001"
	PlatformCode    = harness.PlatformCode
)

// Options configure Start.
type Options struct {
	// Dir holds the databases, keys, blobs and the issued OFD files. Empty:
	// a new temporary directory, removed by Close.
	Dir string
	// PlatformDB and InstitutionDB are database URLs; empty: SQLite in Dir.
	PlatformDB, InstitutionDB string
	// Consoles starts the web consoles (under /console on each service)
	// and the bidder's CA agent.
	Consoles bool
	// Logger receives the services' logs (nil: discarded).
	Logger *slog.Logger
	// Poll is how often the outboxes look for due messages (default 50ms:
	// a demo should not wait).
	Poll time.Duration
	// PlatformWrap and InstitutionWrap, when set, wrap each service's
	// handler (tests put faults or taps there).
	PlatformWrap, InstitutionWrap func(http.Handler) http.Handler
}

// System is a running platform and institution wired to each other on
// loopback ports (a harness.System), with a test CA, and optionally the
// consoles and the bidder's CA agent.
type System struct {
	Dir    string
	CA     *pki.CA
	CAFile string

	Platform       *platform.Service
	Institution    *institution.Service
	PlatformURL    string
	InstitutionURL string
	AgentURL       string // "" without consoles

	// Accounts are the consoles' staff accounts ("platform",
	// "institution"), with consoles.
	Accounts map[string][]web.Account

	AppSecret             string
	PlatformAdminToken    string
	InstitutionAdminToken string

	// Tap sees every exchange between the two services.
	Tap *Tap
	// Harness is the running system.
	Harness *harness.System
}

// Parties are the demo's parties (the harness's, with the demo's appkey
// and its main bidder).
var Parties = harness.Parties{AppKey: AppKey, BidderName: MainBidder.Name, BidderCode: MainBidder.Code, BidderFile: MainBidder.File}

// Setup is the demo's configuration of a harness (both services, or one
// with harness.NewSide): chunks of 16 KiB, an outbox polling every poll
// (0: 50ms), the platform retrying for up to 2s, the institution
// underwriting bonds up to 50,000,000 and refusing BlockedCode.
func Setup(poll time.Duration) []harness.Option {
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	return []harness.Option{
		harness.WithParties(Parties), harness.WithChunkSize(16 << 10), harness.WithTimeout(0), harness.WithPoll(poll),
		harness.WithBackoff(nil), harness.WithoutBidder(),
		harness.WithPlatformConfig(func(c *platform.Config) {
			c.Outbox = config.Outbox{Poll: config.Duration{Duration: poll}, RetryMax: config.Duration{Duration: 2 * time.Second}}
		}),
		harness.WithInstitutionConfig(func(c *institution.Config) {
			c.Outbox = config.Outbox{Poll: config.Duration{Duration: poll}}
			c.Underwrite.MaxBond, c.Underwrite.Blocked = "50000000", []string{BlockedCode}
		}),
		// Both sides enable the optional claim outcome interfaces.
		harness.WithPlatformPeer(func(p *config.Peer) { p.Extensions = Extensions }),
		harness.WithInstitutionPeer(func(p *config.Peer) { p.Extensions = Extensions }),
	}
}

// Extensions are the optional interfaces both demo services enable: the
// outcome of a claim and the recovery (EXTENSIONS.md §1).
var Extensions = []string{string(protocol.ClaimsResultNotice), string(protocol.ClaimsRepayNotice)}

// Start builds and starts the system. The services run until Close.
func Start(ctx context.Context, o Options) (*System, error) {
	s := &System{Dir: o.Dir, Tap: NewTap()}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "baohan-demo-"); err != nil {
			return nil, err
		}
	}
	p := Parties
	var err error
	if p.AppSecret, err = secret(filepath.Join(dir, "appsecret"), 16); err == nil {
		if p.PlatformAdmin, err = secret(filepath.Join(dir, "platform-admin-token"), 24); err == nil {
			p.InstitutionAdmin, err = secret(filepath.Join(dir, "institution-admin-token"), 24)
		}
	}
	if err != nil {
		if o.Dir == "" {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := append(Setup(o.Poll), harness.WithParties(p), harness.WithDB(o.PlatformDB, o.InstitutionDB),
		harness.WithLogger(logger), harness.WithWrap(o.PlatformWrap, o.InstitutionWrap),
		// The tap keeps what the demo shows; the doors keep nothing more
		// while the demo runs on (--keep).
		harness.WithoutRecord())
	if o.Dir == "" {
		// The harness removes the directory it is given only when it made
		// it: hand it over as its own.
		opts = append(opts, harness.WithOwnDir(dir))
	} else {
		opts = append(opts, harness.WithDir(dir))
	}
	if o.Consoles {
		opts = append(opts, harness.WithConsoles())
	}
	h, err := harness.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	h.PlatDoor.Subscribe(s.Tap.observe)
	h.InstDoor.Subscribe(s.Tap.observe)
	s.Dir, s.Harness = h.Dir, h
	s.CA, s.CAFile = h.PKI.CA, h.PKI.CAFile
	s.Platform, s.Institution = h.Plat, h.Inst
	s.PlatformURL, s.InstitutionURL, s.AgentURL = h.PlatformURL(), h.InstitutionURL(), h.AgentURL
	s.Accounts = h.Accounts
	s.AppSecret, s.PlatformAdminToken, s.InstitutionAdminToken = p.AppSecret, p.PlatformAdmin, p.InstitutionAdmin
	return s, nil
}

// Close stops everything and, when Start made the directory, removes it.
func (s *System) Close() error { return s.Harness.Close() }

// bidder returns the bidder's identity from the test CA directory,
// issuing its certificate on first use.
func (s *System) bidder(b BidderSpec) (*pki.Identity, error) {
	return s.Harness.PKI.Identity(b.File, b.Name, pki.Bidder, b.Code)
}

// secret reads a random hex secret from file, making it on first use.
func secret(file string, n int) (string, error) {
	if b, err := os.ReadFile(file); err == nil && len(b) >= 2*n {
		return string(b[:2*n]), nil
	}
	b := make([]byte, n)
	rand.Read(b)
	v := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(file, []byte(v), 0o600); err != nil {
		return "", err
	}
	return v, nil
}
