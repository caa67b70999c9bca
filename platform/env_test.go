package platform

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/chunk"
	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// clock is a settable clock shared by the platform and the fake
// institution.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Now().In(protocol.CST).Truncate(time.Second)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// testPKIs is the test PKI, made once: a root, a bidder, an institution with
// its seal.
type testPKIs struct {
	ca       *testca.CA
	caFile   string
	bidder   *testca.Identity
	bidder2  *testca.Identity
	inst     *testca.Identity
	seal     *ses.Seal
	rogue    *testca.Identity // issued by another CA
	rogueCA  *testca.CA
	rogueSea *ses.Seal
}

var (
	pkiOnce sync.Once
	testPKI *testPKIs
	pkiErr  error
	pkiDir  string
)

func getPKI(t testing.TB) *testPKIs {
	t.Helper()
	pkiOnce.Do(func() {
		p := &testPKIs{}
		var err error
		defer func() { pkiErr = err }()
		if p.ca, err = testca.New("baohan Test Root CA"); err != nil {
			return
		}
		if pkiDir, err = os.MkdirTemp("", "platform-pki-"); err != nil {
			return
		}
		p.caFile = filepath.Join(pkiDir, "ca.cert.pem")
		if err = os.WriteFile(p.caFile, p.ca.CertPEM(), 0o600); err != nil {
			return
		}
		if p.bidder, err = p.ca.Issue("某某建设工程有限公司", testca.Bidder, testca.WithCreditCode("91110000MA01BDD014")); err != nil {
			return
		}
		if p.bidder2, err = p.ca.Issue("另一家建设有限公司", testca.Bidder, testca.WithCreditCode("91110000MA01BDD027")); err != nil {
			return
		}
		if p.inst, err = p.ca.Issue("某某融资担保有限公司", testca.Institution); err != nil {
			return
		}
		now := time.Now()
		if p.seal, err = ses.MakeSeal(p.inst.Key, p.inst.Cert, ses.SealSpec{Name: "某某融资担保有限公司电子公章",
			Holders: []*smx509.Certificate{p.inst.Cert}, ValidStart: now.Add(-time.Hour), ValidEnd: now.Add(365 * 24 * time.Hour)}); err != nil {
			return
		}
		if p.rogueCA, err = testca.New("Rogue CA"); err != nil {
			return
		}
		if p.rogue, err = p.rogueCA.Issue("冒名担保公司", testca.Institution); err != nil {
			return
		}
		if p.rogueSea, err = ses.MakeSeal(p.rogue.Key, p.rogue.Cert, ses.SealSpec{Name: "冒名公章",
			Holders: []*smx509.Certificate{p.rogue.Cert}, ValidStart: now.Add(-time.Hour), ValidEnd: now.Add(365 * 24 * time.Hour)}); err != nil {
			return
		}
		testPKI = p
	})
	if pkiErr != nil {
		t.Fatalf("test PKI: %v", pkiErr)
	}
	return testPKI
}

func TestMain(m *testing.M) {
	slog.SetDefault(testLogger())
	code := m.Run()
	if pkiDir != "" {
		os.RemoveAll(pkiDir)
	}
	os.Exit(code)
}

// gdoc describes a guarantee file made for a test.
type gdoc struct {
	applyNo, baohanNo string
	fileType          int              // 1 (default) or 2
	extra             int              // bytes of random padding attached, to reach a size
	rogue             bool             // sealed by an institution of another CA
	cipher            []byte           // filetype 2: the ciphertext guarantee attached as 密文保函.ofd
	bidder            *testca.Identity // signs the agreement; nil: p.bidder
	noAgreement       bool
	sealer            *testca.Identity // seals it with a seal made from its certificate; nil: p.inst (p.rogue when rogue)
}

