package conformance

// Minimal conforming peers, for testing the kit without the real
// services: fakePlatform plays a platform against the platform suite,
// fakeInstitution an institution against the institution suite. They
// reuse the kit's receiving pipeline (inbox) and client (wire).

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/protocol"
)

const (
	fakeAppKey    = "fake-appkey"
	fakeAppSecret = "fake-appsecret-0123456789"
	fakeCode      = "FAKEPLAT"
)

// ---------------------------------------------------------------- platform

type fakePlatformApp struct {
	applyNo, baohanNo, state string
	key                      *sm2.PrivateKey
	chunks                   map[string]map[int][]byte
	bond                     string
}

type fakePlatform struct {
	t      *testing.T
	ib     *inbox
	out    *wire // calls to the institution (the kit)
	bidder *Bidder
	proj   []byte // the project key

	mu   sync.Mutex
	apps map[string]*fakePlatformApp
	seq  int
}

func newFakePlatform(t *testing.T, kitURL string) (*fakePlatform, *httptest.Server) {
	cfg := &Config{URL: kitURL, AppKey: fakeAppKey, AppSecret: fakeAppSecret}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	bidder, err := NewTestBidder("假投标人有限公司")
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePlatform{t: t, ib: newInbox(cfg), out: &wire{cfg: cfg}, bidder: bidder, proj: gm.NewKey(), apps: map[string]*fakePlatformApp{}}
	for _, i := range protocol.ServedBySide(protocol.Platform) {
		p.ib.handle(i, p.respond)
	}
	srv := httptest.NewServer(p.ib)
	t.Cleanup(srv.Close)
	return p, srv
}

