package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/web"
	"github.com/baohan-dev/baohan/web/caagent"
)

// TB is what Start needs of a test or benchmark (testing.TB has it).
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// LogBuffer collects log lines from several goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// System is a running platform and institution, each behind a Door,
// wired to each other over HTTP on 127.0.0.1, with one PKI and one
// clock; with WithConsoles, the web consoles and the bidder's CA agent.
type System struct {
	// T is the test of Start (nil for New): the helpers that fail a test
	// use it.
	T       TB
	Dir     string
	Parties Parties
	Clock   *Clock
	PKI     *PKI
	// PlatDoor is in front of the platform: what the institution (and
	// admins) send it; InstDoor in front of the institution: what the
	// platform and bidders send it.
	PlatDoor *Door
	InstDoor *Door
	// PlatLog and InstLog hold each service's log (unless WithLogger).
	PlatLog *LogBuffer
	InstLog *LogBuffer

	PlatCfg platform.Config
	InstCfg institution.Config
	Plat    *platform.Service
	Inst    *institution.Service

	// HTTP is the client that trusts the doors (and the services use,
	// with their timeouts, under TLS).
	HTTP *http.Client

	// With consoles: the consoles in front of the services, their staff
	// accounts ("platform", "institution": admin, operator, viewer) and
	// the CA agent's URL.
	PlatformConsole    *web.PlatformConsole
	InstitutionConsole *web.InstitutionConsole
	Accounts           map[string][]web.Account
	AgentURL           string

	o          options
	ownDir     bool
	agentStop  context.CancelFunc
	agentDone  chan struct{}
	platCancel context.CancelFunc
	platDone   chan error
	instCancel context.CancelFunc
	instDone   chan error
	seq        atomic.Int64
	closeOnce  sync.Once
}

