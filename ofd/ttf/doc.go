// Package ttf reads TrueType fonts (glyf outlines) and cuts subsets of
// them, for documents that carry the glyphs they use (OFD FontFile), and
// embeds one font: Default, WenQuanYi Micro Hei cut to GBK (fonts/NOTICE,
// Apache License 2.0).
//
// Parse reads a font or a face of a collection: the table directory,
// head, hhea, maxp, hmtx, loca and cmap (format 4 or 12, the best Unicode
// subtable), names; every offset and count is checked against the file,
// so a hostile font inside a document is refused, never a panic or an
// unbounded allocation (FuzzParse). CFF (PostScript) outlines are refused.
//
// Subset writes a font of .notdef and the glyphs of a set of characters
// (and the components of composite glyphs): glyf and loca (long offsets)
// with the glyphs renumbered in character order, hmtx with every metric,
// a cmap of format 4 (and 12 beyond the BMP), head, hhea and maxp with
// the new counts, post version 3, OS/2 with the character range, and
// cvt, fpgm, prep, gasp and name as they were. Outlines, instructions and
// advances are those of the source, byte for byte; the result passes
// Chromium's font sanitizer (OTS) and parses with golang.org/x/image's
// sfnt, as the tests check.
//
// Characters outside a font have no glyph in it: Advance reports them,
// and the OFD writer gives them the width of the half- and full-width rule
// (ofd.Advance) so that they take a slot of their own and readers draw
// the font's .notdef box there (baohan's renderer draws them with an
// installed CJK font when there is one).
//
// The embedded file is made by internal/mkfont from Debian's
// fonts-wqy-microhei:
//
//	go run ./ofd/ttf/internal/mkfont -src /usr/share/fonts/truetype/wqy/wqy-microhei.ttc \
//	        -out ofd/ttf/fonts/WenQuanYiMicroHei-GBK.ttf
package ttf
