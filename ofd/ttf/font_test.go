package ttf_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/baohan-dev/baohan/ofd/ttf"
)

// sample is text of the kind the guarantees carry: GB2312 and GBK
// ideographs, ASCII, full-width punctuation.
const sample = "投标保函 WTBH20261127M7T6449E5ZM 91110000MA01BIDD01 担保金额：人民币壹拾万元整（¥100,000.00）“见索即付”；喆堃玥 iIl1|WMW"

func TestDefault(t *testing.T) {
	f := ttf.Default()
	if f.Family() != ttf.DefaultName {
		t.Errorf("Family() = %q, want %q", f.Family(), ttf.DefaultName)
	}
	for _, r := range sample {
		if !f.Has(r) {
			t.Errorf("the default font lacks %q (U+%04X)", r, r)
		}
	}
	if _, ok := f.GlyphIndex('𠮷'); ok {
		t.Errorf("U+20BB7 is outside GBK but the font maps it")
	}
	// Ideographs and full-width punctuation take the em, Latin less.
	for _, tt := range []struct {
		r      rune
		lo, hi float64
	}{{'中', 1, 1}, {'，', 1, 1}, {'W', 0.8, 0.95}, {'i', 0.2, 0.3}, {'1', 0.5, 0.6}} {
		a, ok := f.Advance(tt.r, 1)
		if !ok || a < tt.lo || a > tt.hi {
			t.Errorf("Advance(%q, 1) = %v, %v; want in [%v, %v]", tt.r, a, ok, tt.lo, tt.hi)
		}
	}
	// golang.org/x/image reads it too, with the same advances.
	sf, err := sfnt.Parse(ttf.DefaultBytes())
	if err != nil {
		t.Fatalf("sfnt.Parse: %v", err)
	}
	var buf sfnt.Buffer
	for _, r := range sample {
		g, _ := sf.GlyphIndex(&buf, r)
		mine, _ := f.GlyphIndex(r)
		if uint16(g) != mine {
			t.Errorf("%q: glyph %d, sfnt says %d", r, mine, g)
		}
	}
}