// Start builds and starts the system in t's temporary directory; t's
// cleanup stops it. It fails t on any error.
func Start(t TB, opts ...Option) *System {
	t.Helper()
	s, err := New(context.Background(), append([]Option{WithDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s.T = t
	t.Cleanup(func() { s.Close() })
	return s
}

func defaultOptions() options {
	return options{chunkSize: 4096, timeout: 5 * time.Second, poll: 20 * time.Millisecond,
		backoff: &store.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxAttempts: -1, Jitter: -1}}
}

// New builds and starts the system; Close stops it.
func New(ctx context.Context, opts ...Option) (*System, error) {
	return build(opts, func(s *System) error { return s.startBoth(ctx) })
}

// build opens a system and runs start on it; on an error it closes
// what was started.
func build(opts []Option, start func(*System) error) (*System, error) {
	s, err := open(opts)
	if err != nil {
		return nil, err
	}
	if err := start(s); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// startBoth starts both services behind their doors, the consoles and
// the CA agent (with WithConsoles), and registers the bidder.
func (s *System) startBoth(ctx context.Context) (err error) {
	o := s.o
	if s.PlatDoor, err = NewTLSDoor("platform", o.tls); err != nil {
		return err
	}
	if s.InstDoor, err = NewTLSDoor("institution", o.tls); err != nil {
		return err
	}
	s.PlatDoor.Bare, s.InstDoor.Bare = o.bare, o.bare
	s.PlatDoor.Forget, s.InstDoor.Forget = o.forget, o.forget
	s.PlatCfg, s.InstCfg = s.configs("")
	if o.consoles {
		if err := s.startAgent(); err != nil {
			return err
		}
	}
	if err := s.startPlatform(ctx); err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	if err := s.startInstitution(ctx); err != nil {
		return fmt.Errorf("institution: %w", err)
	}
	if o.consoles {
		if s.Accounts["platform"], err = s.PlatformConsole.Auth().DemoAccounts(ctx); err != nil {
			return err
		}
		if s.Accounts["institution"], err = s.InstitutionConsole.Auth().DemoAccounts(ctx); err != nil {
			return err
		}
	}
	if !o.noBidder {
		b := s.PKI.Bidder
		if _, err := s.Plat.RegisterBidder(ctx, platform.BidderInput{Name: o.parties.BidderName, CreditCode: o.parties.BidderCode, CertPEM: string(b.CertPEM)}); err != nil {
			return err
		}
	}
	return nil
}

// PlatformURL and InstitutionURL are the services' public URLs (their
// doors).
func (s *System) PlatformURL() string    { return s.PlatDoor.URL }
func (s *System) InstitutionURL() string { return s.InstDoor.URL }

// configs are the services' configurations: each knows the other at its
// door (at peerURL when the other has none), with the options' edits.
func (s *System) configs(peerURL string) (platform.Config, institution.Config) {
	o, p := s.o, s.o.parties
	platURL, instURL := peerURL, peerURL
	if s.PlatDoor != nil {
		platURL = s.PlatDoor.URL
	}
	if s.InstDoor != nil {
		instURL = s.InstDoor.URL
	}
	poll := config.Duration{Duration: o.poll}
	instPeer := config.Peer{Name: p.InstitutionName, AppKey: p.AppKey, AppSecret: p.AppSecret, BaseURL: instURL,
		PlatformCode: p.PlatformCode, ChunkSize: o.chunkSize, Timeout: config.Duration{Duration: o.timeout}}
	for _, fn := range o.platPeer {
		fn(&instPeer)
	}
	platPeer := config.Peer{Name: p.PlatformName, AppKey: p.AppKey, AppSecret: p.AppSecret, BaseURL: platURL,
		PlatformCode: p.PlatformCode, ChunkSize: o.chunkSize, Timeout: config.Duration{Duration: o.timeout}}
	for _, fn := range o.instPeer {
		fn(&platPeer)
	}
	pc := platform.Config{
		Common: config.Common{
			// The door listens (with TLS under WithTLS), not the service:
			// the certificate names only satisfy the configuration check.
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: o.tls == nil, PublicURL: platURL, TLSCert: "door", TLSKey: "door"},
			Storage:    config.Storage{DB: o.platDB, DataDir: filepath.Join(s.Dir, "platform")},
			TrustRoots: []string{s.PKI.CAFile},
			Admin:      config.Admin{Token: p.PlatformAdmin},
			Outbox:     config.Outbox{Poll: poll},
		},
		// The institution's seal certificate is pinned by the credit code
		// it carries, as a deployment pins it.
		Institutions: []platform.Institution{{Peer: instPeer, SealCreditCode: p.InstitutionCode, Products: []platform.Product{
			{Name: p.Product, Rate: decimal.RequireFromString("0.005"), MinPremium: decimal.RequireFromString("100")},
		}}},
	}
	for _, fn := range o.platCfg {
		fn(&pc)
	}
	ic := institution.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true, PublicURL: instURL},
			Storage:    config.Storage{DB: o.instDB, DataDir: filepath.Join(s.Dir, "institution")},
			Admin:      config.Admin{Token: p.InstitutionAdmin},
			TrustRoots: []string{s.PKI.CAFile},
			Outbox: config.Outbox{Poll: poll, RetryInitial: config.Duration{Duration: 20 * time.Millisecond},
				RetryMax: config.Duration{Duration: 200 * time.Millisecond}},
		},
		Institution: institution.Identity{Name: p.InstitutionName, CreditCode: p.InstitutionCode,
			SealCert: s.PKI.InstCertFile(), SealKey: s.PKI.InstKeyFile(), Prefix: "HXDB",
			Address: "杭州市西湖区文三路100号", Phone: "0571-88886666"}, // printed as 担保人地址, 联系电话
		Underwrite: institution.Underwriting{Mode: institution.ModeAuto, MaxBond: "5000000"},
		Invoicing:  institution.Invoicing{Mode: institution.ModeAuto, Code: "033002300111"},
		Products:   []institution.Product{{Name: p.Product, Rate: "0.005", MinPremium: "100", Terms: "见索即付，不可撤销"}},
		Platforms:  []institution.Platform{{Peer: platPeer}},
	}
	for _, fn := range o.instCfg {
		fn(&ic)
	}
	return pc, ic
}