// guaranteeOFD makes a guarantee file as the platform wants it: its
// CustomData name the application, the 保函委托协议 signed by the bidder
// is attached, and the institution seals it.
func guaranteeOFD(t testing.TB, p *testPKIs, g gdoc) []byte {
	t.Helper()
	if g.fileType == 0 {
		g.fileType = 1
	}
	now := time.Now()
	title := fmt.Sprintf("电子投标保函（filetype %d）%s", g.fileType, g.baohanNo)
	b := ofd.NewBuilder(ofd.Info{Title: title, Created: now, Custom: []ofd.CustomData{
		{Name: "baohanno", Value: g.baohanNo}, {Name: "applyno", Value: g.applyNo}, {Name: "filetype", Value: strconv.Itoa(g.fileType)}}})
	pg := b.AddPage()
	pg.Text(20, 30, ofd.TextStyle{Font: b.Font("宋体", "宋体"), Size: 5}, title)
	if !g.noAgreement {
		if err := b.Attach(ofd.Attachment{Name: guarantee.AgreementAttachmentName, Format: "ofd", Data: agreementOFD(t, p, cmp.Or(g.bidder, p.bidder), g.applyNo)}); err != nil {
			t.Fatal(err)
		}
	}
	if g.cipher != nil {
		if err := b.Attach(ofd.Attachment{Name: guarantee.CipherAttachmentName, Format: "ofd", Data: g.cipher}); err != nil {
			t.Fatal(err)
		}
	}
	if g.extra > 0 {
		data := make([]byte, g.extra)
		rand.Read(data)
		if err := b.Attach(ofd.Attachment{Name: "padding.bin", Format: "bin", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	signer := ses.Signer{Key: p.inst.Key, Cert: p.inst.Cert, Seal: p.seal}
	switch {
	case g.rogue:
		signer = ses.Signer{Key: p.rogue.Key, Cert: p.rogue.Cert, Seal: p.rogueSea}
	case g.sealer != nil:
		seal, err := guarantee.InstitutionSeal(g.sealer.Key, g.sealer.Cert, g.sealer.Name, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		signer = ses.Signer{Key: g.sealer.Key, Cert: g.sealer.Cert, Seal: seal}
	}
	signed, err := ses.Sign(doc, signer, ses.SignOptions{Time: now, Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 120, Y: 200, W: 40, H: 40}}}})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// agreementOFD makes a one-page 保函委托协议 for applyNo signed by bidder.
func agreementOFD(t testing.TB, p *testPKIs, bidder *testca.Identity, applyNo string) []byte {
	t.Helper()
	b := ofd.NewBuilder(ofd.Info{Title: "投标保函委托协议", Created: time.Now(), Custom: []ofd.CustomData{{Name: "applyno", Value: applyNo}}})
	b.AddPage().Text(20, 30, ofd.TextStyle{Font: b.Font("宋体", "宋体"), Size: 5}, "投标保函委托协议 "+applyNo)
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	seal, err := guarantee.BidderSeal(bidder.Key, bidder.Cert, bidder.Name, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ses.Sign(doc, ses.Signer{Key: bidder.Key, Cert: bidder.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// call is one call the fake institution received.
type call struct {
	Interface protocol.Interface
	Fields    map[string]string
}

// fakeInstitution serves the institution side of the interface through
// the real transport pipeline (sign, timestamp, rules) and records every
// call. answer decides the reply; down makes it answer HTTP 503.
type fakeInstitution struct {
	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []call
	down    bool
	garbage int // answer this many next requests with HTML and HTTP 200
	answer  map[protocol.Interface]func(f map[string]string) (any, error)
}

func newFakeInstitution(t testing.TB, peer *transport.Peer, now func() time.Time) *fakeInstitution {
	f := &fakeInstitution{t: t, answer: map[protocol.Interface]func(map[string]string) (any, error){}}
	ts := &transport.Server{Peers: transport.NewStaticPeers(peer), Seen: &protocol.MemorySeen{}, Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, i := range protocol.ServedBySide(protocol.Institution) {
		ts.Handle(i, func(ctx context.Context, _ *transport.Peer, r *protocol.Request) (any, error) {
			fields := map[string]string{}
			for k, v := range r.Fields {
				fields[k] = v
			}
			f.mu.Lock()
			f.calls = append(f.calls, call{Interface: i, Fields: fields})
			fn := f.answer[i]
			f.mu.Unlock()
			if fn != nil {
				return fn(fields)
			}
			if i == protocol.BaohanApply {
				return protocol.ApplyResult{RedirectURL: "https://bank.example.cn/bid?applyno=" + fields["applyno"]}, nil
			}
			return nil, nil
		})
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down := f.down
		garbage := f.garbage > 0
		if garbage {
			f.garbage--
		}
		f.mu.Unlock()
		if garbage {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>gateway says hello</body></html>"))
			return
		}
		if down {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		ts.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInstitution) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeInstitution) setAnswer(i protocol.Interface, fn func(map[string]string) (any, error)) {
	f.mu.Lock()
	f.answer[i] = fn
	f.mu.Unlock()
}

// holdAnswer makes the calls of interface i wait until release is
// called, then answer with fn: the test decides when the answer comes.
// release is idempotent and also runs at the end of t, so that a failed
// test does not leave the call hanging.
func (f *fakeInstitution) holdAnswer(t testing.TB, i protocol.Interface, fn func(map[string]string) (any, error)) (release func()) {
	hold := make(chan struct{})
	release = sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	f.setAnswer(i, func(fields map[string]string) (any, error) {
		<-hold
		return fn(fields)
	})
	return release
}

// received returns the calls of interface i (all when "") for applyno
// ("" for any).
func (f *fakeInstitution) received(i protocol.Interface, applyNo string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if (i == "" || c.Interface == i) && (applyNo == "" || c.Fields["applyno"] == applyNo) {
			out = append(out, c)
		}
	}
	return out
}

const (
	testAppKey     = "bank-key"
	testAppSecret  = "bank-secret-0123456789"
	testPlatform   = "P-TEST"
	testAdmin      = "admin-token-0123456789abcdef"
	testAppKey2    = "bank2-key"
	testAppSecret2 = "bank2-secret-0123456789"
)

// env is a platform on a database, served over HTTP, with a fake
// institution and a client that plays the institution's calls.
type env struct {
	t      testing.TB
	ctx    context.Context
	clock  *clock
	pki    *testPKIs
	dbURL  string
	dir    string
	cfg    Config
	svc    *Service
	srv    *httptest.Server
	inst   *fakeInstitution
	peer   *transport.Peer // the institution as the platform knows it (also the client's peer)
	client *transport.Client
	stop   context.CancelFunc
	done   chan error
}

type envOption func(*Config)

func withBasicAccount() envOption {
	return func(c *Config) { c.Institutions[0].RequireBasicAccount = true }
}

func newEnv(t testing.TB, dbURL string, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: newClock(), pki: getPKI(t), dbURL: dbURL, dir: t.TempDir()}
	peerCfg := config.Peer{Name: "bank", AppKey: testAppKey, AppSecret: testAppSecret, PlatformCode: testPlatform, ChunkSize: 64 << 10, MaxChunkSize: 64 << 10}
	p, err := peerCfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	e.inst = newFakeInstitution(t, p, e.clock.Now)
	peerCfg.BaseURL = e.inst.srv.URL
	e.cfg = Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true},
			Storage:    config.Storage{DB: dbURL, DataDir: e.dir},
			TrustRoots: []string{e.pki.caFile},
			Admin:      config.Admin{Token: testAdmin},
			Outbox:     config.Outbox{Poll: config.Duration{Duration: 50 * time.Millisecond}},
		},
		Institutions: []Institution{{Peer: peerCfg, SealCreditCode: e.pki.inst.CreditCode, Products: []Product{
			{Name: "投标保函", Rate: decimal.RequireFromString("0.005")},
			{Name: "投标保函（低费率）", Rate: decimal.RequireFromString("0.003"), MinPremium: decimal.RequireFromString("500")},
		}}},
	}
	// A second institution, to check that one institution cannot touch
	// another's applications.
	other := config.Peer{Name: "bank2", AppKey: testAppKey2, AppSecret: testAppSecret2, PlatformCode: testPlatform, BaseURL: e.inst.srv.URL + "/other"}
	e.cfg.Institutions = append(e.cfg.Institutions, Institution{Peer: other, Products: []Product{{Name: "保函", Rate: decimal.RequireFromString("0.004")}}})
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start()
	t.Cleanup(e.close)
	e.peer, _ = e.cfg.Institutions[0].Transport()
	e.client = &transport.Client{Now: e.clock.Now}
	return e
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))

func testLogger() *slog.Logger {
	if os.Getenv("BAOHAN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quietLogger
}

// with returns the env for a subtest (helpers fail t, not the parent).
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// start (re)opens the service on the env's database and runs it.
func (e *env) start(opts ...Option) {
	e.t.Helper()
	opts = append([]Option{WithClock(e.clock.Now), WithLogger(testLogger()),
		WithBackoff(store.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxAttempts: -1, Jitter: -1})}, opts...)
	svc, err := New(e.ctx, e.cfg, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc = svc
	e.srv = httptest.NewServer(svc.Handler())
	ctx, cancel := context.WithCancel(e.ctx)
	e.stop = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- svc.Run(ctx) }()
}

// close stops the service as a crash would not: Run ends, the database
// is closed (deliveries in flight are released).
func (e *env) close() {
	if e.svc == nil {
		return
	}
	e.stop()
	<-e.done
	e.srv.Close()
	e.svc.Close()
	e.svc = nil
}

// send calls a platform interface as the institution would: fields are
// signed with the appkey's secret and stamped with the clock.
func (e *env) send(i protocol.Interface, fields map[string]string) *protocol.Response {
	e.t.Helper()
	peer := *e.peer
	peer.BaseURL = e.srv.URL
	resp, err := e.client.Call(e.ctx, &peer, i, fields)
	if err != nil {
		e.t.Fatalf("%s: %v", i, err)
	}
	e.tick()
	e.fullMessage(resp)
	return resp
}

// fullMessage replaces a message clipped to the spec's 100 characters
// with the whole of it from the message log, so that the tests read what
// the platform said.
func (e *env) fullMessage(resp *protocol.Response) {
	e.t.Helper()
	if resp.Code != 0 || !strings.HasSuffix(resp.Message, "…") {
		return
	}
	if n := len([]rune(resp.Message)); n > protocol.MaxMessage {
		e.t.Fatalf("an answer's message of %d characters: %s", n, resp.Message)
	}
	prefix := strings.TrimSuffix(resp.Message, "…")
	no := false
	for range 200 {
		es, err := e.svc.MessageLog().List(e.ctx, store.LogFilter{Direction: "in", OK: &no, Limit: 5})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, x := range es {
			if strings.HasPrefix(x.Error, prefix) {
				resp.Message = x.Error
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("the message log has no refusal starting %q", prefix)
}

// tick moves the clock by a second after each request, as real time
// would: a resent request gets a new timestamp, hence a new sign.
func (e *env) tick() { e.clock.Add(time.Second) }

// sendAs calls a platform interface with another institution's appkey.
func (e *env) sendAs(appkey, secret string, i protocol.Interface, fields map[string]string) *protocol.Response {
	e.t.Helper()
	peer := transport.Peer{Name: appkey, AppKey: appkey, AppSecret: secret, BaseURL: e.srv.URL}
	resp, err := e.client.Call(e.ctx, &peer, i, fields)
	if err != nil {
		e.t.Fatalf("%s: %v", i, err)
	}
	e.tick()
	e.fullMessage(resp)
	return resp
}

// sendRaw posts a body as it is.
func (e *env) sendRaw(i protocol.Interface, body []byte) *protocol.Response {
	e.t.Helper()
	peer := *e.peer
	peer.BaseURL = e.srv.URL
	resp, err := e.client.Post(e.ctx, &peer, i, body)
	if err != nil {
		e.t.Fatalf("%s: %v", i, err)
	}
	e.fullMessage(resp)
	return resp
}

// signed returns the JSON body of a signed request with the fields.
func (e *env) signed(fields map[string]string, secret string) []byte {
	f := map[string]string{"appkey": testAppKey, "timestamp": protocol.FormatTime(e.clock.Now())}
	for k, v := range fields {
		f[k] = v
	}
	delete(f, "sign")
	f["sign"] = protocol.Sign(f, secret)
	return protocol.MarshalFields(f)
}

func wantOK(t testing.TB, what string, r *protocol.Response) {
	t.Helper()
	if r.Code != 1 {
		t.Fatalf("%s: code %d, message %q; want code 1", what, r.Code, r.Message)
	}
}

func wantFail(t testing.TB, what string, r *protocol.Response, msg string) {
	t.Helper()
	if r.Code != 0 || r.Message != msg {
		t.Fatalf("%s: code %d, message\n  %q\nwant code 0 and\n  %q", what, r.Code, r.Message, msg)
	}
}

func wantFailContains(t testing.TB, what string, r *protocol.Response, parts ...string) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: code %d (%q), want 0", what, r.Code, r.Message)
	}
	for _, p := range parts {
		if !strings.Contains(r.Message, p) {
			t.Fatalf("%s: message %q does not contain %q", what, r.Message, p)
		}
	}
}

// eventually polls cond until it holds (10s at most), kicking the
// dispatcher.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		if e.svc != nil {
			e.svc.disp.Kick()
		}
		time.Sleep(10 * time.Millisecond)
		// Time passes for the retries too (backoffs are on the clock).
		e.clock.Add(50 * time.Millisecond)
	}
}