func (p *fakePlatform) respond(ctx context.Context, in *Inbound) protocol.Response {
	p.mu.Lock()
	defer p.mu.Unlock()
	var a *fakePlatformApp
	if in.Interface == protocol.InvoiceNotice {
		for _, x := range p.apps {
			if x.baohanNo == in.Get("baohanno") && x.baohanNo != "" {
				a = x
			}
		}
	} else {
		a = p.apps[in.Get("applyno")]
	}
	if a == nil {
		return protocol.Fail("unknown application")
	}
	switch in.Interface {
	case protocol.BaohanNotice:
		switch {
		case a.state == "applied" && in.Get("applystatus") == "1":
			a.state, a.baohanNo = "noticed", in.Get("baohanno")
		case a.state == "applied":
			a.state = "rejected"
		case a.state == "noticed" && a.baohanNo == in.Get("baohanno"):
		default:
			return protocol.Fail("applyno %s is %s", a.applyNo, a.state)
		}
	case protocol.DownloadPublicKey:
		if a.key == nil {
			a.key, _ = gm.GenerateKey()
		}
		return protocol.OK(protocol.PublicKeyResult{PublicKey: gm.PublicKeyHex(&a.key.PublicKey)})
	case protocol.UploadBaohanFile, protocol.BaohanFileCompleteNotice:
		ft := in.Get("filetype")
		if a.baohanNo == "" || in.Get("baohanno") != a.baohanNo {
			return protocol.Fail("no such guarantee")
		}
		if ft == "2" && a.state != "restored" {
			return protocol.Fail("plaintext before restore")
		}
		if a.state != "noticed" && a.state != "issued" && a.state != "restored" {
			return protocol.Fail("applyno %s is %s", a.applyNo, a.state)
		}
		if in.Interface == protocol.UploadBaohanFile {
			b, _ := base64.StdEncoding.DecodeString(in.Get("baohanfile"))
			i, _ := strconv.Atoi(in.Get("index"))
			if a.chunks[ft] == nil {
				a.chunks[ft] = map[int][]byte{}
			}
			if old, ok := a.chunks[ft][i]; ok && !bytes.Equal(old, b) {
				return protocol.Fail("conflicting chunk %d", i)
			}
			a.chunks[ft][i] = b
			return protocol.OK(nil)
		}
		var idx []int
		for i := range a.chunks[ft] {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		if n, err := strconv.Atoi(in.Get("bak1")); err == nil && n != len(idx) {
			return protocol.Fail("bak1 %d chunks, have %d", n, len(idx))
		}
		var ct bytes.Buffer
		for _, i := range idx {
			ct.Write(a.chunks[ft][i])
		}
		key, err1 := gm.UnwrapKey(a.key, in.Get("key"), gm.C1C3C2)
		iv, err2 := gm.UnwrapKey(a.key, in.Get("iv"), gm.C1C3C2)
		if err1 != nil || err2 != nil {
			return protocol.Fail("key/iv do not unwrap")
		}
		r, err := gm.NewCBCDecryptReader(&ct, key, iv)
		if err != nil {
			return protocol.Fail("%v", err)
		}
		plain, err := io.ReadAll(r)
		if err != nil {
			return protocol.Fail("file does not decrypt: %v", err)
		}
		alg, _ := gm.DigestAlgOf(in.Get("baohanfilemd5"))
		d, _ := gm.FileDigest(bytes.NewReader(plain), alg)
		if !strings.EqualFold(d, in.Get("baohanfilemd5")) {
			return protocol.Fail("digest mismatch")
		}
		if ft == "1" && a.state == "noticed" {
			a.state = "issued"
		}
	case protocol.InvoiceNotice:
	case protocol.QuitNotice:
		if a.state != "issued" && a.state != "noticed" && a.state != "quit" {
			return protocol.Fail("applyno %s is %s", a.applyNo, a.state)
		}
		if in.Get("applystatus") == "1" {
			a.state = "quit"
		}
	case protocol.GiveupNotice:
		if a.state != "applied" && a.state != "givenup" {
			return protocol.Fail("applyno %s is %s", a.applyNo, a.state)
		}
		a.state = "givenup"
	}
	return protocol.OK(nil)
}

// The fake platform is its own driver.

func (p *fakePlatform) Apply(ctx context.Context, n int) error {
	for k := 0; k < n; k++ {
		p.mu.Lock()
		p.seq++
		a := &fakePlatformApp{applyNo: fmt.Sprintf("FAKE%06d", p.seq), state: "applied", chunks: map[string]map[int][]byte{}, bond: "30000.00"}
		p.apps[a.applyNo] = a
		p.mu.Unlock()
		data := map[string]string{"biddername": p.bidder.Name, "biddercode": p.bidder.CreditCode, "bzjamount": a.bond}
		for name, v := range map[string]string{"biaoduanno": "BD-001", "biaoduanname": "某某工程施工", "zbr": "某某招标人", "zbrorgnum": "91110000000000000X"} {
			data[name], _ = gm.EncryptField(p.proj, v)
		}
		ad, env, err := gm.SealEnvelope(p.bidder.Public(), protocol.MarshalFields(data), gm.C1C3C2)
		if err != nil {
			return err
		}
		rep := p.out.call(ctx, protocol.BaohanApply, map[string]string{"platformcode": fakeCode, "applyno": a.applyNo, "applydata": ad, "digitalenvelope": env})
		if rep.code() != 1 {
			return fmt.Errorf("baohanapply: %s", rep.describe())
		}
	}
	return nil
}

func (p *fakePlatform) send(ctx context.Context, i protocol.Interface, f map[string]string) error {
	f["platformcode"] = fakeCode
	if rep := p.out.call(ctx, i, f); rep.code() != 1 {
		return fmt.Errorf("%s: %s", i, rep.describe())
	}
	return nil
}

func (p *fakePlatform) get(applyno string) *fakePlatformApp {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.apps[applyno]
}

func (p *fakePlatform) OpenBids(ctx context.Context, applyno string) error {
	a := p.get(applyno)
	p.mu.Lock()
	a.state = "restored"
	p.mu.Unlock()
	return p.send(ctx, protocol.BaohanRestore, map[string]string{"applyno": applyno, "baohanno": a.baohanNo,
		"kaibiaotime": protocol.FormatTime(time.Now().Add(-time.Second)), "key": base64.StdEncoding.EncodeToString(p.proj)})
}

func (p *fakePlatform) RequestInvoice(ctx context.Context, applyno string) error {
	a := p.get(applyno)
	return p.send(ctx, protocol.InvoiceApply, map[string]string{"applyno": applyno, "baohanno": a.baohanNo,
		"biddername": p.bidder.Name, "biddercode": p.bidder.CreditCode, "amount": "150.00", "type": "0"})
}

func (p *fakePlatform) Quit(ctx context.Context, applyno string) error {
	return p.send(ctx, protocol.QuitApply, map[string]string{"applyno": applyno, "baohanno": p.get(applyno).baohanNo, "reason": "撤回"})
}

func (p *fakePlatform) Cancel(ctx context.Context, applyno string) error {
	return p.send(ctx, protocol.CancelNotice, map[string]string{"applyno": applyno, "baohanno": p.get(applyno).baohanNo})
}

func (p *fakePlatform) Claim(ctx context.Context, applyno string) error {
	return p.send(ctx, protocol.ClaimsNotice, map[string]string{"applyno": applyno, "baohanno": p.get(applyno).baohanNo,
		"applyusername": "代理", "applyuserphone": "13900000000", "filelist": `[{"fileurl":"https://x.example/1.pdf"}]`})
}

func (p *fakePlatform) GiveUp(ctx context.Context, applyno string) error {
	return p.send(ctx, protocol.GiveupApply, map[string]string{"applyno": applyno})
}

// fakeGuarantee is a guarantee maker for the tests: a zip with the fields
// as text.
func fakeGuarantee(_ context.Context, g GuaranteeInfo) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("Doc_0/Pages/Page_0/Content.xml")
	fmt.Fprintf(w, "<Page><Text>%s %s %s %s %s %s %v</Text></Page>", g.ApplyNo, g.BaohanNo, g.BidderName, g.BiaoduanNo, g.BiaoduanName, g.Zbr, g.Plain)
	// Enough bytes for several chunks.
	w2, _ := zw.CreateHeader(&zip.FileHeader{Name: "Doc_0/Res/pad.bin", Method: zip.Store})
	w2.Write(bytes.Repeat([]byte("OFD"), 3000))
	zw.Close()
	return buf.Bytes(), nil
}

