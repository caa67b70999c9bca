package guarantee_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/render"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/ofd/ttf"
)

// Wide strings: the widest Latin capitals (W, M) in every field that can
// hold them, at the lengths Validate allows, long names and addresses.
func wideData(t testing.TB, cipher bool) guarantee.Data {
	g := guarantee.Data{
		BaohanNo: "WTBH20261127M7T6449E5ZM", ApplyNo: "WWMMWWMMWWMMWWMMWWMM",
		Institution:     strings.Repeat("WM", 20) + "融资担保股份有限公司",
		InstitutionCode: "WWMMWWMMWWMMWWMMWW",
		InstitutionAddr: strings.Repeat("北京市WWMM区MMWW大道", 10) + "1号",
		InstitutionTel:  "010-WWMMWWMM-8888, +86 138 0000 0000",
		Bidder:          strings.Repeat("MW", 60) + "建设工程有限公司",
		BidderCode:      "91110000MA01BIDD01",
		BiaoduanNo:      strings.Repeat("W", 60),
		BiaoduanName:    strings.Repeat("WWMM标段", 30),
		Zbr:             strings.Repeat("MMWW", 25) + "集团有限公司",
		ZbrOrgNum:       "MMWWMMWWMMWWMMWWMM",
		Amount:          decimal.RequireFromString("99999999999.99"),
		ValidityDays:    180,
		IssueDate:       now,
	}
	if cipher {
		if err := g.EncryptProject(projectKey); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func wideAgreement() guarantee.AgreementData {
	return guarantee.AgreementData{
		AgreementNo: "WTWWMMWWMMWWMMWWMMWW", ApplyNo: "WWMMWWMMWWMMWWMMWWMM", BaohanNo: "WTBH20261127M7T6449E5ZM",
		Institution: strings.Repeat("WM", 20) + "融资担保股份有限公司", InstitutionCode: "WWMMWWMMWWMMWWMMWW",
		InstitutionAddr: strings.Repeat("北京市WWMM区MMWW大道", 10) + "1号", InstitutionTel: "010-WWMMWWMM-8888",
		Bidder: strings.Repeat("MW", 60) + "建设工程有限公司", BidderCode: "91110000MA01BIDD01",
		Project: "业务流水号 WWMMWWMMWWMMWWMMWWMM 所投标段（开标前保密）",
		Amount:  decimal.RequireFromString("99999999999.99"), Premium: decimal.RequireFromString("999999999.99"),
		Rate: decimal.RequireFromString("0.0125"), SignDate: now,
	}
}

// glyphBox is where a reader draws one glyph: its outline's box in the
// embedded font, at the position the document fixes, in page millimetres
// (y down).
type glyphBox struct {
	x0, y0, x1, y1 float64
	r              rune
	text           string
	run, pos       int // which run of text (TextCode) on the page, which character of it
}

func (b glyphBox) String() string {
	return fmt.Sprintf("%q of %q at (%.2f, %.2f)-(%.2f, %.2f)", b.r, b.text, b.x0, b.y0, b.x1, b.y1)
}

// glyphBoxes computes the glyph boxes of a page as a reader does: each
// text object's font file (FontFile), X, Y and DeltaX, the glyph's
// outline box scaled to the size. It also checks that every text object's
// font is embedded, that the font has every character, and that DeltaX
// gives each glyph at least its advance, and lists what fails.
func glyphBoxes(d *ofd.Document, pg *ofd.Page) (boxes []glyphBox, problems []string) {
	fonts := map[uint64]*ttf.Font{}
	run := 0
	for _, o := range pg.Objects {
		to, ok := o.(*ofd.TextObject)
		if !ok {
			continue
		}
		if to.CTM != nil {
			problems = append(problems, fmt.Sprintf("text object %d has a CTM", to.ID))
			continue
		}
		f := fonts[to.Font]
		if f == nil {
			data, font, ok := d.FontData(to.Font)
			if !ok {
				problems = append(problems, fmt.Sprintf("text object %d (%q): font %d (%v) is not embedded", to.ID, to.Text(), to.Font, font))
				continue
			}
			var err error
			if f, err = ttf.Parse(data); err != nil {
				problems = append(problems, fmt.Sprintf("font %d: %v", to.Font, err))
				continue
			}
			fonts[to.Font] = f
		}
		s := to.Size / float64(f.UnitsPerEm())
		for _, c := range to.Codes {
			run++
			rs := []rune(c.Text)
			x := to.Boundary.X + c.X
			y := to.Boundary.Y + c.Y
			for i, r := range rs {
				g, ok := f.GlyphIndex(r)
				if !ok && r != ' ' {
					problems = append(problems, fmt.Sprintf("text %q: the embedded font has no glyph for %q", c.Text, r))
				}
				if i < len(rs)-1 {
					adv, _ := f.Advance(r, to.Size)
					if i >= len(c.DeltaX) {
						problems = append(problems, fmt.Sprintf("text %q: %d DeltaX values for %d characters", c.Text, len(c.DeltaX), len(rs)))
						break
					}
					if c.DeltaX[i] < adv-1e-3 {
						problems = append(problems, fmt.Sprintf("text %q: %q advances %.3f mm, its glyph %.3f mm", c.Text, r, c.DeltaX[i], adv))
					}
				}
				if x0, y0, x1, y1 := f.Bounds(g); x1 > x0 && y1 > y0 {
					boxes = append(boxes, glyphBox{
						x0: x + float64(x0)*s, x1: x + float64(x1)*s,
						y0: y - float64(y1)*s, y1: y - float64(y0)*s,
						r: r, text: c.Text, run: run, pos: i,
					})
				}
				if i < len(c.DeltaX) {
					x += c.DeltaX[i]
				}
			}
		}
	}
	return boxes, problems
}

// overlaps lists the pairs of glyph boxes that intersect. Neighbours in
// a run are spaced by DeltaX, at least their advance (glyphBoxes checks
// that); their outline boxes may still touch, as the hook of a j reaches
// under the letter before it in any proportional font, so they are not
// compared here. Every other pair is: lines, cells, columns, objects.
func overlaps(boxes []glyphBox) [][2]glyphBox {
	const eps = 1e-3
	sorted := append([]glyphBox(nil), boxes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].x0 < sorted[j].x0 })
	var out [][2]glyphBox
	for i, a := range sorted {
		for _, b := range sorted[i+1:] {
			if b.x0 >= a.x1-eps {
				break
			}
			if a.run == b.run && (a.pos-b.pos == 1 || b.pos-a.pos == 1) {
				continue
			}
			if b.y0 < a.y1-eps && a.y0 < b.y1-eps {
				out = append(out, [2]glyphBox{a, b})
			}
		}
	}
	return out
}

