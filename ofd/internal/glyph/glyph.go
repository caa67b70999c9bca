// Package glyph finds a CJK font installed on the machine, else takes
// the font this module embeds (ttf.Default), and turns text into outlines
// for golang.org/x/image/vector, with any affine transform (the page
// renderer places glyphs; the seal picture rotates them around a circle).
// Pure Go: golang.org/x/image/font/sfnt reads TrueType and CFF fonts and
// TTC/OTC collections. FontFile reads a font embedded in a document.
package glyph

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"

	"github.com/baohan-dev/baohan/ofd/ttf"
)

// Kind is the style asked for: Serif stands for 宋体 (SimSun, Songti),
// Sans for 黑体 (SimHei).
type Kind int

// Kinds.
const (
	Serif Kind = iota
	Sans
)

// Face is a loaded font.
type Face struct {
	Name string // full name, e.g. "Noto Serif CJK SC"
	Path string
	font *sfnt.Font
	mu   sync.Mutex
	buf  sfnt.Buffer
}

// Candidates are the files tried, in order, for each kind: Debian/Ubuntu
// (fonts-noto-cjk, fonts-wqy-zenhei, fonts-arphic-uming), Fedora/Arch,
// macOS and Windows. $BAOHAN_CJK_FONT, when set, comes first.
var Candidates = map[Kind][]string{
	Serif: {
		"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
		"/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
		"/usr/share/fonts/google-noto-cjk/NotoSerifCJK-Regular.ttc",
		"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/truetype/arphic/uming.ttc",
		"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
		"/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
		"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
		"/System/Library/Fonts/Supplemental/Songti.ttc",
		`C:\Windows\Fonts\simsun.ttc`,
	},
	Sans: {
		"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
		"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
		"/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
		"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
		"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
		"/usr/share/fonts/truetype/arphic/uming.ttc",
		"/System/Library/Fonts/STHeiti Medium.ttc",
		`C:\Windows\Fonts\simhei.ttf`,
	},
}

// ErrNoFont says no CJK font was found, and how to get one. Find no
// longer returns it (the embedded font stands in); it stays for callers
// that test for it.
var ErrNoFont = errors.New("no CJK font found (tried $BAOHAN_CJK_FONT, Noto CJK, WenQuanYi, AR PL, Songti, SimSun); " +
	"install one, e.g. `apt-get install fonts-noto-cjk`, or set BAOHAN_CJK_FONT to a .ttf/.otf/.ttc file, or render to SVG instead")

var (
	cacheMu sync.Mutex
	cache   = map[Kind]*Face{}
)

// Find returns the first CJK font found for the kind, cached; without
// one, the embedded font (ttf.Default, WenQuanYi Micro Hei cut to GBK).
// An error says only that a font named by $BAOHAN_CJK_FONT or found on
// the machine could not be read and the embedded one neither.
func Find(kind Kind) (*Face, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if f, ok := cache[kind]; ok {
		return f, nil
	}
	paths := Candidates[kind]
	if env := os.Getenv("BAOHAN_CJK_FONT"); env != "" {
		paths = append([]string{env}, paths...)
	}
	var errs []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		f, err := Load(p)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		cache[kind] = f
		return f, nil
	}
	f, err := Embedded()
	if err != nil {
		errs = append(errs, err.Error())
		return nil, fmt.Errorf("%w; unusable: %s", ErrNoFont, strings.Join(errs, "; "))
	}
	cache[kind] = f
	return f, nil
}

var embedded = sync.OnceValues(func() (*Face, error) {
	return FontFile("embedded:"+ttf.DefaultName, ttf.DefaultBytes())
})

// Embedded is the font this module embeds (ttf.Default).
func Embedded() (*Face, error) { return embedded() }

