package institution

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

const (
	testAppKey    = "test-inst"
	testSecret    = "s3cret-for-tests"
	testPlatCode  = "TESTPLAT"
	testPlatName  = "testplat"
	testInstName  = "测试融资担保有限公司"
	testBidder    = "某某建设工程有限公司"
	testBiaoduan  = "BD-2026-0001"
	testBDName    = "某某道路改造工程一标段"
	testZbr       = "某某市交通运输局"
	testZbrOrgNum = "11110000000000001X"
)

// fakePlatform plays the platform for the institution's outbound calls,
// checking every sign, and counts what arrives.
type fakePlatform struct {
	t      testing.TB
	srv    *httptest.Server
	roots  *smx509.CertPool
	layout gm.CipherLayout

	down         atomic.Bool // answer 503 to everything
	giveupAnswer atomic.Int32

	mu         sync.Mutex
	keys       map[string]*sm2.PrivateKey     // applyno → key pair of downloadpublickey
	chunks     map[string]map[int][]byte      // applyno/filetype → index → bytes
	chunkCalls map[string]int                 // applyno/filetype/index → calls
	calls      map[string]int                 // interface → calls that verified
	received   map[string][]map[string]string // interface → fields
	files      map[string][]byte              // applyno/filetype → decrypted, verified OFD
	onChunk    func(applyNo string, index int) bool
	onComplete func() bool
}

func newFakePlatform(t testing.TB, roots *smx509.CertPool) *fakePlatform {
	p := &fakePlatform{t: t, roots: roots, keys: map[string]*sm2.PrivateKey{}, chunks: map[string]map[int][]byte{},
		chunkCalls: map[string]int{}, calls: map[string]int{}, received: map[string][]map[string]string{}, files: map[string][]byte{}}
	p.giveupAnswer.Store(1)
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePlatform) answer(w http.ResponseWriter, r protocol.Response) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(r.Marshal())
}

