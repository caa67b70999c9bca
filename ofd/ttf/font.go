package ttf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"unicode/utf16"
)

// Limits on what a font may declare, so that a hostile file inside a
// document cannot make the reader allocate or loop without bound.
const (
	maxTables     = 64
	maxCmapGroups = 1 << 16
)

// Font is a TrueType font (glyf outlines) as read: its tables point into
// the bytes given to Parse, which must not change afterwards.
type Font struct {
	tables    map[string][]byte
	order     []string // table tags in file order
	numGlyphs int
	upem      int
	longLoca  bool
	loca      []uint32 // numGlyphs+1 offsets into glyf
	adv       []uint16 // advance width of every glyph
	lsb       []int16  // left side bearing of every glyph
	ascent    int      // hhea
	descent   int      // hhea, negative below the baseline
	cmap      cmap
	family    string
	full      string
}

// Error is a font that cannot be read.
type Error struct{ Msg string }

func (e *Error) Error() string { return "ttf: " + e.Msg }

func errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Parse reads a TrueType font (sfnt version 1.0 or "true" with glyf
// outlines). For a collection (.ttc) it reads the first face; see
// ParseCollection.
func Parse(data []byte) (*Font, error) { return ParseCollection(data, 0) }

// ParseCollection reads face index of a TrueType collection, or the font
// when data is a single font (index must then be 0).
func ParseCollection(data []byte, index int) (*Font, error) {
	if len(data) < 12 {
		return nil, errorf("%d bytes is too short for a font", len(data))
	}
	off := 0
	if string(data[:4]) == "ttcf" {
		n := int(u32(data[8:]))
		if index < 0 || index >= n || 12+4*(index+1) > len(data) {
			return nil, errorf("collection has %d faces, no face %d", n, index)
		}
		off = int(u32(data[12+4*index:]))
	} else if index != 0 {
		return nil, errorf("not a collection: no face %d", index)
	}
	return parseAt(data, off)
}

func parseAt(data []byte, off int) (*Font, error) {
	if off < 0 || off+12 > len(data) {
		return nil, errorf("table directory at %d is outside the file", off)
	}
	switch v := u32(data[off:]); v {
	case 0x00010000, 0x74727565: // 1.0, "true"
	case 0x4f54544f: // "OTTO"
		return nil, errorf("CFF (PostScript) outlines are not supported; a TrueType (glyf) font is needed")
	default:
		return nil, errorf("unknown sfnt version %#x", v)
	}
	n := int(u16(data[off+4:]))
	if n > maxTables {
		return nil, errorf("%d tables (at most %d)", n, maxTables)
	}
	if off+12+16*n > len(data) {
		return nil, errorf("table directory of %d tables is cut off", n)
	}
	f := &Font{tables: map[string][]byte{}}
	for i := range n {
		e := data[off+12+16*i:]
		tag := string(e[:4])
		to, tl := uint64(u32(e[8:])), uint64(u32(e[12:]))
		if to+tl > uint64(len(data)) {
			return nil, errorf("table %q (%d bytes at %d) is outside the file", tag, tl, to)
		}
		if _, dup := f.tables[tag]; dup {
			return nil, errorf("table %q twice", tag)
		}
		f.tables[tag] = data[to : to+tl : to+tl]
		f.order = append(f.order, tag)
	}
	for _, t := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"} {
		if _, ok := f.tables[t]; !ok {
			if t == "glyf" || t == "loca" {
				if _, cff := f.tables["CFF "]; cff {
					return nil, errorf("CFF (PostScript) outlines are not supported; a TrueType (glyf) font is needed")
				}
			}
			return nil, errorf("no %s table", t)
		}
	}
	if err := f.parseHead(); err != nil {
		return nil, err
	}
	if err := f.parseMetrics(); err != nil {
		return nil, err
	}
	if err := f.parseLoca(); err != nil {
		return nil, err
	}
	c, err := parseCmap(f.tables["cmap"], f.numGlyphs)
	if err != nil {
		return nil, err
	}
	f.cmap = c
	f.family, f.full = parseNames(f.tables["name"])
	return f, nil
}

func (f *Font) parseHead() error {
	h := f.tables["head"]
	if len(h) < 54 {
		return errorf("head table of %d bytes (54 needed)", len(h))
	}
	if u32(h[12:]) != 0x5F0F3CF5 {
		return errorf("head table: bad magic number %#x", u32(h[12:]))
	}
	f.upem = int(u16(h[18:]))
	if f.upem < 16 || f.upem > 16384 {
		return errorf("head table: unitsPerEm %d (16 to 16384)", f.upem)
	}
	switch u16(h[50:]) {
	case 0:
	case 1:
		f.longLoca = true
	default:
		return errorf("head table: indexToLocFormat %d", u16(h[50:]))
	}
	m := f.tables["maxp"]
	if len(m) < 6 {
		return errorf("maxp table of %d bytes", len(m))
	}
	f.numGlyphs = int(u16(m[4:]))
	if f.numGlyphs == 0 {
		return errorf("maxp table: no glyphs")
	}
	return nil
}

