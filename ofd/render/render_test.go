package render

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/ofd/ttf"
	"github.com/emmansun/gmsm/smx509"
)

func TestParsePath(t *testing.T) {
	segs, err := parsePath("M 0 0 L 10 0 Q 10 5 5 5 B 1 2 3 4 5 6 A 5 5 0 0 1 10 10 C S 1 1")
	if err != nil {
		t.Fatal(err)
	}
	var ops []byte
	for _, s := range segs {
		ops = append(ops, s.op)
	}
	if string(ops) != "MLQBACM" {
		t.Errorf("ops %s", ops)
	}
	if got := svgPath(segs[:2]); got != "M 0 0 L 10 0" {
		t.Errorf("svg %q", got)
	}
	if got := svgPath(segs[3:4]); got != "C 1 2 3 4 5 6" {
		t.Errorf("cubic %q", got)
	}
	for _, bad := range []string{"M 0", "L x 1", "Z", "M 1 NaN", "MM 1 2"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) accepted", bad)
		}
	}
	lines, closed := flatten([]seg{{'M', []float64{0, 0}}, {'L', []float64{10, 0}}, {'L', []float64{10, 10}}, {'C', nil}})
	if len(lines) != 1 || !closed[0] || !reflect.DeepEqual(lines[0][len(lines[0])-1], [2]float64{0, 0}) {
		t.Errorf("flatten %v %v", lines, closed)
	}
	// An arc ends where it says.
	pts := arcPoints(0, 0, []float64{5, 5, 0, 0, 1, 10, 0})
	if end := pts[len(pts)-1]; end[0] < 9.999 || end[0] > 10.001 || end[1] > 1e-9 || end[1] < -1e-9 {
		t.Errorf("arc end %v", end)
	}
}

func TestFontFamily(t *testing.T) {
	tests := map[string]string{
		"宋体":                  "宋体, SimSun, Noto Serif CJK SC, serif",
		"黑体":                  "黑体, SimHei, Noto Sans CJK SC, sans-serif",
		"":                    "宋体, SimSun, Noto Serif CJK SC, serif",
		"Courier":             "Courier, 宋体, SimSun, Noto Serif CJK SC, serif",
		"WenQuanYi Micro Hei": "WenQuanYi Micro Hei, 黑体, SimHei, Noto Sans CJK SC, sans-serif",
	}
	for name, want := range tests {
		if got := FontFamily(&ofd.Font{Name: name}); got != want {
			t.Errorf("FontFamily(%q) = %q, want %q", name, got, want)
		}
	}
}

var signTime = time.Date(2026, 11, 27, 10, 0, 0, 0, ses.CST)

