package glyph

import (
	"errors"
	"image"
	"strings"
	"testing"

	"golang.org/x/image/vector"
)

func TestParseRefusesNonFonts(t *testing.T) {
	if _, err := Parse("x.ttf", []byte("not a font")); err == nil {
		t.Fatal("accepted garbage")
	}
}

func TestFindAndDraw(t *testing.T) {
	f, err := Find(Serif)
	if errors.Is(err, ErrNoFont) {
		if !strings.Contains(err.Error(), "apt-get install fonts-noto-cjk") {
			t.Errorf("the error does not say what to install: %v", err)
		}
		t.Skip("no CJK font installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !f.Has('保') || f.Advance('保', 100) < 90 {
		t.Errorf("%s: 保 missing or narrow (%v)", f.Name, f.Advance('保', 100))
	}
	var z vector.Rasterizer
	z.Reset(120, 120)
	if !f.Draw(&z, '保', 100, Translate(10, 98)) {
		t.Fatal("nothing drawn")
	}
	mask := image.NewAlpha(image.Rect(0, 0, 120, 120))
	z.Draw(mask, mask.Bounds(), image.Opaque, image.Point{})
	covered := 0
	for _, a := range mask.Pix {
		if a > 128 {
			covered++
		}
	}
	// An ideograph covers a good part of its em box, not all of it.
	if covered < 1000 || covered > 8000 {
		t.Errorf("保 covers %d pixels of 10000", covered)
	}
	if f.Draw(&z, '\uE000', 100, Translate(0, 0)) {
		t.Error("drew a private-use code point the font lacks")
	}
}

// TestFindFallsBackToEmbedded: with no font on the machine, Find takes
// the embedded one, which draws Chinese and Latin.
func TestFindFallsBackToEmbedded(t *testing.T) {
	saved := Candidates
	t.Cleanup(func() {
		Candidates = saved
		cacheMu.Lock()
		cache = map[Kind]*Face{}
		cacheMu.Unlock()
	})
	Candidates = map[Kind][]string{Serif: {"/nonexistent/font.ttc"}, Sans: nil}
	t.Setenv("BAOHAN_CJK_FONT", "")
	cacheMu.Lock()
	cache = map[Kind]*Face{}
	cacheMu.Unlock()
	for _, kind := range []Kind{Serif, Sans} {
		f, err := Find(kind)
		if err != nil {
			t.Fatalf("Find(%v): %v", kind, err)
		}
		if !strings.Contains(f.Path, "embedded") || !f.Has('保') || !f.Has('W') {
			t.Errorf("Find(%v) = %s (%s), want the embedded font", kind, f.Name, f.Path)
		}
		var z vector.Rasterizer
		z.Reset(100, 100)
		if !f.Draw(&z, '保', 80, Translate(5, 80)) {
			t.Error("the embedded font draws nothing")
		}
	}
}

func TestFontFile(t *testing.T) {
	if _, err := FontFile("x.ttf", []byte("not a font")); err == nil {
		t.Error("FontFile accepted garbage")
	}
}