// The text area: the left and right margins of the templates, and the
// page less 8 mm at the top and bottom (the footer and the merge note sit
// in the vertical margins).
const (
	areaLeft, areaRight = 25.0, 185.0
	areaTop, areaBottom = 8.0, 297 - 8.0
)

// TestWideTextDoesNotOverlap builds every template with the widest
// strings (WWMM...), long names and addresses, and checks each page as a
// reader draws it with the embedded font: every advance (DeltaX) is at
// least the glyph's own, no two glyph boxes intersect but neighbours in a
// line, every glyph lies inside the margins; and the page rendered to PNG has no ink outside the
// glyph boxes, rules and images.
func TestWideTextDoesNotOverlap(t *testing.T) {
	docs := map[string][]byte{}
	agr, err := guarantee.BuildAgreement(wideAgreement())
	if err != nil {
		t.Fatal(err)
	}
	docs["agreement"] = agr
	docs["plain"] = mustBuild(t, wideData(t, false))
	docs["cipher"] = mustBuild(t, wideData(t, true))
	merged, err := guarantee.Merge(docs["plain"], docs["cipher"])
	if err != nil {
		t.Fatal(err)
	}
	docs["merged"] = merged
	names := []string{"agreement", "plain", "cipher", "merged"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			d := read(t, docs[name])
			text := d.Text()
			for _, want := range []string{"WTBH20261127M7T6449E5ZM", "WWMMWWMMWWMMWWMMWW"} {
				if !strings.Contains(text, want) {
					t.Errorf("the document does not read %q", want)
				}
			}
			for i, pg := range d.Pages {
				boxes, problems := glyphBoxes(d, pg)
				for _, p := range problems {
					t.Errorf("page %d: %s", i+1, p)
				}
				if len(boxes) < 100 {
					t.Fatalf("page %d: only %d glyphs", i+1, len(boxes))
				}
				for _, o := range overlaps(boxes) {
					t.Errorf("page %d: %v overlaps %v", i+1, o[0], o[1])
				}
				for _, b := range boxes {
					if b.x0 < areaLeft-1e-3 || b.x1 > areaRight+1e-3 || b.y0 < areaTop || b.y1 > areaBottom {
						t.Errorf("page %d: %v is outside the text area", i+1, b)
					}
				}
				inkOutside(t, docs[name], i, d, pg, boxes)
			}
		})
	}
	for _, name := range []string{"plain", "agreement"} {
		pkg, err := ofd.Open(docs[name])
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pkg.Entries() {
			if strings.HasSuffix(e.Name, "Content.xml") {
				golden(t, "wide_"+name+"_"+strings.ReplaceAll(e.Name, "/", "_"), e.Data)
			}
		}
	}
}