// settle waits until the outbox has nothing due now.
func (e *env) settle() {
	e.t.Helper()
	e.eventually("the outbox to settle", func() bool {
		ms, err := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range ms {
			switch m.State {
			case store.StateDelivering:
				return false
			case store.StatePending, store.StateFailed:
				if !m.NextAttemptAt.After(e.clock.Now()) {
					return false
				}
			}
		}
		return true
	})
}

func (e *env) app(applyNo string) *Application {
	e.t.Helper()
	a, err := e.svc.Application(e.ctx, applyNo)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) wantState(applyNo string, want State) {
	e.t.Helper()
	if got := e.app(applyNo).State; got != want {
		e.t.Fatalf("applyno %s is %s, want %s", applyNo, got, want)
	}
}

var sectionSeq int

// section registers a section opening in d.
func (e *env) section(d time.Duration) *Section {
	e.t.Helper()
	sectionSeq++
	sec, err := e.svc.RegisterSection(e.ctx, SectionInput{
		No: "GC2026-" + strconv.Itoa(sectionSeq) + "-" + strconv.FormatInt(time.Now().UnixNano()%100000, 10), Name: "某某市政道路改造工程施工第" + strconv.Itoa(sectionSeq) + "标段",
		Tenderer: "某某市城市建设投资有限公司", TendererCode: "91330100MA2CTY0020",
		BondAmount: decimal.RequireFromString("200000.00"), KaibiaoTime: e.clock.Now().Add(d),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return sec
}

func (e *env) bidder(id *testca.Identity) *Bidder {
	e.t.Helper()
	b, err := e.svc.RegisterBidder(e.ctx, BidderInput{Name: id.Name, CreditCode: id.CreditCode, CertPEM: string(id.CertPEM)})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// applied creates an application and waits until baohanapply is answered.
func (e *env) applied(sec *Section) *Application {
	e.t.Helper()
	e.bidder(e.pki.bidder)
	a, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.eventually("the baohanapply answer", func() bool { return e.app(a.ApplyNo).RedirectURL != "" })
	return e.app(a.ApplyNo)
}

func (e *env) noticeFields(applyNo, baohanNo, status string) map[string]string {
	return map[string]string{"applyno": applyNo, "baohanno": baohanNo, "instname": "某某融资担保有限公司",
		"generatetime": protocol.FormatTime(e.clock.Now()), "rate": "0.005", "cost": "1000.00", "applystatus": status}
}

// approved applies and sends an approving notice.
func (e *env) approved(sec *Section) (*Application, string) {
	e.t.Helper()
	a := e.applied(sec)
	baohanNo := "BH-NO-" + a.ApplyNo[10:]
	wantOK(e.t, "baohannotice", e.send(protocol.BaohanNotice, e.noticeFields(a.ApplyNo, baohanNo, "1")))
	return e.app(a.ApplyNo), baohanNo
}

// upload describes how a guarantee file is sent.
type upload struct {
	chunkSize  int
	shuffle    bool
	duplicates bool
	indexBase  int
	md5        bool
	skip       int // index (0-based position) of a chunk not sent; -1 none
	bak1       string
}

// encrypted is a guarantee file ready to send.
type encrypted struct {
	chunks []string // base64, in order
	key    string   // SM2-wrapped, base64
	iv     string
	digest string
}

// encrypt downloads the applyno's public key and encrypts doc as an
// institution does.
func (e *env) encrypt(applyNo string, doc []byte, u upload) *encrypted {
	e.t.Helper()
	r := e.send(protocol.DownloadPublicKey, map[string]string{"applyno": applyNo})
	wantOK(e.t, "downloadpublickey", r)
	var pk protocol.PublicKeyResult
	if err := json.Unmarshal(r.Data, &pk); err != nil {
		e.t.Fatal(err)
	}
	pub, err := gm.ParsePublicKey([]byte(pk.PublicKey))
	if err != nil {
		e.t.Fatal(err)
	}
	key, iv := gm.NewKey(), gm.NewKey()
	var ct bytes.Buffer
	w, err := gm.NewCBCEncryptWriter(&ct, key, iv)
	if err != nil {
		e.t.Fatal(err)
	}
	w.Write(doc)
	w.Close()
	out := &encrypted{}
	size := u.chunkSize
	if size == 0 {
		size = 64 << 10
	}
	if err := chunk.Split(&ct, size, func(i int, b64 string) error {
		out.chunks = append(out.chunks, b64)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	if out.key, err = gm.WrapKey(pub, key, gm.C1C3C2); err != nil {
		e.t.Fatal(err)
	}
	if out.iv, err = gm.WrapKey(pub, iv, gm.C1C3C2); err != nil {
		e.t.Fatal(err)
	}
	alg := gm.SM3
	if u.md5 {
		alg = gm.MD5
	}
	out.digest, _ = gm.FileDigest(bytes.NewReader(doc), alg)
	return out
}

// sendChunks uploads the chunks as u says and returns the answers.
func (e *env) sendChunks(applyNo, baohanNo, fileType string, enc *encrypted, u upload) {
	e.t.Helper()
	order := make([]int, len(enc.chunks))
	for i := range order {
		order[i] = i
	}
	if u.shuffle {
		// a fixed permutation: reversed, then odd before even
		sort.Slice(order, func(a, b int) bool {
			x, y := order[a], order[b]
			if x%2 != y%2 {
				return x%2 == 1
			}
			return x > y
		})
	}
	if u.duplicates {
		order = append(order, order[:len(order)/2]...)
	}
	base := u.indexBase
	for _, i := range order {
		if i == u.skip && u.skip >= 0 {
			continue
		}
		r := e.send(protocol.UploadBaohanFile, map[string]string{"applyno": applyNo, "baohanno": baohanNo, "filetype": fileType,
			"index": strconv.Itoa(i + base), "baohanfile": enc.chunks[i]})
		wantOK(e.t, "uploadbaohanfile index "+strconv.Itoa(i+base), r)
	}
}

func (e *env) complete(applyNo, baohanNo, fileType string, enc *encrypted, u upload) *protocol.Response {
	e.t.Helper()
	f := map[string]string{"applyno": applyNo, "baohanno": baohanNo, "filetype": fileType,
		"key": enc.key, "iv": enc.iv, "baohanfilemd5": enc.digest}
	if u.bak1 != "" {
		f["bak1"] = u.bak1
	}
	return e.send(protocol.BaohanFileCompleteNotice, f)
}

// sendGuarantee uploads doc and completes it; it returns the answer to
// the complete notice.
func (e *env) sendGuarantee(applyNo, baohanNo, fileType string, doc []byte, u upload) *protocol.Response {
	e.t.Helper()
	if u.skip == 0 && !u.shuffle && !u.duplicates && u.chunkSize == 0 {
		u.skip = -1
	}
	if u.indexBase == 0 && u.chunkSize == 0 {
		u.indexBase = 1
	}
	enc := e.encrypt(applyNo, doc, u)
	e.sendChunks(applyNo, baohanNo, fileType, enc, u)
	return e.complete(applyNo, baohanNo, fileType, enc, u)
}

func plainUpload() upload { return upload{skip: -1, indexBase: 1} }

// withCipher brings an application to cipher_received.
func (e *env) withCipher(sec *Section) (*Application, string) {
	e.t.Helper()
	a, baohanNo := e.approved(sec)
	doc := guaranteeOFD(e.t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: baohanNo})
	wantOK(e.t, "baohanfilecompletenotice", e.sendGuarantee(a.ApplyNo, baohanNo, "1", doc, plainUpload()))
	e.wantState(a.ApplyNo, CipherReceived)
	return e.app(a.ApplyNo), baohanNo
}

// admin calls the admin API.
func (e *env) admin(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