// fakeSealedGuarantee seals the fake institution's guarantees with a
// throwaway test CA (made once).
func fakeSealedGuarantee(t *testing.T) GuaranteeMaker {
	fakeSealOnce.Do(func() {
		ca, err := testca.New("假CA")
		if err == nil {
			var id *testca.Identity
			if id, err = ca.Issue("假保险公司", testca.Institution); err == nil {
				fakeSeal, err = SealedGuarantee(id)
			}
		}
		fakeSealErr = err
	})
	if fakeSealErr != nil {
		t.Fatal(fakeSealErr)
	}
	return fakeSeal
}

var (
	fakeSealOnce sync.Once
	fakeSeal     GuaranteeMaker
	fakeSealErr  error
)

// fakeVerifier checks only that the file is a zip.
func fakeVerifier(file []byte, _ []*smx509.Certificate) (string, string, error) {
	text, err := zipText(file)
	if err != nil {
		return "", "", err
	}
	return "zip ok", text, nil
}

// ------------------------------------------------------------- institution

type fakeInstApp struct {
	applyNo, baohanNo, state string
	fields                   map[string]string
	data                     *protocol.ApplyData
	pub                      *ecdsa.PublicKey
	agreement                []byte // signed by the bidder in Underwrite
	cipher                   []byte // the ciphertext guarantee uploaded
}

type fakeInstitution struct {
	t   *testing.T
	ib  *inbox
	out *wire // calls to the platform (the kit)

	mu   sync.Mutex
	apps map[string]*fakeInstApp
	wg   sync.WaitGroup

	tamper func(*GuaranteeInfo) // changes what the fake issues (nil: nothing)
}

