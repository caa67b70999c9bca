package ofd

import (
	"fmt"
	"sort"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/ofd/ttf"
)

// embeddedFont is a font whose glyphs travel in the document: at Package
// time the subset of the characters drawn with it is written as
// Doc_0/Res/font_ID.ttf and named by the Font's FontFile.
type embeddedFont struct {
	id      FontID
	font    *ttf.Font
	used    map[rune]bool
	missing map[rune]bool
	file    string // name under Doc_0/Res
}

// EmbedFont declares a TrueType font carried in the document (FontFile):
// only the glyphs of the characters drawn with it are written, as a
// subset cut when the package is built. Text in it is positioned by the
// font's own advances (Builder.Measure, Builder.Wrap), so every reader
// that draws with the embedded file draws the page the same way, and
// glyphs never overlap. A character the font lacks keeps the slot of the
// Advance rule (a full or half em) and is left out of the subset: readers
// draw the font's missing-glyph box there (Missing lists them). The same
// font gives the same ID.
func (b *Builder) EmbedFont(f *ttf.Font) FontID {
	for _, e := range b.embedded {
		if e.font == f {
			return e.id
		}
	}
	id := FontID(b.id())
	name := f.FullName()
	if name == "" {
		name = f.Family()
	}
	b.fonts = append(b.fonts, wFont{ID: uint64(id), FontName: name, FamilyName: f.Family()})
	b.embedded = append(b.embedded, &embeddedFont{
		id: id, font: f, used: map[rune]bool{}, missing: map[rune]bool{},
		file: fmt.Sprintf("font_%d.ttf", id),
	})
	return id
}

func (b *Builder) embeddedFont(id FontID) *embeddedFont {
	for _, e := range b.embedded {
		if e.id == id {
			return e
		}
	}
	return nil
}

// Missing lists the characters drawn in an embedded font that it has no
// glyph for, in order (nil for a font referenced by name).
func (b *Builder) Missing(id FontID) []rune {
	e := b.embeddedFont(id)
	if e == nil {
		return nil
	}
	var out []rune
	for r := range e.missing {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// advance is the advance rule of a font: the embedded font's metrics,
// else Advance.
func (b *Builder) advance(id FontID) advanceFunc {
	e := b.embeddedFont(id)
	if e == nil {
		return Advance
	}
	return func(r rune, size float64) float64 {
		if a, ok := e.font.Advance(r, size); ok {
			return a
		}
		return Advance(r, size)
	}
}

// use records the characters drawn in a font.
func (b *Builder) use(id FontID, s string) {
	e := b.embeddedFont(id)
	if e == nil {
		return
	}
	for _, r := range s {
		if e.font.Has(r) {
			e.used[r] = true
		} else if r != ' ' && r != '\u3000' {
			e.missing[r] = true
		}
	}
}

// Measure is the width of s in the style's font and size: the embedded
// font's advances, or the Advance rule for a font referenced by name.
func (b *Builder) Measure(st TextStyle, s string) float64 {
	return measure(b.advance(st.Font), s, st.Size)
}

// Wrap breaks text into lines as the package function Wrap does, with the
// widths of the style's font.
func (b *Builder) Wrap(st TextStyle, text string, width, indent float64) []string {
	return wrap(b.advance(st.Font), text, width, st.Size, indent)
}

// fontFiles cuts the subsets of the embedded fonts.
func (b *Builder) fontFiles() (map[FontID][]byte, error) {
	out := map[FontID][]byte{}
	for _, e := range b.embedded {
		rs := make([]rune, 0, len(e.used))
		for r := range e.used {
			rs = append(rs, r)
		}
		data, err := e.font.Subset(rs)
		if err != nil {
			return nil, errorf("font %d (%s): %v", e.id, e.font.Family(), err)
		}
		out[e.id] = data
	}
	return out, nil
}

// importFont finds the font of this builder that an imported text object
// in the source font f (of document d) is drawn with: for a font carried
// in the source, a font embedded here of the same family that has every
// character of s with the same advance (the merge of documents made with
// the same font), else the source's font itself, embedded again; for a
// font referenced by name, the same name.
func (b *Builder) importFont(d *Document, f *Font, s string) FontID {
	if f.Embedded == "" {
		return b.Font(f.Name, f.Family)
	}
	data, ok := d.Package.File(f.Embedded)
	if !ok {
		return b.Font(f.Name, f.Family)
	}
	src, err := ttf.Parse(data)
	if err != nil {
		return b.Font(f.Name, f.Family) // unreadable: substituted by name, positions kept
	}
	for _, e := range b.embedded {
		if e.font.Family() == src.Family() && sameMetrics(e.font, src, s) {
			return e.id
		}
	}
	sum := sm3.Sum(data)
	key := string(sum[:])
	if id, ok := b.importedFonts[key]; ok {
		return id
	}
	id := b.EmbedFont(src)
	if b.importedFonts == nil {
		b.importedFonts = map[string]FontID{}
	}
	b.importedFonts[key] = id
	return id
}

// sameMetrics reports whether every character of s advances the same in
// fonts a and b (by the Advance rule where a font lacks it).
func sameMetrics(a, b *ttf.Font, s string) bool {
	for _, r := range s {
		wa, oka := a.Advance(r, 1)
		if !oka {
			wa = Advance(r, 1)
		}
		wb, okb := b.Advance(r, 1)
		if !okb {
			wb = Advance(r, 1)
		}
		if wa != wb {
			return false
		}
	}
	return true
}

// FontData returns the bytes of an embedded font file (FontFile).
func (d *Document) FontData(id uint64) ([]byte, *Font, bool) {
	f, ok := d.Fonts[id]
	if !ok || f.Embedded == "" {
		return nil, f, false
	}
	b, ok := d.Package.File(f.Embedded)
	return b, f, ok
}