func (p *fakePlatform) serve(w http.ResponseWriter, req *http.Request) {
	if p.down.Load() {
		http.Error(w, "platform down", http.StatusServiceUnavailable)
		return
	}
	name := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
	body, _ := io.ReadAll(req.Body)
	r, err := protocol.ParseRequest(body)
	if err != nil {
		p.answer(w, protocol.Fail("bad body: %v", err))
		return
	}
	if r.Get("appkey") != testAppKey {
		p.answer(w, protocol.Fail("unknown appkey"))
		return
	}
	if v := protocol.Verify(r, testSecret); !v.OK {
		p.t.Errorf("fake platform: %s: sign does not verify: %s", name, v.Diagnosis())
		p.answer(w, protocol.Fail("sign"))
		return
	}
	i, ok := protocol.Lookup(name)
	if !ok {
		p.answer(w, protocol.Fail("unknown interface %s", name))
		return
	}
	if vs := protocol.Validate(i, r); len(vs) > 0 {
		p.t.Errorf("fake platform: %s breaks the spec: %v", name, vs)
		p.answer(w, protocol.Fail("%s", vs[0].Message))
		return
	}
	fields := map[string]string{}
	for k, v := range r.Fields {
		fields[k] = v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[name]++
	p.received[name] = append(p.received[name], fields)
	applyNo := r.Get("applyno")
	switch i {
	case protocol.DownloadPublicKey:
		k, ok := p.keys[applyNo]
		if !ok {
			k, _ = gm.GenerateKey()
			p.keys[applyNo] = k
		}
		p.answer(w, protocol.OK(protocol.PublicKeyResult{PublicKey: gm.PublicKeyHex(&k.PublicKey)}))
	case protocol.UploadBaohanFile:
		idx, _ := strconv.Atoi(r.Get("index"))
		if p.onChunk != nil && !p.onChunk(applyNo, idx) {
			p.calls[name]--
			http.Error(w, "interrupted", http.StatusBadGateway)
			return
		}
		key := applyNo + "/" + r.Get("filetype")
		b, err := base64.StdEncoding.DecodeString(r.Get("baohanfile"))
		if err != nil {
			p.answer(w, protocol.Fail("baohanfile: %v", err))
			return
		}
		if p.chunks[key] == nil {
			p.chunks[key] = map[int][]byte{}
		}
		p.chunks[key][idx] = b
		p.chunkCalls[key+"/"+r.Get("index")]++
		p.answer(w, protocol.OK(nil))
	case protocol.BaohanFileCompleteNotice:
		if p.onComplete != nil && !p.onComplete() {
			p.answer(w, protocol.Fail("not today"))
			return
		}
		if err := p.complete(r); err != nil {
			p.t.Errorf("fake platform: complete notice: %v", err)
			p.answer(w, protocol.Fail("%v", err))
			return
		}
		p.answer(w, protocol.OK(nil))
	case protocol.GiveupNotice:
		if p.giveupAnswer.Load() == 1 {
			p.answer(w, protocol.OK(nil))
		} else {
			p.answer(w, protocol.Fail("the bidder's application is already in use"))
		}
	default:
		p.answer(w, protocol.OK(nil))
	}
}

// complete reassembles, decrypts, checks the digest and the seals.
func (p *fakePlatform) complete(r *protocol.Request) error {
	applyNo, ft := r.Get("applyno"), r.Get("filetype")
	k := p.keys[applyNo]
	if k == nil {
		return fmt.Errorf("no public key was downloaded for %s", applyNo)
	}
	parts := p.chunks[applyNo+"/"+ft]
	idx := make([]int, 0, len(parts))
	for i := range parts {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	if n, _ := strconv.Atoi(r.Get("bak1")); n != len(idx) {
		return fmt.Errorf("bak1 %s, %d chunks received", r.Get("bak1"), len(idx))
	}
	var enc bytes.Buffer
	for j, i := range idx {
		if i != j+1 {
			return fmt.Errorf("chunk indexes %v are not contiguous from 1", idx)
		}
		enc.Write(parts[i])
	}
	key, err := gm.UnwrapKey(k, r.Get("key"), p.layout)
	if err != nil {
		return fmt.Errorf("key: %v", err)
	}
	iv, err := gm.UnwrapKey(k, r.Get("iv"), p.layout)
	if err != nil {
		return fmt.Errorf("iv: %v", err)
	}
	dr, err := gm.NewCBCDecryptReader(&enc, key, iv)
	if err != nil {
		return err
	}
	plain, err := io.ReadAll(dr)
	if err != nil {
		return fmt.Errorf("decrypt: %v", err)
	}
	alg, err := gm.DigestAlgOf(r.Get("baohanfilemd5"))
	if err != nil {
		return err
	}
	if d, _ := gm.FileDigest(bytes.NewReader(plain), alg); d != r.Get("baohanfilemd5") {
		return fmt.Errorf("digest %s, computed %s", r.Get("baohanfilemd5"), d)
	}
	rep, err := ses.Verify(plain, p.roots)
	if err != nil {
		return fmt.Errorf("ses.Verify: %v", err)
	}
	if !rep.OK() {
		return fmt.Errorf("the guarantee's seals do not verify: %+v", rep.Signatures[0].Failures())
	}
	p.files[applyNo+"/"+ft] = plain
	return nil
}

func (p *fakePlatform) count(iface string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[iface]
}

func (p *fakePlatform) last(iface string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.received[iface]
	if len(l) == 0 {
		return nil
	}
	return l[len(l)-1]
}

func (p *fakePlatform) file(applyNo string, ft int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.files[applyNo+"/"+strconv.Itoa(ft)]
}

// maxChunkCalls is the most times any one chunk of the file arrived.
func (p *fakePlatform) maxChunkCalls(applyNo string, ft int) (max, distinct int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prefix := applyNo + "/" + strconv.Itoa(ft) + "/"
	for k, n := range p.chunkCalls {
		if strings.HasPrefix(k, prefix) {
			distinct++
			if n > max {
				max = n
			}
		}
	}
	return
}

// env is one institution under test with its fake platform, CA and bidder.
type env struct {
	t        testing.TB
	ctx      context.Context
	svc      *Service
	srv      *httptest.Server
	plat     *fakePlatform
	ca       *testca.CA
	bidder   *testca.Identity
	cfg      Config
	offset   atomic.Int64 // the service clock is time.Now() + offset
	cancel   context.CancelFunc
	runDone  chan error
	dbURL    string
	dataDir  string
	handler  atomic.Pointer[http.Handler]
	projKeys map[string][]byte
	opts     []Option // extra options of New
}

type envOption func(*Config)

func manualUnderwriting(c *Config) { c.Underwrite.Mode = ModeManual }

// newEnv starts an institution on SQLite (or PostgreSQL when pg is true).
func newEnv(t testing.TB, pg bool, opts ...envOption) *env {
	t.Helper()
	ca, err := testca.New("测试根CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	inst, err := ca.IssueToDir(dir, "inst", testca.Institution)
	if err != nil {
		t.Fatal(err)
	}
	bidder, err := ca.Issue(testBidder, testca.Bidder)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ca: ca, bidder: bidder, dataDir: filepath.Join(dir, "data"), projKeys: map[string][]byte{}}
	if pg {
		e.dbURL = storetest.FreshSchema(t)
	}
	e.plat = newFakePlatform(t, ca.Pool())
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := e.handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "not started", http.StatusServiceUnavailable)
	}))
	t.Cleanup(e.srv.Close)
	e.cfg = Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true, PublicURL: e.srv.URL},
			Storage:    config.Storage{DB: e.dbURL, DataDir: e.dataDir},
			Admin:      config.Admin{Token: "admin-token"},
			TrustRoots: []string{filepath.Join(dir, "ca.pem")},
			Outbox: config.Outbox{Poll: config.Duration{Duration: 20 * time.Millisecond},
				RetryInitial: config.Duration{Duration: 20 * time.Millisecond}, RetryMax: config.Duration{Duration: 200 * time.Millisecond}},
		},
		Institution: Identity{Name: testInstName, CreditCode: inst.CreditCode, SealCert: filepath.Join(dir, "inst.cert.pem"), SealKey: filepath.Join(dir, "inst.key.pem"), Prefix: "TB"},
		Underwrite:  Underwriting{Mode: ModeAuto, MaxBond: "1000000", Blocked: []string{"91110000BLCKED000A"}},
		Invoicing:   Invoicing{Mode: ModeAuto, Code: "011001900111"},
		Products:    []Product{{Name: "投标保函", Rate: "0.005", MinPremium: "100", Terms: "见索即付"}, {Name: "优惠", Rate: "0.003", MinPremium: "50"}},
		Platforms: []Platform{{Peer: config.Peer{Name: testPlatName, AppKey: testAppKey, AppSecret: testSecret,
			BaseURL: e.plat.srv.URL, PlatformCode: testPlatCode, ChunkSize: 1024}}},
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start()
	return e
}