// FontFile reads a font carried in a document (an OFD FontFile, usually a
// subset): unlike Parse it does not ask for any particular character.
func FontFile(name string, b []byte) (*Face, error) {
	f, err := sfnt.Parse(b)
	if err != nil {
		c, cerr := sfnt.ParseCollection(b)
		if cerr != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if f, err = c.Font(0); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	full, _ := f.Name(nil, sfnt.NameIDFull)
	if full == "" {
		full = name
	}
	return &Face{Name: full, Path: name, font: f}, nil
}

// Load reads a font file. From a collection it takes the Simplified
// Chinese face when there is one ("SC" or "GB" in its name), else the
// first.
func Load(path string) (*Face, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse reads a font or collection from bytes.
func Parse(path string, b []byte) (*Face, error) {
	c, err := sfnt.ParseCollection(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var best *sfnt.Font
	bestName := ""
	for i := 0; i < c.NumFonts(); i++ {
		f, err := c.Font(i)
		if err != nil {
			continue
		}
		name, _ := f.Name(nil, sfnt.NameIDFull)
		if best == nil {
			best, bestName = f, name
		}
		if (strings.Contains(name, " SC") || strings.Contains(name, "GB")) && !strings.Contains(name, "Mono") {
			best, bestName = f, name
			break
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%s: no usable face", path)
	}
	face := &Face{Name: bestName, Path: path, font: best}
	if !face.Has('中') {
		return nil, fmt.Errorf("%s (%s): no Chinese glyphs", path, bestName)
	}
	return face, nil
}

// Has reports whether the font has a glyph for r.
func (f *Face) Has(r rune) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.font.GlyphIndex(&f.buf, r)
	return err == nil && i != 0
}

// Affine maps glyph space (pixels at the requested size, origin on the
// baseline at the left of the glyph, y down) to raster space:
// x' = A·x + C·y + E, y' = B·x + D·y + F.
type Affine struct{ A, B, C, D, E, F float64 }

// Translate is a pure translation.
func Translate(x, y float64) Affine { return Affine{1, 0, 0, 1, x, y} }

func (m Affine) apply(p fixed.Point26_6) (float32, float32) {
	x, y := float64(p.X)/64, float64(p.Y)/64
	return float32(m.A*x + m.C*y + m.E), float32(m.B*x + m.D*y + m.F)
}

// Draw adds the outline of r at size pixels (the em), transformed by m,
// to z. A rune the font lacks draws nothing and returns false.
func (f *Face) Draw(z *vector.Rasterizer, r rune, size float64, m Affine) bool {
	if size <= 0 || size > 4096 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	gi, err := f.font.GlyphIndex(&f.buf, r)
	if err != nil || gi == 0 {
		return false
	}
	segs, err := f.font.LoadGlyph(&f.buf, gi, fixed.Int26_6(size*64), nil)
	if err != nil {
		return false
	}
	open := false
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			if open {
				z.ClosePath() // the rasterizer does not close on MoveTo
			}
			z.MoveTo(m.apply(s.Args[0]))
			open = true
		case sfnt.SegmentOpLineTo:
			z.LineTo(m.apply(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			x1, y1 := m.apply(s.Args[0])
			x2, y2 := m.apply(s.Args[1])
			z.QuadTo(x1, y1, x2, y2)
		case sfnt.SegmentOpCubeTo:
			x1, y1 := m.apply(s.Args[0])
			x2, y2 := m.apply(s.Args[1])
			x3, y3 := m.apply(s.Args[2])
			z.CubeTo(x1, y1, x2, y2, x3, y3)
		}
	}
	if open {
		z.ClosePath()
	}
	return true
}

// Advance is the natural advance width of r at size pixels (0 when the
// font lacks it).
func (f *Face) Advance(r rune, size float64) float64 {
	if size <= 0 || size > 4096 {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	gi, err := f.font.GlyphIndex(&f.buf, r)
	if err != nil || gi == 0 {
		return 0
	}
	adv, err := f.font.GlyphAdvance(&f.buf, gi, fixed.Int26_6(size*64), font.HintingNone)
	if err != nil {
		return 0
	}
	return float64(adv) / 64
}