func (f *Font) parseMetrics() error {
	h := f.tables["hhea"]
	if len(h) < 36 {
		return errorf("hhea table of %d bytes (36 needed)", len(h))
	}
	f.ascent = int(i16(h[4:]))
	f.descent = int(i16(h[6:]))
	nh := int(u16(h[34:]))
	if nh == 0 || nh > f.numGlyphs {
		return errorf("hhea table: numberOfHMetrics %d for %d glyphs", nh, f.numGlyphs)
	}
	mt := f.tables["hmtx"]
	need := 4*nh + 2*(f.numGlyphs-nh)
	if len(mt) < need {
		return errorf("hmtx table of %d bytes (%d needed)", len(mt), need)
	}
	f.adv = make([]uint16, f.numGlyphs)
	f.lsb = make([]int16, f.numGlyphs)
	for i := range nh {
		f.adv[i] = u16(mt[4*i:])
		f.lsb[i] = i16(mt[4*i+2:])
	}
	for i := nh; i < f.numGlyphs; i++ {
		f.adv[i] = f.adv[nh-1]
		f.lsb[i] = i16(mt[4*nh+2*(i-nh):])
	}
	return nil
}

func (f *Font) parseLoca() error {
	l := f.tables["loca"]
	n := f.numGlyphs + 1
	f.loca = make([]uint32, n)
	if f.longLoca {
		if len(l) < 4*n {
			return errorf("loca table of %d bytes for %d glyphs", len(l), f.numGlyphs)
		}
		for i := range n {
			f.loca[i] = u32(l[4*i:])
		}
	} else {
		if len(l) < 2*n {
			return errorf("loca table of %d bytes for %d glyphs", len(l), f.numGlyphs)
		}
		for i := range n {
			f.loca[i] = 2 * uint32(u16(l[2*i:]))
		}
	}
	glyf := uint32(len(f.tables["glyf"]))
	for i := 1; i < n; i++ {
		if f.loca[i] < f.loca[i-1] {
			return errorf("loca table: glyph %d ends before it starts", i-1)
		}
	}
	if f.loca[n-1] > glyf {
		return errorf("loca table: glyphs end at %d, glyf has %d bytes", f.loca[n-1], glyf)
	}
	return nil
}

// NumGlyphs is the number of glyphs, .notdef included.
func (f *Font) NumGlyphs() int { return f.numGlyphs }

// UnitsPerEm is the size of the em in font units.
func (f *Font) UnitsPerEm() int { return f.upem }

// Family is the font's family name (name ID 16 or 1), FullName its full
// name (name ID 4); "" when the font has none.
func (f *Font) Family() string { return f.family }

// FullName is the font's full name (name ID 4).
func (f *Font) FullName() string { return f.full }

// Ascent and Descent are the line's extent above and below the baseline
// (hhea), in ems; Descent is negative.
func (f *Font) Ascent() float64 { return float64(f.ascent) / float64(f.upem) }

// Descent: see Ascent.
func (f *Font) Descent() float64 { return float64(f.descent) / float64(f.upem) }

// GlyphIndex is the glyph of r, 0 (.notdef) and false when the font
// lacks it.
func (f *Font) GlyphIndex(r rune) (uint16, bool) {
	g := f.cmap.lookup(r)
	return g, g != 0
}

// Has reports whether the font has a glyph for r.
func (f *Font) Has(r rune) bool { return f.cmap.lookup(r) != 0 }

// GlyphAdvance is the advance width of glyph g in font units.
func (f *Font) GlyphAdvance(g uint16) int {
	if int(g) >= f.numGlyphs {
		return 0
	}
	return int(f.adv[g])
}

// Advance is the advance of r at size (any unit: the result is in the
// same), and false when the font has no glyph for r.
func (f *Font) Advance(r rune, size float64) (float64, bool) {
	g, ok := f.GlyphIndex(r)
	if !ok {
		return 0, false
	}
	return float64(f.adv[g]) * size / float64(f.upem), true
}

// Bounds is the box of glyph g's outline in font units, y up (the glyph
// header: xMin, yMin, xMax, yMax); all zero for an empty glyph (a space).
func (f *Font) Bounds(g uint16) (xMin, yMin, xMax, yMax int) {
	d := f.glyph(g)
	if len(d) < 10 {
		return 0, 0, 0, 0
	}
	return int(i16(d[2:])), int(i16(d[4:])), int(i16(d[6:])), int(i16(d[8:]))
}