func (e *env) clock() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

// advance moves the service's clock.
func (e *env) advance(d time.Duration) { e.offset.Add(int64(d)) }

// start opens the service (again) on the same data and runs it.
func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := e.logger()
	svc, err := New(ctx, e.cfg, append([]Option{WithClock(e.clock), WithLogger(logger)}, e.opts...)...)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.svc, e.ctx, e.cancel = svc, ctx, cancel
	h := svc.Handler()
	e.handler.Store(&h)
	e.runDone = make(chan error, 1)
	go func() { e.runDone <- svc.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

// stop ends Run and closes the service (idempotent).
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.runDone
	e.svc.Close()
	e.cancel = nil
	e.handler.Store(nil)
}

// deleteField as a value in call's fields removes the field.
const deleteField = "\x00delete"

// call makes a signed platform request to the institution.
func (e *env) call(iface protocol.Interface, fields map[string]string) protocol.Response {
	e.t.Helper()
	f := map[string]string{"appkey": testAppKey, "timestamp": protocol.FormatTime(e.clock())}
	if iface.ServedBy() == protocol.Institution && iface != protocol.GiveupNotice {
		f["platformcode"] = testPlatCode
	}
	for k, v := range fields {
		f[k] = v
		if v == deleteField {
			delete(f, k)
		}
	}
	if _, ok := fields["sign"]; !ok {
		f["sign"] = protocol.Sign(f, testSecret)
	}
	return e.post(iface, protocol.MarshalFields(f))
}