func newFakeInstitution(t *testing.T, kitURL string) (*fakeInstitution, *httptest.Server) {
	cfg := &Config{URL: kitURL, AppKey: fakeAppKey, AppSecret: fakeAppSecret}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	f := &fakeInstitution{t: t, ib: newInbox(cfg), out: &wire{cfg: cfg}, apps: map[string]*fakeInstApp{}}
	for _, i := range protocol.ServedBySide(protocol.Institution) {
		f.ib.handle(i, f.respond)
	}
	srv := httptest.NewServer(f.ib)
	t.Cleanup(func() { srv.Close(); f.wg.Wait() })
	return f, srv
}

func (f *fakeInstitution) respond(ctx context.Context, in *Inbound) protocol.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.apps[in.Get("applyno")]
	if in.Interface == protocol.BaohanApply {
		if a == nil {
			a = &fakeInstApp{applyNo: in.Get("applyno"), state: "received", fields: in.Req.Fields}
			f.apps[a.applyNo] = a
		}
		return protocol.OK(protocol.ApplyResult{RedirectURL: "https://fake-institution.example/bidder/" + a.applyNo})
	}
	if a == nil {
		return protocol.Fail("unknown applyno")
	}
	if bn := in.Get("baohanno"); bn != "" && bn != a.baohanNo {
		return protocol.Fail("baohanno mismatch")
	}
	switch in.Interface {
	case protocol.BaohanRestore:
		if a.state != "issued" {
			return protocol.Fail("applyno is %s", a.state)
		}
		kb, _ := protocol.ParseTime(in.Get("kaibiaotime"))
		if kb.After(time.Now()) {
			return protocol.Fail("the bid opening is ahead")
		}
		key, err := base64.StdEncoding.DecodeString(in.Get("key"))
		if err != nil {
			return protocol.Fail("key: %v", err)
		}
		no, err := gm.DecryptField(key, a.data.BiaoduanNo)
		if err != nil {
			return protocol.Fail("the key does not decrypt the project: %v", err)
		}
		name, _ := gm.DecryptField(key, a.data.BiaoduanName)
		zbr, _ := gm.DecryptField(key, a.data.Zbr)
		a.state = "restored"
		f.async(func(ctx context.Context) { f.upload(ctx, a, "2", []string{no, name, zbr}) })
	case protocol.InvoiceApply:
		if a.state != "restored" {
			return protocol.Fail("applyno is %s", a.state)
		}
		f.async(func(ctx context.Context) {
			f.call(ctx, protocol.InvoiceNotice, map[string]string{"baohanno": a.baohanNo, "applystatus": "1", "invoiceno": "00000001"})
		})
	case protocol.QuitApply:
		if a.state != "issued" {
			return protocol.Fail("applyno is %s", a.state)
		}
		a.state = "quit"
		f.async(func(ctx context.Context) {
			f.call(ctx, protocol.QuitNotice, map[string]string{"applyno": a.applyNo, "baohanno": a.baohanNo, "applystatus": "1",
				"tuibaotime": protocol.FormatTime(time.Now())})
		})
	case protocol.CancelNotice, protocol.ClaimsNotice:
		if a.state != "issued" && a.state != "restored" {
			return protocol.Fail("applyno is %s", a.state)
		}
	case protocol.GiveupApply:
		if a.state != "received" {
			return protocol.Fail("applyno is %s", a.state)
		}
		a.state = "givenup"
	}
	return protocol.OK(nil)
}

func (f *fakeInstitution) async(fn func(ctx context.Context)) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn(context.Background())
	}()
}

func (f *fakeInstitution) call(ctx context.Context, i protocol.Interface, fields map[string]string) *reply {
	return f.out.call(ctx, i, fields)
}