// glyph is the glyf data of g (nil for an empty glyph).
func (f *Font) glyph(g uint16) []byte {
	if int(g) >= f.numGlyphs {
		return nil
	}
	a, b := f.loca[g], f.loca[g+1]
	if a == b {
		return nil
	}
	return f.tables["glyf"][a:b]
}

// Runes lists every character the font maps to a glyph, in order.
func (f *Font) Runes() []rune { return f.cmap.runes() }

// Composite glyph flags (glyf table).
const (
	argWords     = 0x0001
	haveScale    = 0x0008
	moreComps    = 0x0020
	haveXYScale  = 0x0040
	haveTwoByTwo = 0x0080
)

// components lists the glyphs a composite glyph is made of, and the
// offsets of their glyph indexes in d (for renumbering); nothing for a
// simple glyph.
func components(d []byte) (gids []uint16, at []int, err error) {
	if len(d) < 10 || i16(d) >= 0 {
		return nil, nil, nil
	}
	p := 10
	for {
		if p+4 > len(d) {
			return nil, nil, errors.New("composite glyph is cut off")
		}
		flags := u16(d[p:])
		gids = append(gids, u16(d[p+2:]))
		at = append(at, p+2)
		p += 4
		if flags&argWords != 0 {
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&haveScale != 0:
			p += 2
		case flags&haveXYScale != 0:
			p += 4
		case flags&haveTwoByTwo != 0:
			p += 8
		}
		if p > len(d) {
			return nil, nil, errors.New("composite glyph is cut off")
		}
		if flags&moreComps == 0 {
			return gids, at, nil
		}
		if len(gids) > 1024 {
			return nil, nil, errors.New("composite glyph of more than 1024 components")
		}
	}
}

// cmap is the character map read from the best Unicode subtable: the
// segments of format 4 (the BMP) or the groups of format 12, both sorted,
// looked up by binary search; nothing is expanded, so a hostile table
// costs no more memory than its size.
type cmap struct {
	segs      []cmapSeg // format 4
	sub       []byte    // format 4 subtable, for glyphIdArray
	groups    []cmapGroup
	numGlyphs int
}

type cmapSeg struct {
	lo, hi rune
	delta  uint16
	ro     int // offset of the glyph of lo in sub, 0 for delta only
}

type cmapGroup struct {
	lo, hi rune
	gid    uint32 // glyph of lo
}

func (c cmap) lookup(r rune) uint16 {
	if c.segs != nil {
		i := sort.Search(len(c.segs), func(i int) bool { return c.segs[i].hi >= r })
		if i == len(c.segs) || c.segs[i].lo > r {
			return 0
		}
		s := c.segs[i]
		var g uint16
		if s.ro == 0 {
			g = uint16(r) + s.delta
		} else if g = u16(c.sub[s.ro+2*int(r-s.lo):]); g != 0 {
			g += s.delta
		}
		if int(g) >= c.numGlyphs {
			return 0
		}
		return g
	}
	i := sort.Search(len(c.groups), func(i int) bool { return c.groups[i].hi >= r })
	if i < len(c.groups) && c.groups[i].lo <= r {
		return uint16(c.groups[i].gid + uint32(r-c.groups[i].lo))
	}
	return 0
}

func (c cmap) runes() []rune {
	var out []rune
	for _, s := range c.segs {
		for r := s.lo; r <= s.hi; r++ {
			if c.lookup(r) != 0 {
				out = append(out, r)
			}
		}
	}
	for _, g := range c.groups {
		for r := g.lo; r <= g.hi; r++ {
			if uint16(g.gid+uint32(r-g.lo)) != 0 {
				out = append(out, r)
			}
		}
	}
	return out
}

func parseCmap(t []byte, numGlyphs int) (cmap, error) {
	if len(t) < 4 {
		return cmap{}, errorf("cmap table of %d bytes", len(t))
	}
	n := int(u16(t[2:]))
	if 4+8*n > len(t) {
		return cmap{}, errorf("cmap table: %d encoding records cut off", n)
	}
	// Preference: full Unicode (format 12) before BMP (format 4),
	// Windows before Unicode platform.
	best, bestRank := -1, 0
	for i := range n {
		e := t[4+8*i:]
		pid, eid, off := u16(e), u16(e[2:]), int(u32(e[4:]))
		if off+2 > len(t) {
			continue
		}
		format := u16(t[off:])
		rank := 0
		switch {
		case format == 12 && pid == 3 && eid == 10:
			rank = 6
		case format == 12 && pid == 0:
			rank = 5
		case format == 4 && pid == 3 && eid == 1:
			rank = 4
		case format == 4 && pid == 0:
			rank = 3
		}
		if rank > bestRank {
			best, bestRank = off, rank
		}
	}
	if best < 0 {
		return cmap{}, errorf("cmap table: no Unicode subtable of format 4 or 12")
	}
	if u16(t[best:]) == 4 {
		return parseCmap4(t[best:], numGlyphs)
	}
	return parseCmap12(t[best:], numGlyphs)
}

