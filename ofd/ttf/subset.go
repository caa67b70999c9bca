package ttf

import (
	"encoding/binary"
	"sort"
)

// Tables copied as they are into a subset: the hinting programs the
// glyphs' instructions call (cvt, fpgm, prep), the grid-fitting ranges
// (gasp) and the names (copyright, licence, family). Layout tables (GSUB,
// GPOS, kern...) and vertical metrics are left out: documents place every
// glyph themselves.
var keptAsIs = []string{"cvt ", "fpgm", "prep", "gasp", "name"}

// Subset writes a TrueType font of .notdef, the glyphs of the given
// characters that the font has (characters it lacks are left out) and the
// glyphs composite ones are built of. Glyphs keep their outlines,
// instructions and metrics unchanged; they are renumbered in the order of
// the characters, so the character map is a few ranges. The result is a
// function of the set of characters, whatever their order or repetitions.
func (f *Font) Subset(runes []rune) ([]byte, error) {
	rs := append([]rune(nil), runes...)
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	newOf := map[uint16]uint16{0: 0}
	order := []uint16{0}
	type mapping struct {
		r rune
		g uint16
	}
	var cm []mapping
	for i, r := range rs {
		if i > 0 && rs[i-1] == r {
			continue
		}
		old, ok := f.GlyphIndex(r)
		if !ok {
			continue
		}
		n, seen := newOf[old]
		if !seen {
			n = uint16(len(order))
			newOf[old] = n
			order = append(order, old)
		}
		cm = append(cm, mapping{r, n})
	}
	// The glyphs composite glyphs use, transitively.
	for i := 0; i < len(order); i++ {
		comps, _, err := components(f.glyph(order[i]))
		if err != nil {
			return nil, errorf("glyph %d: %v", order[i], err)
		}
		for _, c := range comps {
			if int(c) >= f.numGlyphs {
				return nil, errorf("glyph %d uses glyph %d of %d", order[i], c, f.numGlyphs)
			}
			if _, seen := newOf[c]; !seen {
				newOf[c] = uint16(len(order))
				order = append(order, c)
			}
		}
	}
	n := len(order)

	// glyf and loca (long offsets), each glyph 4-byte aligned.
	var glyf []byte
	loca := make([]byte, 4*(n+1))
	hmtx := make([]byte, 4*n)
	maxAdv := uint16(0)
	for i, old := range order {
		binary.BigEndian.PutUint32(loca[4*i:], uint32(len(glyf)))
		d := f.glyph(old)
		start := len(glyf)
		glyf = append(glyf, d...)
		if _, at, _ := components(d); len(at) > 0 {
			for _, p := range at {
				binary.BigEndian.PutUint16(glyf[start+p:], newOf[u16(d[p:])])
			}
		}
		for len(glyf)%4 != 0 {
			glyf = append(glyf, 0)
		}
		binary.BigEndian.PutUint16(hmtx[4*i:], f.adv[old])
		binary.BigEndian.PutUint16(hmtx[4*i+2:], uint16(f.lsb[old]))
		maxAdv = max(maxAdv, f.adv[old])
	}
	binary.BigEndian.PutUint32(loca[4*n:], uint32(len(glyf)))

	cmapT, err := buildCmap(func(yield func(rune, uint16) bool) {
		for _, m := range cm {
			if !yield(m.r, m.g) {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}

	tables := map[string][]byte{
		"glyf": glyf,
		"loca": loca,
		"hmtx": hmtx,
		"cmap": cmapT,
	}
	head := append([]byte(nil), f.tables["head"][:54]...)
	put32(head[8:], 0)  // checkSumAdjustment, set below
	put16(head[50:], 1) // long loca
	tables["head"] = head

	hhea := append([]byte(nil), f.tables["hhea"][:36]...)
	put16(hhea[10:], maxAdv)
	put16(hhea[34:], uint16(n))
	tables["hhea"] = hhea

	mp := f.tables["maxp"]
	maxp := append([]byte(nil), mp...)
	if len(maxp) > 32 {
		maxp = maxp[:32]
	}
	put16(maxp[4:], uint16(n))
	tables["maxp"] = maxp

	post := make([]byte, 32)
	copy(post, f.tables["post"])
	put32(post, 0x00030000) // no glyph names
	tables["post"] = post

	if os2 := f.tables["OS/2"]; len(os2) >= 68 {
		o := append([]byte(nil), os2...)
		first, last := uint16(0xFFFF), uint16(0)
		for _, m := range cm {
			first = min(first, uint16(min(m.r, 0xFFFF)))
			last = max(last, uint16(min(m.r, 0xFFFF)))
		}
		if len(cm) == 0 {
			first, last = 0, 0
		}
		put16(o[64:], first)
		put16(o[66:], last)
		tables["OS/2"] = o
	}
	for _, t := range keptAsIs {
		if d, ok := f.tables[t]; ok {
			tables[t] = d
		}
	}
	return writeFont(tables), nil
}

// buildCmap writes a cmap table: format 4 (BMP) under Unicode BMP and
// Windows Unicode BMP, and format 12 under Unicode full and Windows
// Unicode full when a character lies beyond the BMP. pairs yields
// characters in increasing order.
func buildCmap(pairs func(yield func(rune, uint16) bool)) ([]byte, error) {
	type seg struct {
		lo, hi rune
		g      uint16 // glyph of lo
	}
	var segs []seg // runs of consecutive characters on consecutive glyphs
	wide := false
	for r, g := range pairs {
		if r > 0xFFFF {
			wide = true
		}
		if k := len(segs) - 1; k >= 0 && segs[k].hi+1 == r && rune(segs[k].g)+(r-segs[k].lo) == rune(g) {
			segs[k].hi = r
			continue
		}
		segs = append(segs, seg{r, r, g})
	}
	// Format 4: the BMP runs (0xFFFF excluded) and the closing segment.
	var bmp []seg
	for _, s := range segs {
		if s.lo >= 0xFFFF {
			break
		}
		if s.hi >= 0xFFFF {
			s.hi = 0xFFFE
		}
		bmp = append(bmp, s)
	}
	bmp = append(bmp, seg{0xFFFF, 0xFFFF, 0})
	nseg := len(bmp)
	f4len := 16 + 8*nseg
	if f4len > 0xFFFF {
		return nil, errorf("cmap: %d ranges of characters do not fit a format 4 subtable", nseg)
	}
	f4 := make([]byte, f4len)
	put16(f4[0:], 4)
	put16(f4[2:], uint16(f4len))
	put16(f4[6:], uint16(2*nseg))
	sr, es := 1, 0
	for sr*2 <= nseg {
		sr, es = sr*2, es+1
	}
	put16(f4[8:], uint16(2*sr))
	put16(f4[10:], uint16(es))
	put16(f4[12:], uint16(2*(nseg-sr)))
	for i, s := range bmp {
		put16(f4[14+2*i:], uint16(s.hi))
		put16(f4[16+2*nseg+2*i:], uint16(s.lo))
		delta := uint16(int(s.g) - int(s.lo)) // modulo 65536
		if s.lo == 0xFFFF {
			delta = 1 // 0xFFFF maps to glyph 0
		}
		put16(f4[16+4*nseg+2*i:], delta)
		// idRangeOffset stays 0: every segment is a run.
	}
	type rec struct {
		pid, eid uint16
		sub      int
	}
	subs := [][]byte{f4}
	recs := []rec{{0, 3, 0}, {3, 1, 0}}
	if wide {
		f12 := make([]byte, 16+12*len(segs))
		put16(f12[0:], 12)
		put32(f12[4:], uint32(len(f12)))
		put32(f12[12:], uint32(len(segs)))
		for i, s := range segs {
			put32(f12[16+12*i:], uint32(s.lo))
			put32(f12[20+12*i:], uint32(s.hi))
			put32(f12[24+12*i:], uint32(s.g))
		}
		subs = append(subs, f12)
		recs = []rec{{0, 3, 0}, {0, 4, 1}, {3, 1, 0}, {3, 10, 1}}
	}
	out := make([]byte, 4+8*len(recs))
	put16(out[2:], uint16(len(recs)))
	offs := make([]int, len(subs))
	for i, s := range subs {
		offs[i] = len(out)
		out = append(out, s...)
	}
	for i, r := range recs {
		put16(out[4+8*i:], r.pid)
		put16(out[6+8*i:], r.eid)
		put32(out[8+8*i:], uint32(offs[r.sub]))
	}
	return out, nil
}

// writeFont lays out an sfnt file: the table directory sorted by tag,
// each table 4-byte aligned with its checksum, and head's
// checkSumAdjustment.
func writeFont(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := len(tags)
	hdr := 12 + 16*n
	size := hdr
	for _, t := range tags {
		size += (len(tables[t]) + 3) &^ 3
	}
	out := make([]byte, hdr, size)
	put32(out, 0x00010000)
	put16(out[4:], uint16(n))
	sr, es := 1, 0
	for sr*2 <= n {
		sr, es = sr*2, es+1
	}
	put16(out[6:], uint16(16*sr))
	put16(out[8:], uint16(es))
	put16(out[10:], uint16(16*(n-sr)))
	headAt := -1
	for i, t := range tags {
		d := tables[t]
		e := out[12+16*i:]
		copy(e, t)
		put32(e[4:], checksum(d))
		put32(e[8:], uint32(len(out)))
		put32(e[12:], uint32(len(d)))
		if t == "head" {
			headAt = len(out)
		}
		out = append(out, d...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	if headAt >= 0 {
		put32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	}
	return out
}

func checksum(b []byte) uint32 {
	var s uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		s += binary.BigEndian.Uint32(w[:])
	}
	return s
}

func put16(b []byte, v uint16) { binary.BigEndian.PutUint16(b, v) }
func put32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }
