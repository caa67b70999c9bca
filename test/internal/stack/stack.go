// Package stack runs a platform and an institution in one process, each
// behind a Door (a listener on 127.0.0.1 that records every exchange and
// injects faults), wired to each other over HTTP, with a test PKI, a
// shared settable clock and captured logs. The reliability, security and
// regression tests build on it; it touches the services only through
// their exported API and HTTP.
package stack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Names and secrets of the stack.
const (
	PlatformName    = "某市公共资源交易中心"
	InstitutionName = "华夏融资担保有限公司"
	InstCreditCode  = "91330100MA2HXDB01L"
	BidderName      = "某某建设工程有限公司"
	BidderCode      = "91110000MA01BDD014"
	Product         = "投标保函（见索即付）"
	AppKey          = "APPKEY-HX-0001"
	AppSecret       = "2b7e151628aed2a6abf7158809cf4f3c"
	PlatformCode    = "PT330100"
	PlatformAdmin   = "platform-admin-token-0123456789"
	InstAdmin       = "institution-admin-token-0123456789"
)

// Clock is real time plus an offset that tests move forward.
type Clock struct{ off atomic.Int64 }

// Now implements the services' clock.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

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

// PKI is the test PKI written to a directory: the CA, the institution's
// seal identity (inst.cert.pem, inst.key.pem) and the bidder.
type PKI struct {
	Dir    string
	CA     *testca.CA
	CAFile string
	Inst   *testca.Identity
	Bidder *testca.Identity
}

// NewPKI makes the PKI in dir.
func NewPKI(dir string) (*PKI, error) {
	ca, err := testca.New("baohan 测试根CA")
	if err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir, CA: ca, CAFile: filepath.Join(dir, "ca.cert.pem")}
	if err := os.WriteFile(p.CAFile, ca.CertPEM(), 0o600); err != nil {
		return nil, err
	}
	if p.Inst, err = ca.IssueToDir(dir, "inst", testca.Institution, testca.WithCreditCode(InstCreditCode)); err != nil {
		return nil, err
	}
	if p.Bidder, err = ca.IssueToDir(dir, "bidder", testca.Bidder, testca.WithCreditCode(BidderCode)); err != nil {
		return nil, err
	}
	return p, nil
}

// Options change the stack before it starts.
type Options struct {
	PlatformDB, InstitutionDB string // "" : SQLite in the data directory
	ChunkSize                 int    // default 4096
	Timeout                   time.Duration
	// PlatformPeer and InstitutionPeer edit the peer entries: the
	// institution as the platform knows it, the platform as the
	// institution knows it.
	PlatformPeer    func(*config.Peer)
	InstitutionPeer func(*config.Peer)
	Platform        func(*platform.Config)
	Institution     func(*institution.Config)
	Quiet           bool // log at Warn (default Debug: every line is inspected by the log tests)
	// TLS serves both doors with this server configuration (from
	// service.TLSConfig) and makes both services and the bidder trust
	// TLSRoots.
	TLS      *tls.Config
	TLSRoots *x509.CertPool
}

// Stack is a running platform and institution.
type Stack struct {
	T        testing.TB
	Dir      string
	Clock    *Clock
	PKI      *PKI
	PlatDoor *Door // in front of the platform: what the institution (and admins) send it
	InstDoor *Door // in front of the institution: what the platform and bidders send it
	PlatLog  *LogBuffer
	InstLog  *LogBuffer

	PlatCfg platform.Config
	InstCfg institution.Config
	Plat    *platform.Service
	Inst    *institution.Service

	// HTTP is the client that trusts the doors (and the services use,
	// with their timeouts, under TLS).
	HTTP *http.Client

	quiet      bool
	timeout    time.Duration
	platCancel context.CancelFunc
	platDone   chan error
	instCancel context.CancelFunc
	instDone   chan error
	seq        atomic.Int64
}

// Start builds and starts the stack; t's cleanup stops it.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	dir := t.TempDir()
	p, err := NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{T: t, Dir: dir, Clock: &Clock{}, PKI: p, PlatLog: &LogBuffer{}, InstLog: &LogBuffer{}, quiet: o.Quiet, HTTP: http.DefaultClient}
	if o.TLS != nil {
		s.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.TLSRoots}}}
	}
	if s.PlatDoor, err = NewTLSDoor("platform", o.TLS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.PlatDoor.Close)
	if s.InstDoor, err = NewTLSDoor("institution", o.TLS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.InstDoor.Close)
	if o.ChunkSize == 0 {
		o.ChunkSize = 4096
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	s.timeout = o.Timeout
	fast := config.Duration{Duration: 20 * time.Millisecond}
	instPeer := config.Peer{Name: InstitutionName, AppKey: AppKey, AppSecret: AppSecret, BaseURL: s.InstDoor.URL,
		PlatformCode: PlatformCode, ChunkSize: o.ChunkSize, Timeout: config.Duration{Duration: o.Timeout}}
	if o.PlatformPeer != nil {
		o.PlatformPeer(&instPeer)
	}
	platPeer := config.Peer{Name: PlatformName, AppKey: AppKey, AppSecret: AppSecret, BaseURL: s.PlatDoor.URL,
		PlatformCode: PlatformCode, ChunkSize: o.ChunkSize, Timeout: config.Duration{Duration: o.Timeout}}
	if o.InstitutionPeer != nil {
		o.InstitutionPeer(&platPeer)
	}
	s.PlatCfg = platform.Config{
		Common: config.Common{
			// the door listens (with TLS when o.TLS is set), not the service:
			// the certificate names only satisfy the configuration check
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: o.TLS == nil, PublicURL: s.PlatDoor.URL, TLSCert: "door", TLSKey: "door"},
			Storage:    config.Storage{DB: o.PlatformDB, DataDir: filepath.Join(dir, "platform")},
			TrustRoots: []string{p.CAFile},
			Admin:      config.Admin{Token: PlatformAdmin},
			Outbox:     config.Outbox{Poll: fast},
		},
		// The institution's seal certificate (CN "inst") is pinned by
		// the credit code it carries, as a deployment pins it.
		Institutions: []platform.Institution{{Peer: instPeer, SealCreditCode: InstCreditCode, Products: []platform.Product{
			{Name: Product, Rate: decimal.RequireFromString("0.005"), MinPremium: decimal.RequireFromString("100")},
		}}},
	}
	if o.Platform != nil {
		o.Platform(&s.PlatCfg)
	}
	s.InstCfg = institution.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true, PublicURL: s.InstDoor.URL},
			Storage:    config.Storage{DB: o.InstitutionDB, DataDir: filepath.Join(dir, "institution")},
			Admin:      config.Admin{Token: InstAdmin},
			TrustRoots: []string{p.CAFile},
			Outbox: config.Outbox{Poll: fast, RetryInitial: fast,
				RetryMax: config.Duration{Duration: 200 * time.Millisecond}},
		},
		Institution: institution.Identity{Name: InstitutionName, CreditCode: InstCreditCode,
			SealCert: filepath.Join(dir, "inst.cert.pem"), SealKey: filepath.Join(dir, "inst.key.pem"), Prefix: "HXDB"},
		Underwrite: institution.Underwriting{Mode: institution.ModeAuto, MaxBond: "5000000"},
		Invoicing:  institution.Invoicing{Mode: institution.ModeAuto, Code: "033002300111"},
		Products:   []institution.Product{{Name: Product, Rate: "0.005", MinPremium: "100", Terms: "见索即付，不可撤销"}},
		Platforms:  []institution.Platform{{Peer: platPeer}},
	}
	if o.Institution != nil {
		o.Institution(&s.InstCfg)
	}
	s.StartPlatform()
	s.StartInstitution()
	t.Cleanup(s.Stop)
	ctx := context.Background()
	if _, err := s.Plat.RegisterBidder(ctx, platform.BidderInput{Name: BidderName, CreditCode: BidderCode, CertPEM: string(p.Bidder.CertPEM)}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Stack) logger(w io.Writer) *slog.Logger {
	level := slog.LevelDebug
	if s.quiet {
		level = slog.LevelWarn
	}
	var out io.Writer = w
	if os.Getenv("BAOHAN_TEST_LOG") != "" {
		out = io.MultiWriter(w, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}

// StartPlatform (re)opens the platform on its data and runs it.
func (s *Stack) StartPlatform() {
	s.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts := []platform.Option{platform.WithClock(s.Clock.Now), platform.WithLogger(s.logger(s.PlatLog)),
		platform.WithBackoff(store.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxAttempts: -1, Jitter: -1})}
	if s.HTTP != http.DefaultClient {
		opts = append(opts, platform.WithHTTPClient(&http.Client{Transport: s.HTTP.Transport, Timeout: s.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}))
	}
	svc, err := platform.New(ctx, s.PlatCfg, opts...)
	if err != nil {
		cancel()
		s.T.Fatal(err)
	}
	s.Plat, s.platCancel, s.platDone = svc, cancel, make(chan error, 1)
	s.PlatDoor.Set(svc.Handler())
	go func() { s.platDone <- svc.Run(ctx) }()
}

// StopPlatform ends the platform's Run and closes it; its door answers 503.
func (s *Stack) StopPlatform() {
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
func (s *Stack) StartInstitution() {
	s.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts := []institution.Option{institution.WithClock(s.Clock.Now), institution.WithLogger(s.logger(s.InstLog))}
	if s.HTTP != http.DefaultClient {
		opts = append(opts, institution.WithHTTPClient(&http.Client{Transport: s.HTTP.Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}))
	}
	svc, err := institution.New(ctx, s.InstCfg, opts...)
	if err != nil {
		cancel()
		s.T.Fatal(err)
	}
	s.Inst, s.instCancel, s.instDone = svc, cancel, make(chan error, 1)
	s.InstDoor.Set(svc.Handler())
	go func() { s.instDone <- svc.Run(ctx) }()
}

// StopInstitution ends the institution's Run and closes it.
func (s *Stack) StopInstitution() {
	if s.instCancel == nil {
		return
	}
	s.InstDoor.Set(nil)
	s.instCancel()
	<-s.instDone
	s.Inst.Close()
	s.instCancel = nil
}

// Stop stops both services.
func (s *Stack) Stop() {
	s.PlatDoor.Release()
	s.InstDoor.Release()
	s.StopPlatform()
	s.StopInstitution()
}

// Section registers a section opening after d (on the stack's clock).
func (s *Stack) Section(d time.Duration) *platform.Section {
	s.T.Helper()
	n := s.seq.Add(1)
	sec, err := s.Plat.RegisterSection(context.Background(), platform.SectionInput{
		No: fmt.Sprintf("BD-2026-%04d", n), Name: fmt.Sprintf("城南污水处理厂提标改造工程施工第%d标段", n),
		Tenderer: "某市城市建设投资集团有限公司", TendererCode: "91330100MA2CTY001W",
		BondAmount: decimal.RequireFromString("800000.00"), KaibiaoTime: s.Clock.Now().Add(d).Truncate(time.Second),
	})
	if err != nil {
		s.T.Fatal(err)
	}
	return sec
}

// Apply applies for a guarantee of the section at the institution and
// returns the applyno (the baohanapply is delivered in the background).
func (s *Stack) Apply(sectionNo string) string {
	s.T.Helper()
	a, err := s.Plat.Apply(context.Background(), platform.ApplyInput{SectionNo: sectionNo, BidderCode: BidderCode,
		Institution: InstitutionName, Product: Product})
	if err != nil {
		s.T.Fatal(err)
	}
	return a.ApplyNo
}

// Eventually polls cond every 10ms until it holds, failing after limit.
func (s *Stack) Eventually(what string, limit time.Duration, cond func() bool) {
	s.T.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			s.T.Fatalf("gave up waiting (%s) for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PlatApp returns the platform's application.
func (s *Stack) PlatApp(applyNo string) *platform.Application {
	s.T.Helper()
	a, err := s.Plat.Application(context.Background(), applyNo)
	if err != nil {
		s.T.Fatal(err)
	}
	return a
}

// InstApp returns the institution's application (nil before baohanapply arrived).
func (s *Stack) InstApp(applyNo string) *institution.Application {
	a, err := s.Inst.ApplicationByApplyNo(context.Background(), PlatformName, applyNo)
	if err != nil {
		return nil
	}
	return a
}

// WaitPlat waits until the platform's application is in state.
func (s *Stack) WaitPlat(applyNo string, state platform.State, limit time.Duration) {
	s.T.Helper()
	s.Eventually(fmt.Sprintf("platform %s %s", applyNo, state), limit, func() bool {
		a, err := s.Plat.Application(context.Background(), applyNo)
		return err == nil && a.State == state
	})
}

// WaitInst waits until the institution's application is in state.
func (s *Stack) WaitInst(applyNo string, state institution.State, limit time.Duration) {
	s.T.Helper()
	s.Eventually(fmt.Sprintf("institution %s %s", applyNo, state), limit, func() bool {
		a := s.InstApp(applyNo)
		return a != nil && a.State == state
	})
}

// Token waits for the redirecturl and returns the bidder token.
func (s *Stack) Token(applyNo string, limit time.Duration) string {
	s.T.Helper()
	var url string
	s.Eventually("the redirecturl of "+applyNo, limit, func() bool {
		a, err := s.Plat.Application(context.Background(), applyNo)
		if err == nil {
			url = a.RedirectURL
		}
		return url != ""
	})
	i := strings.Index(url, "/bidder/")
	if i < 0 {
		s.T.Fatalf("redirecturl %q has no /bidder/", url)
	}
	return url[i+len("/bidder/"):]
}

// BidderSignsAndPays plays the bidder at the institution over HTTP: open
// the envelope with the bidder's key, sign the agreement, pay.
func (s *Stack) BidderSignsAndPays(token string) {
	s.T.Helper()
	if err := BidderFlowWith(s.HTTP, s.InstDoor.URL, token, s.PKI.Bidder); err != nil {
		s.T.Fatal(err)
	}
}

// Issued runs apply → bidder → issuance until the platform holds the
// ciphertext guarantee and the institution knows it (issued), and
// returns the applyno.
func (s *Stack) Issued(sectionNo string, limit time.Duration) string {
	s.T.Helper()
	applyNo := s.Apply(sectionNo)
	s.BidderSignsAndPays(s.Token(applyNo, limit))
	s.WaitPlat(applyNo, platform.CipherReceived, limit)
	s.WaitInst(applyNo, institution.Issued, limit)
	return applyNo
}

// Compare checks that both sides agree on the application: the platform
// in want, the institution in the matching state, same baohanno, and
// returns a description of any disagreement ("" when they agree).
func (s *Stack) Compare(applyNo string) string {
	pa := s.PlatApp(applyNo)
	ia := s.InstApp(applyNo)
	if ia == nil {
		return "the institution has no application " + applyNo
	}
	want, ok := Agree[pa.State]
	if !ok {
		return fmt.Sprintf("no agreement rule for platform state %s", pa.State)
	}
	var msgs []string
	if !contains(want, ia.State) {
		msgs = append(msgs, fmt.Sprintf("platform %s but institution %s", pa.State, ia.State))
	}
	if pa.BaohanNo != ia.BaohanNo {
		msgs = append(msgs, fmt.Sprintf("baohanno: platform %q, institution %q", pa.BaohanNo, ia.BaohanNo))
	}
	return strings.Join(msgs, "; ")
}

// Agree maps a platform state to the institution states that agree.
var Agree = map[platform.State][]institution.State{
	platform.Applied: {institution.Received, institution.Opened, institution.Signed, institution.Paid, institution.Reviewing},
	// quit_pending: the institution waits for the answer to its quitnotice.
	platform.Approved:       {institution.Approved, institution.Issued, institution.QuitPending},
	platform.CipherReceived: {institution.Issued, institution.QuitPending},
	platform.Restored:       {institution.Restoring, institution.Restored},
	platform.PlainReceived:  {institution.Restored},
	platform.Rejected:       {institution.Rejected},
}

func contains(xs []institution.State, x institution.State) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Wire returns every exchange through both doors, in arrival order.
func (s *Stack) Wire() []Exchange {
	out := append(s.PlatDoor.Exchanges(), s.InstDoor.Exchanges()...)
	sortExchanges(out)
	return out
}

// Answer decodes a protocol answer; ok is false when it is not one.
func Answer(b []byte) (protocol.Response, bool) {
	var r protocol.Response
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return r, false
	}
	for _, k := range []string{"code", "message", "data"} {
		if _, ok := probe[k]; !ok {
			return r, false
		}
	}
	return r, json.Unmarshal(b, &r) == nil
}