// inkOutside renders the page with baohan's renderer and counts the dark
// pixels that fall outside every glyph box, path and image: the renderer
// draws each glyph where the boxes say, so none may.
func inkOutside(t *testing.T, doc []byte, index int, d *ofd.Document, pg *ofd.Page, boxes []glyphBox) {
	t.Helper()
	const dpi = 100.0
	raw, err := render.PNG(doc, index, dpi)
	if err != nil {
		t.Fatalf("render page %d: %v", index+1, err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	s := dpi / 25.4
	allowed := image.NewAlpha(img.Bounds())
	mark := func(x0, y0, x1, y1, grow float64) {
		r := image.Rect(int(math.Floor(x0*s-grow)), int(math.Floor(y0*s-grow)), int(math.Ceil(x1*s+grow)), int(math.Ceil(y1*s+grow)))
		r = r.Intersect(allowed.Bounds())
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				allowed.Pix[allowed.PixOffset(x, y)] = 1
			}
		}
	}
	for _, b := range boxes {
		mark(b.x0, b.y0, b.x1, b.y1, 1.5) // anti-aliasing
	}
	for _, o := range pg.Objects {
		switch o := o.(type) {
		case *ofd.PathObject:
			mark(o.Boundary.X, o.Boundary.Y, o.Boundary.X+o.Boundary.W, o.Boundary.Y+o.Boundary.H, 1.5)
		case *ofd.ImageObject:
			mark(o.Boundary.X, o.Boundary.Y, o.Boundary.X+o.Boundary.W, o.Boundary.Y+o.Boundary.H, 1.5)
		}
	}
	stray := 0
	var first image.Point
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if min(r, g, bl) < 0xb000 && allowed.Pix[allowed.PixOffset(x, y)] == 0 {
				if stray == 0 {
					first = image.Pt(x, y)
				}
				stray++
			}
		}
	}
	if stray > 0 {
		t.Errorf("page %d: %d dark pixels outside the glyph boxes, rules and images (first at %.1f, %.1f mm)", index+1, stray, float64(first.X)/s, float64(first.Y)/s)
	}
}