func parseCmap4(t []byte, numGlyphs int) (cmap, error) {
	if len(t) < 14 {
		return cmap{}, errorf("cmap format 4 subtable cut off")
	}
	length := int(u16(t[2:]))
	if length > len(t) || length < 14 {
		length = len(t) // some fonts misstate it; the table bounds still hold
	}
	t = t[:length]
	segX2 := int(u16(t[6:]))
	if segX2%2 != 0 || 16+4*segX2 > len(t) {
		return cmap{}, errorf("cmap format 4: %d segments cut off", segX2/2)
	}
	c := cmap{sub: t, numGlyphs: numGlyphs}
	rangesAt := 16 + 3*segX2
	for i := 0; i < segX2/2; i++ {
		hi, lo := rune(u16(t[14+2*i:])), rune(u16(t[16+segX2+2*i:]))
		delta, ro := u16(t[16+2*segX2+2*i:]), int(u16(t[rangesAt+2*i:]))
		if hi == 0xFFFF {
			if lo == 0xFFFF {
				continue // the closing segment
			}
			hi = 0xFFFE
		}
		if lo > hi {
			continue
		}
		if n := len(c.segs); n > 0 && lo <= c.segs[n-1].hi {
			return cmap{}, errorf("cmap format 4: segment %d (%#x-%#x) overlaps or precedes the one before", i, lo, hi)
		}
		s := cmapSeg{lo: lo, hi: hi, delta: delta}
		if ro != 0 {
			s.ro = rangesAt + 2*i + ro
			if s.ro+2*int(hi-lo)+2 > len(t) {
				return cmap{}, errorf("cmap format 4: segment %d points outside the table", i)
			}
		}
		c.segs = append(c.segs, s)
	}
	if c.segs == nil {
		c.segs = []cmapSeg{}
	}
	return c, nil
}

func parseCmap12(t []byte, numGlyphs int) (cmap, error) {
	if len(t) < 16 {
		return cmap{}, errorf("cmap format 12 subtable cut off")
	}
	n := int(u32(t[12:]))
	if n > maxCmapGroups || 16+12*n > len(t) {
		return cmap{}, errorf("cmap format 12: %d groups cut off", n)
	}
	var gs []cmapGroup
	for i := range n {
		e := t[16+12*i:]
		lo, hi, g := rune(u32(e)), rune(u32(e[4:])), u32(e[8:])
		if lo > hi || hi > 0x10FFFF || (len(gs) > 0 && lo <= gs[len(gs)-1].hi) {
			return cmap{}, errorf("cmap format 12: group %d (%#x-%#x) out of order or range", i, lo, hi)
		}
		if uint64(g)+uint64(hi-lo) >= uint64(numGlyphs) {
			return cmap{}, errorf("cmap format 12: group %d maps beyond the %d glyphs", i, numGlyphs)
		}
		gs = append(gs, cmapGroup{lo, hi, g})
	}
	return cmap{groups: gs, numGlyphs: numGlyphs}, nil
}

// parseNames reads the family (ID 16, else 1) and full name (ID 4),
// preferring the Windows Unicode English records.
func parseNames(t []byte) (family, full string) {
	if len(t) < 6 {
		return "", ""
	}
	n, strOff := int(u16(t[2:])), int(u16(t[4:]))
	get := func(want uint16) string {
		best, bestRank := "", 0
		for i := range n {
			if 6+12*(i+1) > len(t) {
				break
			}
			e := t[6+12*i:]
			pid, eid, lang, id := u16(e), u16(e[2:]), u16(e[4:]), u16(e[6:])
			l, o := int(u16(e[8:])), int(u16(e[10:]))
			if id != want || strOff+o+l > len(t) {
				continue
			}
			raw := t[strOff+o : strOff+o+l]
			var s string
			rank := 0
			switch {
			case pid == 3 && (eid == 1 || eid == 10):
				s = utf16BE(raw)
				rank = 2
				if lang == 0x409 {
					rank = 3
				}
			case pid == 0:
				s, rank = utf16BE(raw), 1
			case pid == 1 && eid == 0:
				s, rank = string(raw), 1 // Mac Roman: ASCII names
			}
			if rank > bestRank && s != "" {
				best, bestRank = s, rank
			}
		}
		return best
	}
	family = get(16)
	if family == "" {
		family = get(1)
	}
	return family, get(4)
}

func utf16BE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = u16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func u16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func i16(b []byte) int16  { return int16(binary.BigEndian.Uint16(b)) }
func u32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
