package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/web"
	"github.com/baohan-dev/baohan/web/caagent"
)

// The demo's parties.
const (
	PlatformName    = "某市公共资源交易中心"
	InstitutionName = "华夏融资担保有限公司"
	InstitutionCode = "91330100MA2HXDB01L"
	ProductName     = "投标保函（见索即付）"
	AppKey          = "APPKEY-DEMO-0001"
	PlatformCode    = "PT330100"
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
// loopback ports, with a test CA, and optionally the consoles and the
// bidder's CA agent.
type System struct {
	Dir    string
	CA     *pki.CA
	CAFile string
	Seal   *pki.Identity // the institution's seal certificate

	Platform       *platform.Service
	Institution    *institution.Service
	PlatformURL    string
	InstitutionURL string
	AgentURL       string // "" without consoles

	PlatformConsole    *web.PlatformConsole
	InstitutionConsole *web.InstitutionConsole
	// Accounts are the consoles' staff accounts ("platform",
	// "institution"), with consoles.
	Accounts map[string][]web.Account

	AppSecret             string
	PlatformAdminToken    string
	InstitutionAdminToken string

	// Tap sees every exchange between the two services.
	Tap *Tap
	// Agent is the CA agent's bidder (the main scenario's bidder), with
	// consoles.
	AgentBidder *pki.Identity

	ownDir  bool
	cancel  context.CancelFunc
	servers []*http.Server
	done    []chan struct{}
}

// Start builds and starts the system. The services run until Close.
func Start(ctx context.Context, o Options) (s *System, err error) {
	s = &System{Dir: o.Dir, Tap: NewTap(), Accounts: map[string][]web.Account{}}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "baohan-demo-"); err != nil {
			return nil, err
		}
		s.ownDir = true
	} else if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	poll := o.Poll
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}

	// The test CA, the institution's seal identity, the trust roots.
	caDir := filepath.Join(s.Dir, "ca")
	if s.CA, err = pki.Load(caDir); err != nil {
		if s.CA, err = pki.Init(caDir); err != nil {
			return nil, fmt.Errorf("test CA: %w", err)
		}
	}
	s.CAFile = filepath.Join(caDir, pki.CACertFile)
	if s.Seal, err = identity(s.CA, caDir, "institution", InstitutionName, pki.Institution, InstitutionCode); err != nil {
		return nil, fmt.Errorf("seal certificate: %w", err)
	}
	if s.AppSecret, err = secret(filepath.Join(s.Dir, "appsecret"), 16); err != nil {
		return nil, err
	}
	if s.PlatformAdminToken, err = secret(filepath.Join(s.Dir, "platform-admin-token"), 24); err != nil {
		return nil, err
	}
	if s.InstitutionAdminToken, err = secret(filepath.Join(s.Dir, "institution-admin-token"), 24); err != nil {
		return nil, err
	}

	listen := func() (net.Listener, string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		return ln, "http://" + ln.Addr().String(), nil
	}
	platLn, platURL, err := listen()
	if err != nil {
		return nil, err
	}
	instLn, instURL, err := listen()
	if err != nil {
		platLn.Close()
		return nil, err
	}
	s.PlatformURL, s.InstitutionURL = platURL, instURL

	pcfg := platformConfig(platLn.Addr().String(), platURL, filepath.Join(s.Dir, "platform"), o.PlatformDB, s.CAFile, s.PlatformAdminToken,
		instURL, AppKey, s.AppSecret, PlatformCode, poll)
	icfg := institutionConfig(instLn.Addr().String(), instURL, filepath.Join(s.Dir, "institution"), o.InstitutionDB, s.CAFile, caDir,
		s.InstitutionAdminToken, platURL, AppKey, s.AppSecret, PlatformCode, poll)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if s.Platform, err = platform.New(runCtx, pcfg, platform.WithLogger(logger.With("service", "platform"))); err != nil {
		platLn.Close()
		instLn.Close()
		return nil, fmt.Errorf("platform: %w", err)
	}
	if s.Institution, err = institution.New(runCtx, icfg, institution.WithLogger(logger.With("service", "institution"))); err != nil {
		platLn.Close()
		instLn.Close()
		return nil, fmt.Errorf("institution: %w", err)
	}

	platH := s.Tap.Wrap("institution", "platform", s.Platform.Handler())
	instH := s.Tap.Wrap("platform", "institution", s.Institution.Handler())
	if o.Consoles {
		agentLn, agentURL, err := listen()
		if err != nil {
			return nil, err
		}
		s.AgentURL = agentURL
		wo := web.Options{AgentURL: agentURL, Logger: logger.With("service", "console")}
		if s.PlatformConsole, err = web.Platform(runCtx, s.Platform, wo); err != nil {
			return nil, fmt.Errorf("platform console: %w", err)
		}
		if s.InstitutionConsole, err = web.Institution(runCtx, s.Institution, wo); err != nil {
			return nil, fmt.Errorf("institution console: %w", err)
		}
		if s.Accounts["platform"], err = s.PlatformConsole.Auth().DemoAccounts(runCtx); err != nil {
			return nil, err
		}
		if s.Accounts["institution"], err = s.InstitutionConsole.Auth().DemoAccounts(runCtx); err != nil {
			return nil, err
		}
		platH = s.PlatformConsole.Handler(platH)
		instH = s.InstitutionConsole.Handler(instH)
		if s.AgentBidder, err = s.bidder(MainBidder); err != nil {
			return nil, err
		}
		// Unattended: the demo's scripted bidder uses the agent with
		// nobody there to allow each signature.
		agent, err := caagent.New(caagent.Config{Key: s.AgentBidder.Key, Cert: s.AgentBidder.Cert,
			Origins: []string{platURL, instURL}, Logger: logger.With("service", "ca-agent"), Unattended: true})
		if err != nil {
			return nil, err
		}
		s.goRun(func() { agent.Serve(runCtx, agentLn) })
	}
	if o.PlatformWrap != nil {
		platH = o.PlatformWrap(platH)
	}
	if o.InstitutionWrap != nil {
		instH = o.InstitutionWrap(instH)
	}
	s.serve(platLn, platH, logger)
	s.serve(instLn, instH, logger)
	s.goRun(func() { s.Platform.Run(runCtx) })
	s.goRun(func() { s.Institution.Run(runCtx) })
	return s, nil
}