// TestGlyphCheckCatchesOverlap: the checks above find what the issue
// showed: a line of WWMM set at the half-width slots (0.5 em, SimSun's
// ASCII) in a font whose W is 0.88 em, a font not embedded, and two lines
// set too close.
func TestGlyphCheckCatchesOverlap(t *testing.T) {
	const size = 3.7
	build := func(lineGap float64) *ofd.Builder {
		b := ofd.NewBuilder(ofd.Info{Created: now})
		font := b.EmbedFont(ttf.Default())
		p := b.AddPage()
		p.Text(30, 30, ofd.TextStyle{Font: font, Size: size}, "WTBH20261127M7T6449E5ZM")
		p.Text(30, 30+lineGap, ofd.TextStyle{Font: font, Size: size}, "91110000MA01BIDD01")
		return b
	}
	pageOf := func(doc []byte) (*ofd.Document, *ofd.Page) {
		d := read(t, doc)
		return d, d.Pages[0]
	}
	good, err := build(5.8).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, pg := pageOf(good)
	boxes, problems := glyphBoxes(d, pg)
	if len(problems) > 0 || len(overlaps(boxes)) > 0 {
		t.Fatalf("a sound page fails: %v, %v", problems, overlaps(boxes))
	}

	// The same text with the half-width DeltaX of the former layout.
	pkg, err := ofd.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	halfWidth := ofd.NewPackage()
	for _, e := range pkg.Entries() {
		data := e.Data
		if strings.HasSuffix(e.Name, "Content.xml") {
			for _, s := range []string{"WTBH20261127M7T6449E5ZM", "91110000MA01BIDD01"} {
				data = replaceDeltaX(t, data, s, ofd.FormatDeltas(ofd.Advances(s, size, 0)))
			}
		}
		if err := halfWidth.Add(e.Name, data, e.Modified); err != nil {
			t.Fatal(err)
		}
	}
	hw, err := halfWidth.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, pg = pageOf(hw)
	if _, problems := glyphBoxes(d, pg); len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), "'W' advances 1.850 mm") {
		t.Errorf("half-width slots not caught: %v", problems)
	}

	// Lines 2 mm apart: the glyphs of the two lines collide.
	close, err := build(2).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, pg = pageOf(close)
	if boxes, _ := glyphBoxes(d, pg); len(overlaps(boxes)) == 0 {
		t.Error("lines 2 mm apart not caught")
	}

	// A font referenced by name only.
	b := ofd.NewBuilder(ofd.Info{Created: now})
	b.AddPage().Text(30, 30, ofd.TextStyle{Font: b.Font("宋体", "宋体"), Size: size}, "WWMM")
	named, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, pg = pageOf(named)
	if _, problems := glyphBoxes(d, pg); len(problems) == 0 || !strings.Contains(problems[0], "not embedded") {
		t.Errorf("a font by name not caught: %v", problems)
	}
}

// replaceDeltaX sets the DeltaX of the TextCode reading text.
func replaceDeltaX(t *testing.T, content []byte, text, deltaX string) []byte {
	t.Helper()
	s := string(content)
	end := strings.Index(s, ">"+text+"</ofd:TextCode>")
	start := strings.LastIndex(s[:end], `DeltaX="`)
	if end < 0 || start < 0 {
		t.Fatalf("no TextCode %q", text)
	}
	q := strings.Index(s[start+8:], `"`)
	return []byte(s[:start+8] + deltaX + s[start+8+q:])
}

// TestSealCoversFont: the seal protects the embedded font file like every
// other entry: a glyph changed in it (a digit drawn as another) fails the
// signature, naming the font file.
func TestSealCoversFont(t *testing.T) {
	p := newParties(t)
	_, cipher, merged := issue(t, p)
	for name, doc := range map[string][]byte{"ciphertext": cipher, "merged": merged} {
		t.Run(name, func(t *testing.T) {
			d := read(t, doc)
			var fontFile string
			for _, f := range d.Fonts {
				fontFile = f.Embedded
			}
			if fontFile == "" || len(d.Fonts) != 1 {
				t.Fatalf("fonts %v: want one, embedded", d.Fonts)
			}
			pkg, err := ofd.Open(doc)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := pkg.File(fontFile)
			bad := append([]byte(nil), data...)
			bad[len(bad)/2] ^= 0x01
			if err := pkg.Replace(fontFile, bad, time.Time{}); err != nil {
				t.Fatal(err)
			}
			tampered, err := pkg.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			r, err := ses.Verify(tampered, p.pki.Pool)
			if err != nil || r.OK() || r.Signatures[0].Failure().Entry != "/"+fontFile {
				t.Errorf("a changed font file: %v %+v", err, r.Signatures[0].Failure())
			}
		})
	}
}