// upload sends a guarantee file of filetype in chunks, then completes it;
// the plaintext one shows the project (biaoduanno, biaoduanname, zbr).
func (f *fakeInstitution) upload(ctx context.Context, a *fakeInstApp, filetype string, project []string) {
	if a.pub == nil {
		rep := f.call(ctx, protocol.DownloadPublicKey, map[string]string{"applyno": a.applyNo})
		if rep.code() != 1 {
			return
		}
		pub, err := parsePublicKeyData(rep.Resp)
		if err != nil {
			return
		}
		a.pub = pub
	}
	// A real guarantee: sealed, naming the application, the bidder's
	// signed agreement attached (the plaintext one carrying the
	// ciphertext one).
	g := GuaranteeInfo{ApplyNo: a.applyNo, BaohanNo: a.baohanNo, BiaoduanNo: a.data.BiaoduanNo, BiaoduanName: a.data.BiaoduanName, Zbr: a.data.Zbr,
		Issued: time.Now(), Agreement: a.agreement}
	if filetype == "2" {
		g.Plain, g.Cipher = true, a.cipher
		g.BiaoduanNo, g.BiaoduanName, g.Zbr = project[0], project[1], project[2]
	}
	if f.tamper != nil {
		f.tamper(&g)
	}
	file, err := fakeSealedGuarantee(f.t)(ctx, g)
	if err != nil {
		f.t.Error(err)
		return
	}
	if filetype == "1" {
		a.cipher = file
	}
	u, err := newUpload(ctx, file, Profile{ChunkSize: 4096, FileDigest: gm.SM3})
	if err != nil {
		return
	}
	for k, c := range u.chunks {
		f.call(ctx, protocol.UploadBaohanFile, u.chunkFields(a.applyNo, a.baohanNo, filetype, k, c))
	}
	cf, _ := u.completeFields(a.applyNo, a.baohanNo, filetype, a.pub, gm.C1C3C2)
	if f.call(ctx, protocol.BaohanFileCompleteNotice, cf).code() == 1 && filetype == "1" {
		f.mu.Lock()
		a.state = "issued"
		f.mu.Unlock()
	}
}

// Underwrite: the fake bidder flow opens the envelope with the key the
// task carries, then the fake approves, notices and uploads.
func (f *fakeInstitution) Underwrite(ctx context.Context, b *BidderTask) error {
	f.mu.Lock()
	a := f.apps[b.ApplyNo]
	f.mu.Unlock()
	if a == nil {
		return fmt.Errorf("unknown applyno %s", b.ApplyNo)
	}
	ct, _ := base64.StdEncoding.DecodeString(a.fields["applydata"])
	plain, err := gm.SM4ECBDecrypt(b.EnvelopeKey, ct)
	if err != nil {
		return err
	}
	d, vs := protocol.ValidateApplyData(plain)
	if len(vs) > 0 {
		return fmt.Errorf("applydata: %s", protocol.JoinViolations(vs, 3))
	}
	// The bidder signs the agreement.
	ab := ofd.NewBuilder(ofd.Info{Title: "投标保函委托协议", Created: time.Now(), Custom: []ofd.CustomData{{Name: "applyno", Value: a.applyNo}}})
	ab.AddPage().Text(20, 30, ofd.TextStyle{Font: ab.Font("宋体", "宋体"), Size: 5}, "投标保函委托协议 "+a.applyNo)
	agreement, err := ab.Bytes()
	if err == nil {
		agreement, err = SignAsBidder(b.Bidder, agreement, time.Now())
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	a.data, a.state, a.baohanNo, a.agreement = d, "approved", "FAKEBH"+a.applyNo[len(a.applyNo)-6:], agreement
	f.mu.Unlock()
	f.async(func(ctx context.Context) {
		rep := f.call(ctx, protocol.BaohanNotice, map[string]string{"applyno": a.applyNo, "baohanno": a.baohanNo, "instname": "假保险公司",
			"generatetime": protocol.FormatTime(time.Now()), "rate": "0.005", "cost": "100.00", "applystatus": "1"})
		if rep.code() == 1 {
			f.upload(ctx, a, "1", nil)
		}
	})
	return nil
}

func (f *fakeInstitution) GiveUp(ctx context.Context, b *BidderTask) error {
	applyno := b.ApplyNo
	f.mu.Lock()
	a := f.apps[applyno]
	if a != nil {
		a.state = "givenup"
	}
	f.mu.Unlock()
	if rep := f.call(ctx, protocol.GiveupNotice, map[string]string{"applyno": applyno}); rep.code() != 1 {
		return fmt.Errorf("giveupnotice: %s", rep.describe())
	}
	return nil
}

var _ http.Handler = (*inbox)(nil)