func (s *System) logger(name string, w io.Writer) *slog.Logger {
	if s.o.logger != nil {
		return s.o.logger.With("service", name)
	}
	level := slog.LevelDebug
	if s.o.quiet {
		level = slog.LevelWarn
	}
	if os.Getenv("BAOHAN_TEST_LOG") != "" {
		w = io.MultiWriter(w, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// serviceClient is the HTTP client of a service under TLS (nil: its own).
func (s *System) serviceClient(timeout time.Duration) *http.Client {
	if s.HTTP == http.DefaultClient {
		return nil
	}
	return &http.Client{Transport: s.HTTP.Transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *System) startPlatform(ctx context.Context) error {
	opts := []platform.Option{platform.WithClock(s.Clock.Now), platform.WithLogger(s.logger("platform", s.PlatLog))}
	if s.o.backoff != nil {
		opts = append(opts, platform.WithBackoff(*s.o.backoff))
	}
	if hc := s.serviceClient(s.o.timeout); hc != nil {
		opts = append(opts, platform.WithHTTPClient(hc))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	svc, err := platform.New(runCtx, s.PlatCfg, append(opts, s.o.platOpts...)...)
	if err != nil {
		cancel()
		return err
	}
	h := svc.Handler()
	if s.o.consoles {
		pc, err := web.Platform(runCtx, svc, s.webOptions("platform"), s.o.authOpts...)
		if err != nil {
			cancel()
			svc.Close()
			return fmt.Errorf("platform console: %w", err)
		}
		s.PlatformConsole, h = pc, pc.Handler(h)
	}
	if s.o.platWrap != nil {
		h = s.o.platWrap(h)
	}
	s.Plat, s.platCancel, s.platDone = svc, cancel, make(chan error, 1)
	s.PlatDoor.Set(h)
	go func() { s.platDone <- svc.Run(runCtx) }()
	return nil
}

func (s *System) startInstitution(ctx context.Context) error {
	opts := []institution.Option{institution.WithClock(s.Clock.Now), institution.WithLogger(s.logger("institution", s.InstLog))}
	if hc := s.serviceClient(0); hc != nil {
		opts = append(opts, institution.WithHTTPClient(hc))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	svc, err := institution.New(runCtx, s.InstCfg, append(opts, s.o.instOpts...)...)
	if err != nil {
		cancel()
		return err
	}
	h := svc.Handler()
	if s.o.consoles {
		ic, err := web.Institution(runCtx, svc, s.webOptions("institution"), s.o.authOpts...)
		if err != nil {
			cancel()
			svc.Close()
			return fmt.Errorf("institution console: %w", err)
		}
		s.InstitutionConsole, h = ic, ic.Handler(h)
	}
	if s.o.instWrap != nil {
		h = s.o.instWrap(h)
	}
	s.Inst, s.instCancel, s.instDone = svc, cancel, make(chan error, 1)
	s.InstDoor.Set(h)
	go func() { s.instDone <- svc.Run(runCtx) }()
	return nil
}

func (s *System) webOptions(name string) web.Options {
	var l *slog.Logger
	if s.o.logger != nil {
		l = s.o.logger.With("service", "console")
	} else {
		w := s.PlatLog
		if name == "institution" {
			w = s.InstLog
		}
		l = s.logger(name, w)
	}
	return web.Options{AgentURL: s.AgentURL, Logger: l}
}

// startAgent serves the CA agent for the PKI's bidder, unattended: the
// scripted bidder and the browser tests use it with nobody there to
// allow each signature.
func (s *System) startAgent() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.AgentURL = "http://" + ln.Addr().String()
	l := slog.New(slog.DiscardHandler)
	if s.o.logger != nil {
		l = s.o.logger.With("service", "ca-agent")
	}
	agent, err := caagent.New(caagent.Config{Key: s.PKI.Bidder.Key, Cert: s.PKI.Bidder.Cert,
		Origins: []string{s.PlatDoor.URL, s.InstDoor.URL}, Logger: l, Unattended: true})
	if err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.agentStop, s.agentDone = cancel, make(chan struct{})
	go func() {
		defer close(s.agentDone)
		agent.Serve(ctx, ln)
	}()
	return nil
}

// StartPlatform (re)opens the platform on its data and runs it.
func (s *System) StartPlatform() {
	if err := s.startPlatform(context.Background()); err != nil {
		s.fatal(err)
	}
}

// StopPlatform ends the platform's Run and closes it; its door answers
// 503.
func (s *System) StopPlatform() {
	if s.platCancel == nil {
		return
	}
	s.PlatDoor.Set(nil)
	s.platCancel()
	<-s.platDone
	s.Plat.Close()
	s.platCancel = nil
}

// StartInstitution (re)opens the institution on its data and runs it.
func (s *System) StartInstitution() {
	if err := s.startInstitution(context.Background()); err != nil {
		s.fatal(err)
	}
}

// StopInstitution ends the institution's Run and closes it.
func (s *System) StopInstitution() {
	if s.instCancel == nil {
		return
	}
	s.InstDoor.Set(nil)
	s.instCancel()
	<-s.instDone
	s.Inst.Close()
	s.instCancel = nil
}

// Stop lets held requests through and stops both services; the doors
// stay (answering 503) until Close.
func (s *System) Stop() {
	if s.PlatDoor != nil {
		s.PlatDoor.Release()
	}
	if s.InstDoor != nil {
		s.InstDoor.Release()
	}
	s.StopPlatform()
	s.StopInstitution()
}

// Close stops everything and, when the system made its directory,
// removes it.
func (s *System) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.Stop()
		if s.agentStop != nil {
			s.agentStop()
			<-s.agentDone
		}
		if s.PlatDoor != nil {
			s.PlatDoor.Close()
		}
		if s.InstDoor != nil {
			s.InstDoor.Close()
		}
		if s.ownDir {
			err = os.RemoveAll(s.Dir)
		}
	})
	return err
}

func (s *System) fatal(err error) {
	if s.T == nil {
		panic(err)
	}
	s.T.Helper()
	s.T.Fatal(err)
}
