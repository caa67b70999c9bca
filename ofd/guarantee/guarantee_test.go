package guarantee_test

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
	"github.com/baohan-dev/baohan/ofd/ses"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, guarantee.CST)

// projectKey is a fixed SM4 key so that the ciphertext (and the golden
// files) are stable.
var projectKey = []byte("0123456789abcdef")

func sampleData(t testing.TB, cipher bool) guarantee.Data {
	g := guarantee.Data{
		BaohanNo: "BH20261127000123", VerifyCode: "K7MW3P9Q", ApplyNo: "SQ202611270001",
		Institution: "测试融资担保股份有限公司", InstitutionCode: "91110000MA00TEST01",
		InstitutionAddr: "北京市西城区金融大街1号", InstitutionTel: "010-66668888",
		Bidder: "测试建设工程有限公司", BidderCode: "91330000MA00TEST02",
		BiaoduanNo: "A3301002026000123001", BiaoduanName: "某市城北片区道路改造工程施工第一标段",
		Zbr: "某市城市建设投资集团有限公司", ZbrOrgNum: "91330100MA00ZBR001",
		Amount:   decimal.RequireFromString("20000.00"),
		OpenTime: time.Date(2026, 12, 20, 9, 30, 0, 0, guarantee.CST), ValidityDays: 90,
		IssueDate: now,
	}
	if cipher {
		if err := g.EncryptProject(projectKey); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func sampleAgreement() guarantee.AgreementData {
	return guarantee.AgreementData{
		AgreementNo: "XY20261127001", ApplyNo: "SQ202611270001",
		Institution: "测试融资担保股份有限公司", InstitutionCode: "91110000MA00TEST01",
		Bidder: "测试建设工程有限公司", BidderCode: "91330000MA00TEST02",
		Amount: decimal.RequireFromString("20000.00"), Premium: decimal.RequireFromString("100.00"),
		Rate: decimal.RequireFromString("0.005"), SignDate: now,
	}
}

func opts() guarantee.Options {
	return guarantee.Options{QRURL: "https://ggzy.example.cn/baohan/verify", Now: func() time.Time { return now }}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (go test -update rewrites it)", name)
	}
}

func read(t testing.TB, doc []byte) *ofd.Document {
	t.Helper()
	pkg, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildGolden(t *testing.T) {
	agr, err := guarantee.BuildAgreement(sampleAgreement())
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{"agreement": agr}
	for _, form := range []struct {
		name   string
		cipher bool
	}{{"plain", false}, {"cipher", true}} {
		doc, err := guarantee.Build(sampleData(t, form.cipher), opts())
		if err != nil {
			t.Fatal(err)
		}
		again, _ := guarantee.Build(sampleData(t, form.cipher), opts())
		if !bytes.Equal(doc, again) {
			t.Errorf("%s: same input, different bytes", form.name)
		}
		docs[form.name] = doc
	}
	for name, doc := range docs {
		pkg, err := ofd.Open(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pkg.Entries() {
			if strings.HasSuffix(e.Name, ".xml") {
				golden(t, name+"_"+strings.ReplaceAll(e.Name, "/", "_"), e.Data)
			}
		}
	}
}

func TestBuildContent(t *testing.T) {
	plain := read(t, mustBuild(t, sampleData(t, false)))
	text := plain.Text()
	for _, want := range []string{
		"投　标　保　函", "保函编号：BH20261127000123", "致：某市城市建设投资集团有限公司（统一社会信用代码：91330100MA00ZBR001）：",
		"某市城北片区道路改造工程施工第一标段", "人民币贰万元整（¥20,000.00）", "见索即付", "7个工作日内",
		"自开标之日（2026年12月20日）起至投标有效期（90日）满之日止", "担保人（盖章）：测试融资担保股份有限公司", "日期：2026年11月27日",
		"第 1 页 / 共 1 页",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plaintext guarantee lacks %q", want)
		}
	}
	if len(plain.Pages) != 1 {
		t.Errorf("plaintext guarantee has %d pages, want 1", len(plain.Pages))
	}
	custom := map[string]string{}
	for _, c := range plain.Info.Custom {
		custom[c.Name] = c.Value
	}
	if custom["baohanno"] != "BH20261127000123" || custom["filetype"] != "2" || custom["amount"] != "20000.00" {
		t.Errorf("custom data %v", custom)
	}

	g := sampleData(t, true)
	cipher := read(t, mustBuild(t, g))
	// The 验真码 is printed on both forms, and the QR code's URL carries
	// it, as the document's custom data says.
	const wantQR = "https://ggzy.example.cn/baohan/verify?baohanno=BH20261127000123&code=K7MW3P9Q"
	for name, d := range map[string]*ofd.Document{"plaintext": plain, "ciphertext": cipher} {
		if !strings.Contains(d.Text(), "验真码：K7MW3P9Q") {
			t.Errorf("%s guarantee does not print 验真码 K7MW3P9Q", name)
		}
		if qr, code := guarantee.VerifyURLOf(d); qr != wantQR || code != "K7MW3P9Q" {
			t.Errorf("%s guarantee: VerifyURLOf = %q, %q; want %q, K7MW3P9Q", name, qr, code, wantQR)
		}
	}
	// The text objects in drawing order: a wrapped value's lines follow
	// each other.
	var objs strings.Builder
	for _, p := range cipher.Pages {
		for _, o := range p.Objects {
			if t, ok := o.(*ofd.TextObject); ok {
				objs.WriteString(t.Text())
			}
		}
	}
	ctext := objs.String()
	for _, secret := range []string{"某市城北片区", "某市城市建设投资集团", "A3301002026000123001", "91330100MA00ZBR001"} {
		if strings.Contains(cipher.Text(), secret) {
			t.Errorf("ciphertext guarantee shows the plaintext %q", secret)
		}
	}
	// Each ciphertext appears whole once its wrapped lines are joined.
	for _, c := range []string{g.BiaoduanNo, g.BiaoduanName, g.Zbr, g.ZbrOrgNum} {
		if !strings.Contains(ctext, c) {
			t.Errorf("ciphertext guarantee lacks %q", c)
		}
	}
	if !strings.Contains(ctext, "标段名称（密文）") {
		t.Error("ciphertext labels")
	}
	if len(cipher.Pages) != 1 {
		t.Errorf("ciphertext guarantee has %d pages, want 1", len(cipher.Pages))
	}
}

func mustBuild(t testing.TB, g guarantee.Data) []byte {
	t.Helper()
	doc, err := guarantee.Build(g, opts())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestBuildLongContentFlowsToMorePages(t *testing.T) {
	g := sampleData(t, true)
	g.BiaoduanName = strings.Repeat(g.BiaoduanName, 12)
	d := read(t, mustBuild(t, g))
	if len(d.Pages) < 2 {
		t.Fatalf("%d pages", len(d.Pages))
	}
	if !strings.Contains(d.Pages[len(d.Pages)-1].Text(), guarantee.InstitutionSealLabel) {
		t.Error("the seal area is not on the last page")
	}
	if !strings.Contains(d.Pages[0].Text(), "第 1 页 / 共") {
		t.Error("footer")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*guarantee.Data)
		want string
	}{
		{"no number", func(g *guarantee.Data) { g.BaohanNo = "" }, "BaohanNo (保函编号) is required"},
		{"no bidder", func(g *guarantee.Data) { g.Bidder = " " }, "Bidder (投标人) is required"},
		{"zero amount", func(g *guarantee.Data) { g.Amount = decimal.Zero }, "Amount (担保金额) must be positive"},
		{"fractional fen", func(g *guarantee.Data) { g.Amount = decimal.RequireFromString("1.005") }, "more than two decimal places"},
		{"no issue date", func(g *guarantee.Data) { g.IssueDate = time.Time{} }, "IssueDate"},
		{"project field too long", func(g *guarantee.Data) { g.Zbr = strings.Repeat("长", 501) }, "Zbr (招标人) is longer than 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := sampleData(t, false)
			tt.edit(&g)
			_, err := guarantee.Build(g, opts())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	a := sampleAgreement()
	a.Bidder = ""
	if _, err := guarantee.BuildAgreement(a); err == nil || !strings.Contains(err.Error(), "Bidder (委托人) is required") {
		t.Errorf("agreement: %v", err)
	}
}

func TestQRContent(t *testing.T) {
	tests := []struct{ code, url, want string }{
		{"", "", "baohanno=BH1"},
		{"", "https://x.cn/verify", "https://x.cn/verify?baohanno=BH1"},
		{"", "https://x.cn/verify?p=1", "https://x.cn/verify?p=1&baohanno=BH1"},
		{"", "https://x.cn/v/{baohanno}", "https://x.cn/v/BH1"},
		{"K7MW3P9Q", "", "baohanno=BH1&code=K7MW3P9Q"},
		{"K7MW3P9Q", "https://x.cn/verify", "https://x.cn/verify?baohanno=BH1&code=K7MW3P9Q"},
		{"K7MW3P9Q", "https://x.cn/verify?p=1", "https://x.cn/verify?p=1&baohanno=BH1&code=K7MW3P9Q"},
		{"K7MW3P9Q", "https://x.cn/v/{baohanno}", "https://x.cn/v/BH1?code=K7MW3P9Q"},
		{"K7MW3P9Q", "https://x.cn/v?b={baohanno}", "https://x.cn/v?b=BH1&code=K7MW3P9Q"},
	}
	for _, tt := range tests {
		if got := guarantee.QRContent("BH1", tt.code, tt.url); got != tt.want {
			t.Errorf("QRContent(%q, %q) = %q, want %q", tt.code, tt.url, got, tt.want)
		}
	}
}

func TestPictures(t *testing.T) {
	for name, f := range map[string]func() ([]byte, error){
		"seal": func() ([]byte, error) {
			return guarantee.SealPicture("测试融资担保股份有限公司", "保函专用章")
		},
		"signature": func() ([]byte, error) { return guarantee.SignaturePicture("测试建设工程有限公司") },
	} {
		b, err := f()
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bd := img.Bounds()
		// Transparent centre of the frame's edge? The corner is
		// transparent, the frame's left edge at mid-height is red.
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 && name == "seal" {
			t.Errorf("%s: corner not transparent", name)
		}
		edge := 12
		if name == "seal" {
			edge = bd.Dx()/2 - 186
		}
		r, g, b2, a := img.At(edge, bd.Dy()/2).RGBA()
		if a < 0xf000 || r < 0xc000 || g > 0x4000 || b2 > 0x4000 {
			t.Errorf("%s: frame pixel at (%d, %d) is %x %x %x %x, want opaque red", name, edge, bd.Dy()/2, r, g, b2, a)
		}
		if len(b) > 20<<10 {
			t.Errorf("%s picture is %d bytes", name, len(b))
		}
	}
}

type parties struct {
	pki         *ofdtest.PKI
	institution ses.Signer
	bidder      ses.Signer
}

func newParties(t testing.TB) *parties {
	pki := ofdtest.NewPKI(t)
	iseal, err := guarantee.InstitutionSeal(pki.Institution.Key, pki.Institution.Cert, "测试融资担保股份有限公司", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	bseal, err := guarantee.BidderSeal(pki.Bidder.Key, pki.Bidder.Cert, "测试建设工程有限公司", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return &parties{
		pki:         pki,
		institution: ses.Signer{Key: pki.Institution.Key, Cert: pki.Institution.Cert, Seal: iseal},
		bidder:      ses.Signer{Key: pki.Bidder.Key, Cert: pki.Bidder.Cert, Seal: bseal},
	}
}

// issue runs the whole flow: the bidder signs the agreement, the
// institution attaches it to the ciphertext guarantee and seals it; after
// bid opening the plaintext guarantee is merged with the sealed
// ciphertext one and sealed again.
func issue(t testing.TB, p *parties) (agreement, cipher, merged []byte) {
	agr, err := guarantee.BuildAgreement(sampleAgreement())
	if err != nil {
		t.Fatal(err)
	}
	agreement, err = guarantee.SignAgreement(agr, p.bidder, now)
	if err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.Attachments = []ofd.Attachment{{Name: "保函委托协议.ofd", Format: "ofd", Data: agreement}}
	doc, err := guarantee.Build(sampleData(t, true), o)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err = guarantee.Seal(doc, p.institution, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(24 * time.Hour)
	po := opts()
	po.Now = func() time.Time { return later }
	plain, err := guarantee.Build(sampleData(t, false), po)
	if err != nil {
		t.Fatal(err)
	}
	m, err := guarantee.Merge(plain, cipher)
	if err != nil {
		t.Fatal(err)
	}
	merged, err = guarantee.Seal(m, p.institution, later)
	if err != nil {
		t.Fatal(err)
	}
	return agreement, cipher, merged
}

func verifyOK(t *testing.T, what string, doc []byte, p *parties, wantSigs int) *ses.Report {
	t.Helper()
	rep, err := ses.Verify(doc, p.pki.Pool)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !rep.OK() || len(rep.Signatures) != wantSigs {
		for _, r := range rep.Signatures {
			t.Logf("%s: signature %s by %s: %+v", what, r.ID, r.Signer, r.Failures())
		}
		t.Fatalf("%s: %d signatures, ok=%v", what, len(rep.Signatures), rep.OK())
	}
	if len(rep.Unprotected) > 0 {
		t.Errorf("%s: unprotected entries %v", what, rep.Unprotected)
	}
	return rep
}

func TestIssueFlowVerifies(t *testing.T) {
	p := newParties(t)
	agreement, cipher, merged := issue(t, p)

	rep := verifyOK(t, "agreement", agreement, p, 1)
	if r := rep.Signatures[0]; r.Signer != "测试建设工程有限公司" || r.Seal.Type != ses.SealTypePersonal || len(r.Stamps) != 1 {
		t.Errorf("agreement signature: %s, seal type %d, stamps %v", r.Signer, r.Seal.Type, r.Stamps)
	}
	rep = verifyOK(t, "ciphertext guarantee", cipher, p, 1)
	if r := rep.Signatures[0]; r.Signer != "测试融资担保股份有限公司" || strings.Join(r.Stamps, ",") != "page 1" {
		t.Errorf("guarantee signature: %s, stamps %v", r.Signer, r.Stamps)
	}
	// The agreement travels inside the guarantee, its signature intact.
	cd := read(t, cipher)
	att, ok := cd.Attachment("保函委托协议.ofd")
	if !ok || !bytes.Equal(att.Data, agreement) {
		t.Fatal("agreement attachment")
	}
	verifyOK(t, "agreement inside the guarantee", att.Data, p, 1)

	rep = verifyOK(t, "merged plaintext guarantee", merged, p, 1)
	if r := rep.Signatures[0]; strings.Join(r.Stamps, ",") != "page 1,page 2" {
		t.Errorf("merged guarantee stamps %v, want the plaintext and the ciphertext page", r.Stamps)
	}
	md := read(t, merged)
	if len(md.Pages) != 2 || !strings.Contains(md.Pages[0].Text(), "某市城北片区") || !strings.Contains(md.Pages[1].Text(), "附：密文保函") {
		t.Errorf("merged pages: %d", len(md.Pages))
	}
	inner, ok := md.Attachment(guarantee.CipherAttachmentName)
	if !ok || !bytes.Equal(inner.Data, cipher) {
		t.Fatal("the sealed ciphertext guarantee is not carried byte for byte")
	}
	verifyOK(t, "ciphertext guarantee inside the merged one", inner.Data, p, 1)
	if a, ok := md.Attachment("保函委托协议.ofd"); !ok || !bytes.Equal(a.Data, agreement) {
		t.Error("agreement not carried into the merged guarantee")
	}

	// A byte changed in the merged document's plaintext page fails.
	pkg, _ := ofd.Open(merged)
	page, _ := pkg.File("Doc_0/Pages/Page_0/Content.xml")
	bad := bytes.Replace(page, []byte("20,000.00"), []byte("90,000.00"), 1)
	_ = pkg.Replace("Doc_0/Pages/Page_0/Content.xml", bad, time.Time{})
	tampered, _ := pkg.Bytes()
	r2, err := ses.Verify(tampered, p.pki.Pool)
	if err != nil || r2.OK() || r2.Signatures[0].Failure().Entry != "/Doc_0/Pages/Page_0/Content.xml" {
		t.Errorf("tampered amount: %v %+v", err, r2.Signatures[0].Failure())
	}
}

func TestAttachAndMergeRefuseSealedInput(t *testing.T) {
	p := newParties(t)
	doc := mustBuild(t, sampleData(t, true))
	sealed, err := guarantee.Seal(doc, p.institution, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guarantee.Attach(sealed, "x.txt", []byte("x")); err == nil || !strings.Contains(err.Error(), "signed") {
		t.Errorf("attach to a sealed document: %v", err)
	}
	if _, err := guarantee.Merge(sealed, sealed); err == nil || !strings.Contains(err.Error(), "already sealed") {
		t.Errorf("merge a sealed plaintext guarantee: %v", err)
	}
	withFile, err := guarantee.Attach(doc, "note.txt", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	d := read(t, withFile)
	if a, ok := d.Attachment("note.txt"); !ok || string(a.Data) != "hello" || d.Text() != read(t, doc).Text() {
		t.Error("attach changed the pages or lost the file")
	}
	if _, err := guarantee.Seal(mustBuildAgreementless(t), p.institution, now); err == nil || !strings.Contains(err.Error(), "no seal area") {
		t.Errorf("seal without a seal area: %v", err)
	}
}

func mustBuildAgreementless(t *testing.T) []byte {
	b := ofd.NewBuilder(ofd.Info{Created: now})
	b.AddPage()
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// A typical sealed guarantee (with its signed agreement attached) stays
// under 160 KB and the merged plaintext guarantee, which carries the
// sealed ciphertext one, under 300 KB: each document carries the subset of
// the font it uses (about 40 KB deflated), the merged one three (its own,
// the ciphertext guarantee's and the agreement's).
func TestSize(t *testing.T) {
	p := newParties(t)
	agreement, cipher, merged := issue(t, p)
	for name, doc := range map[string][]byte{"agreement": agreement, "ciphertext guarantee": cipher, "merged guarantee": merged} {
		t.Logf("%s: %d bytes", name, len(doc))
		limit := 160 << 10
		if name == "merged guarantee" {
			limit = 300 << 10
		}
		if len(doc) > limit {
			t.Errorf("%s is %d bytes, over %d KB", name, len(doc), limit>>10)
		}
	}
}

// Every CheckValue of our sealed documents matches openssl's SM3 and both
// SM2 signatures verify with openssl pkeyutl.
func TestOpenSSLCrossCheck(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p := newParties(t)
	agreement, cipher, merged := issue(t, p)
	ofdtest.CrossCheckWithOpenSSL(t, openssl, agreement, 1)
	ofdtest.CrossCheckWithOpenSSL(t, openssl, cipher, 1)
	ofdtest.CrossCheckWithOpenSSL(t, openssl, merged, 1)
}

func BenchmarkBuildAndSeal(b *testing.B) {
	p := newParties(b)
	g := sampleData(b, true)
	o := opts()
	for b.Loop() {
		doc, err := guarantee.Build(g, o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := guarantee.Seal(doc, p.institution, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadQR: the QR code printed on a guarantee decodes to the
// verification URL with the number and the 验真码, on both forms, the same
// as the document's metadata says.
func TestReadQR(t *testing.T) {
	const want = "https://ggzy.example.cn/baohan/verify?baohanno=BH20261127000123&code=K7MW3P9Q"
	for _, cipher := range []bool{false, true} {
		pkg, err := ofd.Open(mustBuild(t, sampleData(t, cipher)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := guarantee.ReadQR(pkg)
		if err != nil || got != want {
			t.Errorf("ciphertext %v: ReadQR = %q, %v; want %q", cipher, got, err, want)
		}
	}
	a, err := guarantee.BuildAgreement(sampleAgreement())
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := ofd.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := guarantee.ReadQR(pkg); err != guarantee.ErrNoQR {
		t.Errorf("agreement (no QR code): %q, %v", got, err)
	}
}