func (e *env) post(iface protocol.Interface, body []byte) protocol.Response {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+"/"+string(iface), "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r protocol.Response
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatalf("%s: answer is not JSON (HTTP %d): %s", iface, resp.StatusCode, b)
	}
	e.fullMessage(&r)
	return r
}

// fullMessage replaces a message clipped to the spec's 100 characters
// with the whole of it from the message log, so that the tests read what
// the institution said.
func (e *env) fullMessage(r *protocol.Response) {
	e.t.Helper()
	if r.Code != 0 || !strings.HasSuffix(r.Message, "…") {
		return
	}
	if n := len([]rune(r.Message)); n > protocol.MaxMessage {
		e.t.Fatalf("an answer's message of %d characters: %s", n, r.Message)
	}
	prefix := strings.TrimSuffix(r.Message, "…")
	no := false
	for range 200 {
		es, err := e.svc.msgs.List(context.Background(), store.LogFilter{Direction: "in", OK: &no, Limit: 5})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, x := range es {
			if strings.HasPrefix(x.Error, prefix) {
				r.Message = x.Error
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("the message log has no refusal starting %q", prefix)
}

// applyData makes the encrypted applydata and envelope for the bidder.
func (e *env) applyData(applyNo, bidderCode, bond string) (applydata, envelope string) {
	e.t.Helper()
	pk := gm.NewKey()
	e.projKeys[applyNo] = pk
	enc := func(s string) string {
		c, err := gm.EncryptField(pk, s)
		if err != nil {
			e.t.Fatal(err)
		}
		return c
	}
	d, _ := json.Marshal(protocol.ApplyData{BidderName: testBidder, BidderCode: bidderCode, BiaoduanNo: enc(testBiaoduan),
		BiaoduanName: enc(testBDName), BzjAmount: bond, Zbr: enc(testZbr), ZbrOrgNum: enc(testZbrOrgNum)})
	ad, env, err := gm.SealEnvelope(e.bidder.Cert.PublicKey.(*ecdsa.PublicKey), d, gm.C1C3C2)
	if err != nil {
		e.t.Fatal(err)
	}
	return ad, env
}

// apply sends baohanapply and returns the bidder token.
func (e *env) apply(applyNo, bond string) string {
	e.t.Helper()
	ad, envl := e.applyData(applyNo, e.bidder.CreditCode, bond)
	r := e.call(protocol.BaohanApply, map[string]string{"applyno": applyNo, "applydata": ad, "digitalenvelope": envl})
	if r.Code != 1 {
		e.t.Fatalf("baohanapply %s: %s", applyNo, r.Message)
	}
	var res protocol.ApplyResult
	json.Unmarshal(r.Data, &res)
	u, err := url.Parse(res.RedirectURL)
	if err != nil || !strings.HasPrefix(res.RedirectURL, e.srv.URL+"/bidder/") {
		e.t.Fatalf("redirecturl %q", res.RedirectURL)
	}
	return u.Path[len("/bidder/"):]
}

// bidderDo calls the bidder API and decodes JSON into out (when not nil).
func (e *env) bidderDo(method, path string, body []byte, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if raw, ok := out.(*[]byte); ok {
			*raw = b
		} else if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: HTTP %d, not JSON: %.200s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// admin calls the admin API.
func (e *env) admin(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: HTTP %d, not JSON: %.300s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// openAndSign opens the envelope with the bidder's key and signs the agreement.
func (e *env) openAndSign(token string) {
	e.t.Helper()
	var v BidderView
	if st := e.bidderDo("GET", "/bidder/"+token, nil, &v); st != 200 || v.Next != "open" {
		e.t.Fatalf("bidder view: %d %+v", st, v)
	}
	key, err := gm.SM2Decrypt(e.bidder.Key, mustB64(e.t, v.DigitalEnvelope), gm.C1C3C2)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := json.Marshal(OpenRequest{Key: base64.StdEncoding.EncodeToString(key)})
	var apiErr apiError
	if st := e.bidderDo("POST", "/bidder/"+token+"/open", body, &v); st != 200 {
		json.Unmarshal(body, &apiErr)
		e.t.Fatalf("open: HTTP %d %+v", st, v)
	}
	var agreement []byte
	if st := e.bidderDo("GET", "/bidder/"+token+"/agreement", nil, &agreement); st != 200 {
		e.t.Fatalf("agreement: HTTP %d %s", st, agreement)
	}
	signed := e.signAs(e.bidder, agreement)
	if st := e.bidderDo("POST", "/bidder/"+token+"/agreement", signed, &v); st != 200 || v.State != Signed {
		e.t.Fatalf("sign: HTTP %d %+v", st, v)
	}
}

// signAs signs an OFD with id's key and a personal seal.
func (e *env) signAs(id *testca.Identity, doc []byte) []byte {
	e.t.Helper()
	seal, err := guarantee.BidderSeal(id.Key, id.Cert, id.Name, time.Time{}, time.Time{})
	if err != nil {
		e.t.Fatal(err)
	}
	signed, err := guarantee.SignAgreement(doc, ses.Signer{Key: id.Key, Cert: id.Cert, Seal: seal}, time.Now())
	if err != nil {
		// Not an agreement (no signature area): sign without a stamp.
		signed, err = ses.Sign(doc, ses.Signer{Key: id.Key, Cert: id.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return signed
}

func (e *env) pay(token string) BidderView {
	e.t.Helper()
	var v BidderView
	if st := e.bidderDo("POST", "/bidder/"+token+"/pay", []byte(`{}`), &v); st != 200 {
		e.t.Fatalf("pay: HTTP %d %+v", st, v)
	}
	return v
}

// waitFor polls cond until it holds or a generous deadline passes.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) app(applyNo string) *Application {
	e.t.Helper()
	a, err := e.svc.ApplicationByApplyNo(context.Background(), testPlatName, applyNo)
	if err != nil {
		e.t.Fatalf("application %s: %v", applyNo, err)
	}
	return a
}

func (e *env) waitState(applyNo string, s State) {
	e.t.Helper()
	e.waitFor(applyNo+" "+string(s), func() bool { return e.app(applyNo).State == s })
}

// issue runs the whole flow up to an issued guarantee.
func (e *env) issue(applyNo string) string {
	e.t.Helper()
	tok := e.apply(applyNo, "200000.00")
	e.openAndSign(tok)
	e.pay(tok)
	e.waitState(applyNo, Issued)
	return tok
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newReq(method, url string) (*http.Request, error) { return http.NewRequest(method, url, nil) }

func defaultClientDo(r *http.Request) (*http.Response, error) { return http.DefaultClient.Do(r) }

// fakeOFD is a small OFD document that is not an agreement.
func (p *fakePlatform) fakeOFD(t testing.TB) []byte {
	b := ofd.NewBuilder(ofd.Info{Title: "别的文件", Created: time.Now()})
	f := b.Font("宋体", "宋体")
	b.AddPage().Text(20, 20, ofd.TextStyle{Font: f, Size: 4}, "不是协议")
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func (p *fakePlatform) setOnChunk(f func(applyNo string, index int) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onChunk = f
}

// lastWhere is the last request of iface for applyNo.
func (p *fakePlatform) lastWhere(iface, applyNo string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.received[iface]
	for i := len(l) - 1; i >= 0; i-- {
		if l[i]["applyno"] == applyNo {
			return l[i]
		}
	}
	return nil
}

// app2 reads an application's state straight from the database (the
// service may be stopped).
func (e *env) app2(applyNo string) State {
	e.t.Helper()
	svc, err := New(context.Background(), e.cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		e.t.Fatal(err)
	}
	defer svc.Close()
	a, err := svc.ApplicationByApplyNo(context.Background(), testPlatName, applyNo)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.State
}

func (p *fakePlatform) setOnComplete(f func() bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onComplete = f
}

func (e *env) logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// historyEvent returns the first entry of d's history named event, nil
// when there is none.
func historyEvent(d *ApplicationDetail, event string) *Event {
	for i := range d.History {
		if d.History[i].Event == event {
			return &d.History[i]
		}
	}
	return nil
}