// sealedSample is a one-page document with text, a red line, a box, an
// image and a seal stamped over (150, 200).
func sealedSample(t *testing.T) []byte {
	b := ofd.NewBuilder(ofd.Info{Created: signTime})
	f := b.Font("宋体", "宋体")
	img := image.NewNRGBA(image.Rect(0, 0, 10, 10))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := 0; y < 10; y++ {
		for x := 0; x < 10; x++ {
			img.Set(x, y, color.NRGBA{0, 0, 0xff, 0xff})
		}
	}
	var pb bytes.Buffer
	png.Encode(&pb, img)
	id, err := b.Image(pb.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	p := b.AddPage()
	p.Text(20, 20, ofd.TextStyle{Font: f, Size: 10}, "保函 BH1")
	p.Line(20, 50, 190, 50, 1, ofd.Red)
	p.Rect(ofd.Box{X: 20, Y: 60, W: 50, H: 30}, 0, nil, &ofd.Black)
	p.Image(id, ofd.Box{X: 100, Y: 60, W: 20, H: 20})
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pki := ofdtest.NewPKI(t)
	red := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	for i := 0; i < len(red.Pix); i += 4 {
		red.Pix[i], red.Pix[i+3] = 0xff, 0xff
	}
	var rb bytes.Buffer
	png.Encode(&rb, red)
	seal, err := ses.MakeSeal(pki.Institution.Key, pki.Institution.Cert, ses.SealSpec{Name: "章", Holders: []*smx509.Certificate{pki.Institution.Cert},
		Picture: rb.Bytes(), ValidStart: signTime.Add(-time.Hour), ValidEnd: signTime.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := ses.Sign(doc, ses.Signer{Key: pki.Institution.Key, Cert: pki.Institution.Cert, Seal: seal},
		ses.SignOptions{Time: signTime, Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 140, Y: 190, W: 20, H: 20}}}})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestSVG(t *testing.T) {
	svg, err := SVG(sealedSample(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	for _, want := range []string{
		`viewBox="0 0 210 297"`,
		`<g transform="translate(20 20)" font-family="宋体, SimSun, Noto Serif CJK SC, serif" font-size="10" fill="rgb(0,0,0)"><text x="0 10 20 25 30 35" y="8.8" xml:space="preserve">保函 BH1</text></g>`,
		`stroke="rgb(212,28,28)" stroke-width="1"`,
		`fill="rgb(0,0,0)" stroke="none"`,
		`<image transform="translate(100 60) matrix(20 0 0 20 0 0)" x="0" y="0" width="1" height="1" preserveAspectRatio="none" xlink:href="data:image/png;base64,`,
		`<image x="140" y="190" width="20" height="20" preserveAspectRatio="none" xlink:href="data:image/png;base64,`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %s\n%s", want, s)
		}
	}
	if _, err := SVG(sealedSample(t), 1); err == nil || !strings.Contains(err.Error(), "page 2 does not exist") {
		t.Errorf("page 2: %v", err)
	}
}

func TestPNG(t *testing.T) {
	raw, err := PNG(sealedSample(t), 0, 100)
	if errors.Is(err, ErrNoFont) {
		t.Skip("no CJK font installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	s := 100 / 25.4
	at := func(x, y float64) (r, g, b uint32) {
		r, g, b, _ = img.At(int(x*s), int(y*s)).RGBA()
		return r >> 8, g >> 8, b >> 8
	}
	if w := img.Bounds().Dx(); w != 827 {
		t.Errorf("width %d", w)
	}
	checks := []struct {
		name    string
		x, y    float64
		r, g, b uint32
		tol     uint32
	}{
		{"margin is white", 5, 5, 255, 255, 255, 0},
		{"filled box is black", 45, 75, 0, 0, 0, 0},
		{"red line", 100, 50, 212, 28, 28, 10},
		{"image is blue", 110, 70, 0, 0, 255, 10},
		{"stamp is red", 150, 200, 255, 0, 0, 10},
	}
	for _, c := range checks {
		r, g, b := at(c.x, c.y)
		if diff(r, c.r) > c.tol || diff(g, c.g) > c.tol || diff(b, c.b) > c.tol {
			t.Errorf("%s: (%v, %v) is %d %d %d, want %d %d %d", c.name, c.x, c.y, r, g, b, c.r, c.g, c.b)
		}
	}
	// Text is drawn: dark pixels inside the first glyph's box.
	dark := 0
	for y := 21.0; y < 29; y += 0.2 {
		for x := 20.0; x < 30; x += 0.2 {
			if r, _, _ := at(x, y); r < 100 {
				dark++
			}
		}
	}
	if dark < 50 {
		t.Errorf("the glyph 保 left %d dark samples", dark)
	}
}

func diff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestRenderFixture(t *testing.T) {
	doc := ofdtest.Fixture(t, "SESV4SignDoc.ofd")
	p, err := Load(doc, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Stamps) != 1 || p.Stamps[0].Box != (ofd.Box{X: 50, Y: 50, W: 40, H: 40}) || p.Stamps[0].PictureType != "PNG" {
		t.Errorf("stamps %+v", p.Stamps)
	}
	var b bytes.Buffer
	if err := p.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<text x="0 3 6 9 12 13.5 15 16.5`) {
		t.Errorf("fixture text positions:\n%s", b.String()[:800])
	}
}

// FuzzParsePath: the path parser and flattener never panic and bound
// their output.
func FuzzParsePath(f *testing.F) {
	f.Add("M 0 0 L 10 0 Q 10 5 5 5 B 1 2 3 4 5 6 A 5 5 0 0 1 10 10 C")
	f.Add("A 1e300 1e-300 45 1 0 1 1")
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := parsePath(s)
		if err != nil {
			return
		}
		lines, _ := flatten(segs)
		n := 0
		for _, l := range lines {
			n += len(l)
		}
		if n > 200*len(segs)+2 {
			t.Fatalf("%d points from %d commands", n, len(segs))
		}
		_ = svgPath(segs)
	})
}

// FuzzRender draws fuzzed page content: no panic, whatever the numbers.
func FuzzRender(f *testing.F) {
	b := ofd.NewBuilder(ofd.Info{Created: signTime})
	font := b.Font("宋体", "宋体")
	embedded := b.EmbedFont(ttf.Default())
	p := b.AddPage()
	p.Text(20, 20, ofd.TextStyle{Font: font, Size: 10}, "保函 BH1")
	p.Text(20, 40, ofd.TextStyle{Font: embedded, Size: 10}, "保函 WWMM")
	p.Rect(ofd.Box{X: 20, Y: 60, W: 50, H: 30}, 1, &ofd.Red, &ofd.Black)
	pkg, err := b.Package()
	if err != nil {
		f.Fatal(err)
	}
	content, _ := pkg.File("Doc_0/Pages/Page_0/Content.xml")
	f.Add(content)
	f.Add([]byte(`<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer ID="2"><ofd:PathObject ID="3" Boundary="1e300 -1e300 1e300 1e300" CTM="1e300 0 0 -1e300 1e300 0" Fill="true"><ofd:AbbreviatedData>M 0 0 A 1e300 1 0 1 1 1e308 -1e308 C</ofd:AbbreviatedData></ofd:PathObject><ofd:TextObject ID="4" Boundary="0 0 1 1" Font="1" Size="1e9" CTM="0 0 0 0 0 0"><ofd:TextCode X="-1e308" Y="1e308" DeltaX="g 5 1e308">保函保函保函</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>`))
	f.Fuzz(func(t *testing.T, c []byte) {
		q := pkg.Clone()
		_ = q.Replace("Doc_0/Pages/Page_0/Content.xml", c, signTime)
		d, err := ofd.Read(q)
		if err != nil {
			return
		}
		pg, err := PageOf(d, 0)
		if err != nil {
			return
		}
		var sb bytes.Buffer
		_ = pg.WriteSVG(&sb)
		_, _ = pg.Image(8)
	})
}

// TestEmbeddedFont: text in a font the document carries is drawn with
// that font, in PNG (the ink of each glyph is its outline's box in the
// embedded file, whatever fonts the machine has) and in SVG (an
// @font-face with the file, first in the family list).
func TestEmbeddedFont(t *testing.T) {
	const size = 20.0
	b := ofd.NewBuilder(ofd.Info{Created: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)})
	font := b.EmbedFont(ttf.Default())
	p := b.AddPage()
	p.Text(20, 20, ofd.TextStyle{Font: font, Size: size}, "W")
	p.Text(20, 60, ofd.TextStyle{Font: font, Size: size}, "i")
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	const dpi = 100.0
	raw, err := PNG(doc, 0, dpi)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	s := dpi / 25.4
	f := ttf.Default()
	for _, tt := range []struct {
		r rune
		y float64
	}{{'W', 20}, {'i', 60}} {
		g, _ := f.GlyphIndex(tt.r)
		x0, y0, x1, y1 := f.Bounds(g)
		u := size / float64(f.UnitsPerEm())
		base := tt.y + size*0.88
		want := image.Rect(int((20+float64(x0)*u)*s), int((base-float64(y1)*u)*s), int((20+float64(x1)*u)*s), int((base-float64(y0)*u)*s))
		// The ink's box in the region around the glyph.
		area := image.Rect(int(10*s), int((tt.y-5)*s), int(60*s), int((tt.y+30)*s))
		ink := image.Rectangle{}
		for y := area.Min.Y; y < area.Max.Y; y++ {
			for x := area.Min.X; x < area.Max.X; x++ {
				if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
					ink = ink.Union(image.Rect(x, y, x+1, y+1))
				}
			}
		}
		if d := max(abs(ink.Min.X-want.Min.X), abs(ink.Max.X-want.Max.X), abs(ink.Min.Y-want.Min.Y), abs(ink.Max.Y-want.Max.Y)); d > 2 {
			t.Errorf("%q: ink %v, the embedded glyph's box %v", tt.r, ink, want)
		}
	}
	svg, err := SVG(doc, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<defs><style><![CDATA[@font-face{font-family:"ofd-font-1";src:url(data:font/ttf;base64,AAEAAA`,
		`font-family="&#39;ofd-font-1&#39;, WenQuanYi Micro Hei, 黑体, SimHei, Noto Sans CJK SC, sans-serif"`,
	} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %s", want)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