func TestSubset(t *testing.T) {
	src := ttf.Default()
	runes := []rune(sample + "𠮷") // one character the font lacks
	sub, err := src.Subset(runes)
	if err != nil {
		t.Fatal(err)
	}
	// The order and repetition of the characters do not matter.
	shuffled := append([]rune(nil), runes...)
	shuffled = append(shuffled, runes[:10]...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if again, err := src.Subset(shuffled); err != nil || !bytes.Equal(again, sub) {
		t.Errorf("Subset of the same set in another order differs (err %v)", err)
	}
	if len(sub) > 64<<10 {
		t.Errorf("subset of %d characters is %d bytes", len(runes), len(sub))
	}
	f, err := ttf.Parse(sub)
	if err != nil {
		t.Fatalf("the subset does not parse: %v", err)
	}
	if f.Family() != src.Family() {
		t.Errorf("Family() = %q, want %q", f.Family(), src.Family())
	}
	if f.Has('𠮷') || f.Has('国') {
		t.Errorf("the subset maps characters it was not given")
	}
	sfSrc, err := sfnt.Parse(ttf.DefaultBytes())
	if err != nil {
		t.Fatal(err)
	}
	sfSub, err := sfnt.Parse(sub)
	if err != nil {
		t.Fatalf("sfnt.Parse(subset): %v", err)
	}
	var b1, b2 sfnt.Buffer
	ppem := fixed.I(src.UnitsPerEm())
	for _, r := range sample {
		a0, _ := src.Advance(r, 1)
		a1, ok := f.Advance(r, 1)
		if !ok || a0 != a1 {
			t.Errorf("%q: advance %v in the subset, %v in the font", r, a1, a0)
		}
		g0, _ := sfSrc.GlyphIndex(&b1, r)
		g1, err := sfSub.GlyphIndex(&b2, r)
		if err != nil || g1 == 0 {
			t.Errorf("%q: sfnt finds no glyph in the subset (%v)", r, err)
			continue
		}
		s0, err0 := sfSrc.LoadGlyph(&b1, g0, ppem, nil)
		s0 = append(sfnt.Segments(nil), s0...)
		s1, err1 := sfSub.LoadGlyph(&b2, g1, ppem, nil)
		if err0 != nil || err1 != nil {
			t.Errorf("%q: LoadGlyph: %v, %v", r, err0, err1)
			continue
		}
		if len(s0) != len(s1) {
			t.Errorf("%q: %d outline segments in the subset, %d in the font", r, len(s1), len(s0))
			continue
		}
		for i := range s0 {
			if s0[i] != s1[i] {
				t.Errorf("%q: outline segment %d differs: %v, want %v", r, i, s1[i], s0[i])
				break
			}
		}
		x0, _ := sfSrc.GlyphAdvance(&b1, g0, ppem, font.HintingNone)
		x1, _ := sfSub.GlyphAdvance(&b2, g1, ppem, font.HintingNone)
		if x0 != x1 {
			t.Errorf("%q: sfnt advance %v in the subset, %v in the font", r, x1, x0)
		}
		gs, _ := src.GlyphIndex(r)
		gd, _ := f.GlyphIndex(r)
		x0a, y0a, x0b, y0b := src.Bounds(gs)
		x1a, y1a, x1b, y1b := f.Bounds(gd)
		if [4]int{x0a, y0a, x0b, y0b} != [4]int{x1a, y1a, x1b, y1b} {
			t.Errorf("%q: bounds differ", r)
		}
	}
	otsCheck(t, sub)
}

func TestSubsetEmpty(t *testing.T) {
	sub, err := ttf.Default().Subset(nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ttf.Parse(sub)
	if err != nil {
		t.Fatal(err)
	}
	if f.NumGlyphs() != 1 || len(f.Runes()) != 0 {
		t.Errorf("empty subset: %d glyphs, %d characters; want .notdef alone", f.NumGlyphs(), len(f.Runes()))
	}
	if _, err := sfnt.Parse(sub); err != nil {
		t.Errorf("sfnt.Parse: %v", err)
	}
}

// TestSubsetOfSubset: cutting a subset again keeps what it holds (the
// OFD merge carries fonts of other documents).
func TestSubsetOfSubset(t *testing.T) {
	first, err := ttf.Default().Subset([]rune(sample))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ttf.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.Subset([]rune(sample))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("the subset of a subset with the same characters differs")
	}
}

// TestEmbeddedFontSanitizes runs the embedded font through Chromium's
// sanitizer when ots-sanitize (Debian: opentype-sanitizer) is installed.
func TestEmbeddedFontSanitizes(t *testing.T) { otsCheck(t, ttf.DefaultBytes()) }

func otsCheck(t *testing.T, font []byte) {
	t.Helper()
	bin, err := exec.LookPath("ots-sanitize")
	if err != nil {
		t.Log("ots-sanitize not installed (apt-get install opentype-sanitizer): sanitizer check skipped")
		return
	}
	in := filepath.Join(t.TempDir(), "font.ttf")
	if err := os.WriteFile(in, font, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, in, os.DevNull).CombinedOutput(); err != nil {
		t.Errorf("ots-sanitize refuses the font: %v\n%s", err, out)
	}
}

func TestParseRefuses(t *testing.T) {
	good, err := ttf.Default().Subset([]rune("投标 AB"))
	if err != nil {
		t.Fatal(err)
	}
	table := func(tag string) (off, length int) {
		n := int(good[4])<<8 | int(good[5])
		for i := range n {
			e := good[12+16*i:]
			if string(e[:4]) == tag {
				return int(e[8])<<24 | int(e[9])<<16 | int(e[10])<<8 | int(e[11]), int(e[12])<<24 | int(e[13])<<16 | int(e[14])<<8 | int(e[15])
			}
		}
		t.Fatalf("no %s table", tag)
		return 0, 0
	}
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	headAt, _ := table("head")
	hheaAt, _ := table("hhea")
	cmapAt, _ := table("cmap")
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"cut directory", good[:20]},
		{"CFF", append([]byte("OTTO"), good[4:]...)},
		{"unknown version", append([]byte("abcd"), good[4:]...)},
		{"collection without the face", []byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00")},
		{"table outside the file", mutate(func(b []byte) { b[12+8], b[12+9] = 0x7f, 0xff })},
		{"bad head magic", mutate(func(b []byte) { b[headAt+12] ^= 0xff })},
		{"unitsPerEm 0", mutate(func(b []byte) { b[headAt+18], b[headAt+19] = 0, 0 })},
		{"numberOfHMetrics too large", mutate(func(b []byte) { b[hheaAt+34], b[hheaAt+35] = 0xff, 0xff })},
		{"cmap records outside", mutate(func(b []byte) { b[cmapAt+2], b[cmapAt+3] = 0xff, 0xff })},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ttf.Parse(tt.data); err == nil {
				t.Errorf("Parse accepted it")
			}
		})
	}
}
