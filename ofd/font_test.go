package ofd_test

import (
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ttf"
)

func readDoc(t *testing.T, doc []byte) *ofd.Document {
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

// TestEmbedFont: the document carries the subset of the characters drawn
// (FontFile under PublicRes's BaseLoc), DeltaX are the font's advances,
// and a character the font lacks keeps the Advance rule's slot.
func TestEmbedFont(t *testing.T) {
	const size = 4.0
	b := ofd.NewBuilder(ofd.Info{Created: created})
	font := b.EmbedFont(ttf.Default())
	if again := b.EmbedFont(ttf.Default()); again != font {
		t.Errorf("the same font declared twice: %d, %d", font, again)
	}
	st := ofd.TextStyle{Font: font, Size: size}
	p := b.AddPage()
	p.Text(20, 20, st, "WiW保𠮷M")
	if got := b.Missing(font); len(got) != 1 || got[0] != '𠮷' {
		t.Errorf("Missing = %q, want [𠮷]", got)
	}
	wantW := 0.0
	for _, r := range "WiW保M" {
		a, _ := ttf.Default().Advance(r, size)
		wantW += a
	}
	wantW += size // 𠮷: the Advance rule's full em
	if got := b.Measure(st, "WiW保𠮷M"); got < wantW-1e-9 || got > wantW+1e-9 {
		t.Errorf("Measure = %v, want %v", got, wantW)
	}
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := readDoc(t, doc)
	f := d.Fonts[uint64(font)]
	if f == nil || f.Embedded != "Doc_0/Res/font_1.ttf" || f.Name != ttf.DefaultName {
		t.Fatalf("font resource %+v", f)
	}
	if pub, _ := d.Package.File("Doc_0/PublicRes.xml"); !strings.Contains(string(pub), `BaseLoc="Res"`) || !strings.Contains(string(pub), "<ofd:FontFile>font_1.ttf</ofd:FontFile>") {
		t.Errorf("PublicRes.xml: %s", pub)
	}
	data, _, ok := d.FontData(uint64(font))
	if !ok {
		t.Fatal("FontData: no file")
	}
	sub, err := ttf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	got := string(sub.Runes())
	if got != "MWi保" {
		t.Errorf("the subset maps %q, want the characters drawn that the font has (MWi保)", got)
	}
	to := d.Pages[0].Objects[0].(*ofd.TextObject)
	rs := []rune("WiW保𠮷M")
	for i, dx := range to.Codes[0].DeltaX {
		want, ok := ttf.Default().Advance(rs[i], size)
		if !ok {
			want = ofd.Advance(rs[i], size)
		}
		if dx < want-1e-3 || dx > want+1e-3 {
			t.Errorf("DeltaX[%d] (%q) = %v, want %v", i, rs[i], dx, want)
		}
	}
}

// TestWrapInFont: lines break by the font's widths, so a line of W is
// shorter than a line of i.
func TestWrapInFont(t *testing.T) {
	b := ofd.NewBuilder(ofd.Info{Created: created})
	st := ofd.TextStyle{Font: b.EmbedFont(ttf.Default()), Size: 1}
	ws := b.Wrap(st, strings.Repeat("W", 40)+" "+strings.Repeat("i", 40), 20, 0)
	for _, l := range ws {
		if w := b.Measure(st, l); w > 20+1e-9 {
			t.Errorf("line %q is %v wide, limit 20", l, w)
		}
	}
	if len(ws) < 3 {
		t.Errorf("Wrap = %q: 40 W (35 em) do not fit 20 em", ws)
	}
	// By name, the Advance rule: 40 half-width letters are 20 em.
	named := ofd.TextStyle{Font: b.Font("宋体", "宋体"), Size: 1}
	if got := b.Wrap(named, strings.Repeat("W", 40), 20, 0); len(got) != 1 {
		t.Errorf("Wrap by the Advance rule = %q", got)
	}
}

// TestImportPageFonts: a page set in an embedded font keeps it when
// imported: onto the builder's font of the same family and advances (one
// subset for the merged document), or carried as it is.
func TestImportPageFonts(t *testing.T) {
	src := ofd.NewBuilder(ofd.Info{Created: created})
	st := ofd.TextStyle{Font: src.EmbedFont(ttf.Default()), Size: 3.7}
	src.AddPage().Text(20, 20, st, "密文保函 WWMM")
	doc, err := src.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := readDoc(t, doc)

	// Into a builder with the same font: one font, one subset of both.
	b := ofd.NewBuilder(ofd.Info{Created: created})
	own := b.EmbedFont(ttf.Default())
	b.AddPage().Text(20, 20, ofd.TextStyle{Font: own, Size: 3.7}, "明文")
	if _, err := b.ImportPage(d, d.Pages[0]); err != nil {
		t.Fatal(err)
	}
	out, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m := readDoc(t, out)
	if len(m.Fonts) != 1 {
		t.Errorf("%d fonts, want the one shared", len(m.Fonts))
	}
	data, _, _ := m.FontData(uint64(own))
	f, err := ttf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range "明文密保函WM" {
		if !f.Has(r) {
			t.Errorf("the merged subset lacks %q", r)
		}
	}
	imported := m.Pages[1].Objects[0].(*ofd.TextObject)
	orig := d.Pages[0].Objects[0].(*ofd.TextObject)
	if ofd.FormatDeltas(imported.Codes[0].DeltaX) != ofd.FormatDeltas(orig.Codes[0].DeltaX) {
		t.Errorf("imported DeltaX %v, source %v", imported.Codes[0].DeltaX, orig.Codes[0].DeltaX)
	}

	// Into a builder without it: the source's font comes along.
	b2 := ofd.NewBuilder(ofd.Info{Created: created})
	if _, err := b2.ImportPage(d, d.Pages[0]); err != nil {
		t.Fatal(err)
	}
	out2, err := b2.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m2 := readDoc(t, out2)
	to := m2.Pages[0].Objects[0].(*ofd.TextObject)
	data2, font2, ok := m2.FontData(to.Font)
	if !ok || font2.Family != ttf.DefaultName {
		t.Fatalf("the imported text's font is not carried: %+v", font2)
	}
	f2, err := ttf.Parse(data2)
	if err != nil {
		t.Fatal(err)
	}
	if string(f2.Runes()) != string(mustParse(t, d).Runes()) {
		t.Errorf("carried subset maps %q, the source's %q", string(f2.Runes()), string(mustParse(t, d).Runes()))
	}
}

func mustParse(t *testing.T, d *ofd.Document) *ttf.Font {
	t.Helper()
	for id := range d.Fonts {
		if data, _, ok := d.FontData(id); ok {
			f, err := ttf.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("no embedded font")
	return nil
}