func (s *System) serve(ln net.Listener, h http.Handler, logger *slog.Logger) {
	srv := service.NewServer(h, logger)
	s.servers = append(s.servers, srv)
	s.goRun(func() { srv.Serve(ln) })
}

func (s *System) goRun(fn func()) {
	done := make(chan struct{})
	s.done = append(s.done, done)
	go func() {
		defer close(done)
		fn()
	}()
}

// Close stops everything and, when Start made the directory, removes it.
func (s *System) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	for _, srv := range s.servers {
		srv.Close()
	}
	for _, d := range s.done {
		<-d
	}
	var errs []error
	if s.Platform != nil {
		errs = append(errs, s.Platform.Close())
	}
	if s.Institution != nil {
		errs = append(errs, s.Institution.Close())
	}
	if s.ownDir {
		errs = append(errs, os.RemoveAll(s.Dir))
	}
	return errors.Join(errs...)
}

// platformConfig is the demo's platform: one institution at instURL.
func platformConfig(addr, publicURL, dataDir, db, caFile, adminToken, instURL, appKey, appSecret, platCode string, poll time.Duration) platform.Config {
	return platform.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: addr, Plain: true, PublicURL: publicURL},
			Storage:    config.Storage{DB: db, DataDir: dataDir},
			TrustRoots: []string{caFile},
			Admin:      config.Admin{Token: adminToken},
			Outbox:     config.Outbox{Poll: config.Duration{Duration: poll}, RetryMax: config.Duration{Duration: 2 * time.Second}},
		},
		Institutions: []platform.Institution{{
			Peer: config.Peer{Name: InstitutionName, AppKey: appKey, AppSecret: appSecret, BaseURL: instURL,
				PlatformCode: platCode, ChunkSize: 16 << 10, Extensions: Extensions},
			// The seals on its guarantees are signed with the certificate
			// naming its credit code.
			SealCreditCode: InstitutionCode,
			Products:       []platform.Product{{Name: ProductName, Rate: decimal.RequireFromString("0.005"), MinPremium: decimal.RequireFromString("100")}},
		}},
	}
}

// Extensions are the optional interfaces both demo services enable: the
// outcome of a claim and the recovery (EXTENSIONS.md §1).
var Extensions = []string{string(protocol.ClaimsResultNotice), string(protocol.ClaimsRepayNotice)}

// institutionConfig is the demo's institution: one platform at platURL,
// its seal in caDir (institution.key.pem, institution.cert.pem).
func institutionConfig(addr, publicURL, dataDir, db, caFile, caDir, adminToken, platURL, appKey, appSecret, platCode string, poll time.Duration) institution.Config {
	return institution.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: addr, Plain: true, PublicURL: publicURL},
			Storage:    config.Storage{DB: db, DataDir: dataDir},
			Admin:      config.Admin{Token: adminToken},
			TrustRoots: []string{caFile},
			Outbox:     config.Outbox{Poll: config.Duration{Duration: poll}},
		},
		Institution: institution.Identity{Name: InstitutionName, CreditCode: InstitutionCode,
			SealCert: filepath.Join(caDir, pki.CertFile("institution")), SealKey: filepath.Join(caDir, pki.KeyFile("institution")),
			Prefix: "HXDB"},
		Underwrite: institution.Underwriting{Mode: institution.ModeAuto, MaxBond: "50000000", Blocked: []string{BlockedCode}},
		Invoicing:  institution.Invoicing{Mode: institution.ModeAuto, Code: "033002300111"},
		Products:   []institution.Product{{Name: ProductName, Rate: "0.005", MinPremium: "100", Terms: "见索即付，不可撤销"}},
		Platforms: []institution.Platform{{Peer: config.Peer{Name: PlatformName, AppKey: appKey, AppSecret: appSecret,
			BaseURL: platURL, PlatformCode: platCode, ChunkSize: 16 << 10, Extensions: Extensions}}},
	}
}

// bidder returns the bidder's identity from the test CA directory,
// issuing its certificate on first use.
func (s *System) bidder(b BidderSpec) (*pki.Identity, error) {
	return identity(s.CA, filepath.Join(s.Dir, "ca"), b.File, b.Name, pki.Bidder, b.Code)
}

// identity loads file.key.pem and file.cert.pem from dir, or issues a
// certificate for name (its subject CN) and writes them.
func identity(ca *pki.CA, dir, file, name string, role pki.Role, code string) (*pki.Identity, error) {
	if id, err := pki.LoadIdentity(dir, file); err == nil {
		id.Name = id.Cert.Subject.CommonName
		return id, nil
	}
	id, err := ca.Issue(name, role, pki.WithCreditCode(code))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, pki.KeyFile(file)), id.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, pki.CertFile(file)), id.CertPEM, 0o644); err != nil {
		return nil, err
	}
	return id, nil
}

// secret reads a random hex secret from file, making it on first use.
func secret(file string, n int) (string, error) {
	if b, err := os.ReadFile(file); err == nil && len(b) >= 2*n {
		return string(b[:2*n]), nil
	}
	v := randomHex(n)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(file, []byte(v), 0o600); err != nil {
		return "", err
	}
	return v, nil
}

var _ io.Writer = (*os.File)(nil)
