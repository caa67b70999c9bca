package ofd_test

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var created = time.Date(2026, 11, 27, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

func tinyPNG(t testing.TB) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := 0; i < 4; i++ {
		img.Set(i, i, color.NRGBA{200, 0, 0, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sampleBuilder(t testing.TB) *ofd.Builder {
	b := ofd.NewBuilder(ofd.Info{
		Title: "样例", Author: "baohan", Created: created, Keywords: []string{"保函"},
		Custom: []ofd.CustomData{{Name: "baohanno", Value: "BH2026112700001"}},
	})
	song := b.Font("宋体", "宋体")
	hei := b.Font("黑体", "黑体")
	img, err := b.Image(tinyPNG(t))
	if err != nil {
		t.Fatal(err)
	}
	p := b.AddPage()
	p.TextIn(25, 20, 160, ofd.TextStyle{Font: hei, Size: 7, Bold: true}, ofd.Center, "标题 Title")
	y := p.Paragraph(25, 35, 160, ofd.TextStyle{Font: song, Size: 3.7}, 6, 7.4, true,
		"鉴于某某建设工程有限公司（以下简称“投标人”）参加贵方组织的某某项目第一标段的投标，我方愿为投标人提供见索即付的投标保函。担保金额人民币20000.00元。")
	p.Rect(ofd.Box{X: 25, Y: y, W: 160, H: 16}, 0.3, &ofd.Black, nil)
	p.Line(25, y+8, 185, y+8, 0.2, ofd.Black)
	p.Text(27, y+2, ofd.TextStyle{Font: song, Size: 3.7, Color: ofd.Red}, "红色 red")
	p.Image(img, ofd.Box{X: 160, Y: 250, W: 25, H: 25})
	p2 := b.AddPage()
	p2.Image(img, ofd.Box{X: 10, Y: 10, W: 5, H: 5}) // same resource
	if err := b.Attach(ofd.Attachment{Name: "协议.ofd", Format: "ofd", Data: []byte("PK-not-really")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Attach(ofd.Attachment{Name: "note.txt", Data: bytes.Repeat([]byte("x"), 1536)}); err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
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
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n got: %s\nwant: %s", name, got, want)
	}
}

func TestBuilderGolden(t *testing.T) {
	pkg, err := sampleBuilder(t).Package()
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{
		"OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml", "Doc_0/DocumentRes.xml",
		"Doc_0/Pages/Page_0/Content.xml", "Doc_0/Pages/Page_1/Content.xml", "Doc_0/Res/image_3.png",
		"Doc_0/Attachments.xml", "Doc_0/Attachs/attach_16.ofd", "Doc_0/Attachs/17_note.txt",
	}
	if got := strings.Join(pkg.Names(), " "); got != strings.Join(wantNames, " ") {
		t.Fatalf("entries\n got %s\nwant %s", got, strings.Join(wantNames, " "))
	}
	for _, n := range pkg.Names() {
		if strings.HasSuffix(n, ".xml") {
			data, _ := pkg.File(n)
			golden(t, "sample_"+strings.ReplaceAll(n, "/", "_"), data)
		}
	}
}

func TestBuilderDeterministic(t *testing.T) {
	a, err := sampleBuilder(t).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b, err := sampleBuilder(t).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("same input, different bytes")
	}
}

func TestBuilderReadBack(t *testing.T) {
	raw, err := sampleBuilder(t).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := ofd.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Info.Title != "样例" || d.Info.CreationDate != "2026-11-27" || len(d.Info.DocID) != 32 ||
		len(d.Info.Custom) != 1 || d.Info.Custom[0].Value != "BH2026112700001" {
		t.Errorf("info %+v", d.Info)
	}
	if len(d.Pages) != 2 {
		t.Fatalf("%d pages", len(d.Pages))
	}
	text := d.Pages[0].Text()
	for _, want := range []string{"标题 Title", "鉴于某某建设工程有限公司", "20000.00", "红色 red"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q:\n%s", want, text)
		}
	}
	// Every ID is unique and at most MaxUnitID.
	seen := map[uint64]bool{}
	check := func(id uint64) {
		if id == 0 || id > d.MaxUnitID || seen[id] {
			t.Errorf("ID %d (MaxUnitID %d, seen %v)", id, d.MaxUnitID, seen[id])
		}
		seen[id] = true
	}
	for id := range d.Fonts {
		check(id)
	}
	for id := range d.Media {
		check(id)
	}
	for _, p := range d.Pages {
		check(p.ID)
		for _, o := range p.Objects {
			switch o := o.(type) {
			case *ofd.TextObject:
				check(o.ID)
			case *ofd.PathObject:
				check(o.ID)
			case *ofd.ImageObject:
				check(o.ID)
				if _, _, ok := d.MediaData(o.ResourceID); !ok {
					t.Errorf("image %d: resource %d missing", o.ID, o.ResourceID)
				}
			}
		}
	}
	for _, a := range d.Attachments {
		check(a.ID)
	}
	if d.MaxUnitID != 17 {
		t.Errorf("MaxUnitID %d", d.MaxUnitID)
	}
	if a, ok := d.Attachment("note.txt"); !ok || a.SizeKB != 1.5 || len(a.Data) != 1536 {
		t.Errorf("attachment %+v", a)
	}
	// Glyph advances: CJK = size, ASCII = size/2.
	for _, o := range d.Pages[0].Objects {
		if t0, ok := o.(*ofd.TextObject); ok && t0.Text() == "红色 red" {
			got := t0.Codes[0].DeltaX
			want := []float64{3.7, 3.7, 1.85, 1.85, 1.85}
			if len(got) != len(want) {
				t.Fatalf("DeltaX %v", got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("DeltaX %v, want %v", got, want)
				}
			}
			if t0.Color != ofd.Red {
				t.Errorf("colour %v", t0.Color)
			}
		}
	}
}

func TestReadOfdrwFixtures(t *testing.T) {
	tests := []struct {
		file        string
		pages       int
		text        string
		font        string
		attachments []string
		signatures  int
	}{
		{"helloworld.ofd", 1, "你好呀，OFD Reader&Writer！", "宋体", nil, 0},
		{"AddAttachment.ofd", 1, "这是一个带有附件的OFD文件", "宋体", []string{"Gao"}, 0},
		{"SESV4SignDoc.ofd", 1, "你好呀，OFD Reader&Writer！", "宋体", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			pkg, err := ofd.Open(ofdtest.Fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			d, err := ofd.Read(pkg)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Pages) != tt.pages || d.Text() != tt.text {
				t.Errorf("%d pages, text %q", len(d.Pages), d.Text())
			}
			to := d.Pages[0].Objects[0].(*ofd.TextObject)
			if f := d.Fonts[to.Font]; f == nil || f.Name != tt.font {
				t.Errorf("font %+v", f)
			}
			var names []string
			for _, a := range d.Attachments {
				names = append(names, a.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.attachments, ",") {
				t.Errorf("attachments %v", names)
			}
			if len(d.SignatureRef) != tt.signatures {
				t.Errorf("%d signatures", len(d.SignatureRef))
			}
		})
	}
	// The fixture's signature files.
	{
		pkg, _ := ofd.Open(ofdtest.Fixture(t, "SESV4SignDoc.ofd"))
		d, _ := ofd.Read(pkg)
		sig, value, err := d.LoadSignature(d.SignatureRef[0])
		if err != nil {
			t.Fatal(err)
		}
		if sig.CheckMethod != "SM3" || len(sig.References) != 5 || sig.StampAnnots[0].PageRef != "1" || sig.SealBaseLoc != "/Doc_0/Signs/Sign_0/Seal.esl" ||
			sig.SignatureDateTime != "2026-08-04 10:08:09" || len(value) != 17726 {
			t.Errorf("signature %+v, %d bytes of SignedValue", sig, len(value))
		}
	}
	// The attachment's bytes and declared size.
	pkg, _ := ofd.Open(ofdtest.Fixture(t, "AddAttachment.ofd"))
	d, _ := ofd.Read(pkg)
	a := d.Attachments[0]
	if a.Path != "Doc_0/Res/eg_tulip.jpg" || len(a.Data) != 36494 || a.SizeKB != 35.638671875 {
		t.Errorf("attachment %s %d bytes %v KB", a.Path, len(a.Data), a.SizeKB)
	}
}

func TestReadToleratesUnprefixedAndRefusesForeignNamespace(t *testing.T) {
	files := map[string]string{
		"OFD.xml":                        `<?xml version="1.0" encoding="UTF-8"?><OFD Version="1.0" DocType="OFD"><DocBody><DocInfo><DocID>x</DocID></DocInfo><DocRoot>Doc_0/Document.xml</DocRoot></DocBody></OFD>`,
		"Doc_0/Document.xml":             `<Document><CommonData><MaxUnitID>3</MaxUnitID><PageArea><PhysicalBox>0 0 100 100</PhysicalBox></PageArea></CommonData><Pages><Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></Pages></Document>`,
		"Doc_0/Pages/Page_0/Content.xml": `<Page><Content><Layer ID="2"><PageBlock><TextObject ID="3" Boundary="0 0 50 5" Font="9" Size="4"><TextCode X="0" Y="3" DeltaX="g 2 4">一二三</TextCode></TextObject></PageBlock><CompositeObject ID="4"/></Layer></Content></Page>`,
	}
	build := func(files map[string]string) []byte {
		var entries []rawEntry
		for _, n := range []string{"OFD.xml", "Doc_0/Document.xml", "Doc_0/Pages/Page_0/Content.xml"} {
			entries = append(entries, rawEntry{name: n, data: []byte(files[n])})
		}
		return makeZip(t, entries...)
	}
	pkg, err := ofd.Open(build(files))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Text() != "一二三" || d.Pages[0].Box.W != 100 || len(d.Pages[0].Unsupported) != 1 {
		t.Errorf("text %q box %v unsupported %v", d.Text(), d.Pages[0].Box, d.Pages[0].Unsupported)
	}
	files["Doc_0/Document.xml"] = `<x:Document xmlns:x="urn:other"/>`
	pkg, _ = ofd.Open(build(files))
	if _, err := ofd.Read(pkg); err == nil || !strings.Contains(err.Error(), `Doc_0/Document.xml: root element Document is in namespace "urn:other"`) {
		t.Errorf("foreign namespace: %v", err)
	}
	files["Doc_0/Document.xml"] = `junk<Document/>`
	pkg, _ = ofd.Open(build(files))
	if _, err := ofd.Read(pkg); err == nil || !strings.Contains(err.Error(), "text before the root element") {
		t.Errorf("junk before root: %v", err)
	}
}
