// Package render draws a page of an OFD document as SVG or PNG: text at
// the positions the document fixes (X, Y, DeltaX), paths, images and the
// pictures of the seals at their StampAnnot boxes.
//
// A font the document carries (OFD FontFile) draws its text in both: the
// SVG declares it as a web font (@font-face with the file as a data: URL,
// which browsers load even in an <img>), PNG reads its outlines. Both then
// draw the page as every reader that uses the embedded font does.
//
// Text in fonts referenced by name: SVG writes <text> in the families
// "宋体, SimSun, Noto Serif CJK SC, serif" (黑体 likewise, sans-serif) and
// the viewer substitutes; PNG is rasterized in pure Go (golang.org/x/image)
// with a CJK font found at run time (Noto CJK, WenQuanYi, AR PL, Songti,
// SimSun, or $BAOHAN_CJK_FONT), else the font this module embeds
// (ofd/ttf), its glyphs fitted to the slots the document fixes.
package render

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// Page is what a renderer needs of one page: the document, the page and
// the stamps that fall on it.
type Page struct {
	Doc    *ofd.Document
	Page   *ofd.Page
	Index  int
	Stamps []ses.Appearance
}

// Load opens a document and selects a page (0-based).
func Load(doc []byte, index int) (*Page, error) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, err
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		return nil, err
	}
	return PageOf(d, index)
}

// PageOf selects a page of a read document.
func PageOf(d *ofd.Document, index int) (*Page, error) {
	if index < 0 || index >= len(d.Pages) {
		return nil, fmt.Errorf("render: page %d does not exist (the document has %d)", index+1, len(d.Pages))
	}
	p := &Page{Doc: d, Page: d.Pages[index], Index: index}
	for _, a := range ses.Appearances(d.Package) {
		if a.PageID == p.Page.ID {
			p.Stamps = append(p.Stamps, a)
		}
	}
	return p, nil
}

// FontFamily is the CSS font-family for an OFD font name.
func FontFamily(f *ofd.Font) string {
	name := ""
	if f != nil {
		name = f.Family
		if name == "" {
			name = f.Name
		}
	}
	switch {
	case strings.Contains(name, "黑") || strings.EqualFold(name, "SimHei"):
		return "黑体, SimHei, Noto Sans CJK SC, sans-serif"
	case strings.Contains(name, "楷") || strings.EqualFold(name, "KaiTi"):
		return "楷体, KaiTi, AR PL UKai CN, serif"
	case strings.Contains(name, "仿宋") || strings.EqualFold(name, "FangSong"):
		return "仿宋, FangSong, Noto Serif CJK SC, serif"
	case name == "" || strings.Contains(name, "宋") || strings.EqualFold(name, "SimSun"):
		return "宋体, SimSun, Noto Serif CJK SC, serif"
	case strings.Contains(strings.ToLower(name), "hei") || strings.Contains(strings.ToLower(name), "sans"):
		return name + ", 黑体, SimHei, Noto Sans CJK SC, sans-serif" // WenQuanYi Micro Hei, Noto Sans...
	}
	return name + ", 宋体, SimSun, Noto Serif CJK SC, serif"
}

func sans(f *ofd.Font) bool { return strings.Contains(FontFamily(f), "sans-serif") }

// SVG renders a page (0-based) of a document.
func SVG(doc []byte, index int) ([]byte, error) {
	p, err := Load(doc, index)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := p.WriteSVG(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func num(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) }

func rgb(c ofd.Color) string { return fmt.Sprintf("rgb(%d,%d,%d)", c.R, c.G, c.B) }

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func matrix(m ofd.Matrix) string {
	return "matrix(" + num(m[0]) + " " + num(m[1]) + " " + num(m[2]) + " " + num(m[3]) + " " + num(m[4]) + " " + num(m[5]) + ")"
}

// WriteSVG writes the page as an SVG document in millimetres.
func (p *Page) WriteSVG(w io.Writer) error {
	box := p.Page.Box
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="%smm" height="%smm" viewBox="%s %s %s %s">`+"\n",
		num(box.W), num(box.H), num(box.X), num(box.Y), num(box.W), num(box.H))
	p.writeFontFaces(&b)
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="#fff"/>`+"\n", num(box.X), num(box.Y), num(box.W), num(box.H))
	for _, o := range p.Page.Objects {
		switch o := o.(type) {
		case *ofd.TextObject:
			p.svgText(&b, o)
		case *ofd.PathObject:
			segs, err := parsePath(o.Data)
			if err != nil {
				fmt.Fprintf(&b, "<!-- PathObject %d: %s -->\n", o.ID, esc(err.Error()))
				continue
			}
			tr := "translate(" + num(o.Boundary.X) + " " + num(o.Boundary.Y) + ")"
			if o.CTM != nil {
				tr += " " + matrix(*o.CTM)
			}
			fill, stroke := "none", "none"
			if o.Fill {
				fill = rgb(o.FillColor)
			}
			if o.Stroke {
				stroke = rgb(o.StrokeColor)
			}
			fmt.Fprintf(&b, `<path transform="%s" d="%s" fill="%s" stroke="%s" stroke-width="%s"/>`+"\n", tr, svgPath(segs), fill, stroke, num(o.LineWidth))
		case *ofd.ImageObject:
			data, m, ok := p.Doc.MediaData(o.ResourceID)
			if !ok {
				fmt.Fprintf(&b, "<!-- ImageObject %d: resource %d missing -->\n", o.ID, o.ResourceID)
				continue
			}
			tr := "translate(" + num(o.Boundary.X) + " " + num(o.Boundary.Y) + ") " + matrix(o.CTM)
			fmt.Fprintf(&b, `<image transform="%s" x="0" y="0" width="1" height="1" preserveAspectRatio="none" xlink:href="data:%s;base64,%s"/>`+"\n",
				tr, mimeType(m.Format, data), base64.StdEncoding.EncodeToString(data))
		}
	}
	for _, s := range p.Stamps {
		fmt.Fprintf(&b, `<image x="%s" y="%s" width="%s" height="%s" preserveAspectRatio="none" xlink:href="data:%s;base64,%s"/>`+"\n",
			num(s.Box.X), num(s.Box.Y), num(s.Box.W), num(s.Box.H), mimeType(s.PictureType, s.Picture), base64.StdEncoding.EncodeToString(s.Picture))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// embeddedFamily is the CSS family of a font the document carries.
func embeddedFamily(id uint64) string { return fmt.Sprintf("ofd-font-%d", id) }

// writeFontFaces declares the fonts carried in the document that the
// page's text uses as web fonts.
func (p *Page) writeFontFaces(b *strings.Builder) {
	seen := map[uint64]bool{}
	var faces []string
	for _, o := range p.Page.Objects {
		t, ok := o.(*ofd.TextObject)
		if !ok || seen[t.Font] {
			continue
		}
		seen[t.Font] = true
		data, _, ok := p.Doc.FontData(t.Font)
		if !ok || len(data) < 4 {
			continue
		}
		format, mime := "truetype", "font/ttf"
		if string(data[:4]) == "OTTO" {
			format, mime = "opentype", "font/otf"
		}
		faces = append(faces, fmt.Sprintf(`@font-face{font-family:"%s";src:url(data:%s;base64,%s) format("%s");}`,
			embeddedFamily(t.Font), mime, base64.StdEncoding.EncodeToString(data), format))
	}
	if len(faces) > 0 {
		b.WriteString("<defs><style><![CDATA[" + strings.Join(faces, "\n") + "]]></style></defs>\n")
	}
}

func (p *Page) svgText(b *strings.Builder, o *ofd.TextObject) {
	font := p.Doc.Fonts[o.Font]
	family := FontFamily(font)
	if _, _, ok := p.Doc.FontData(o.Font); ok {
		family = "'" + embeddedFamily(o.Font) + "', " + family
	}
	weight := ""
	if o.Bold {
		weight = ` font-weight="bold"`
	}
	tr := "translate(" + num(o.Boundary.X) + " " + num(o.Boundary.Y) + ")"
	if o.CTM != nil {
		tr += " " + matrix(*o.CTM)
	}
	fmt.Fprintf(b, `<g transform="%s" font-family="%s" font-size="%s" fill="%s"%s>`, tr, esc(family), num(o.Size), rgb(o.Color), weight)
	for _, c := range o.Codes {
		xs, ys := positions(c)
		var xl, yl []string
		for i := range xs {
			xl = append(xl, num(xs[i]))
			yl = append(yl, num(ys[i]))
		}
		yattr := strings.Join(yl, " ")
		if len(c.DeltaY) == 0 && len(yl) > 0 {
			yattr = yl[0] // one baseline
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" xml:space="preserve">%s</text>`, strings.Join(xl, " "), yattr, esc(c.Text))
	}
	b.WriteString("</g>\n")
}

// positions are the origins of each character of a TextCode, relative to
// the object's boundary.
func positions(c ofd.TextCode) (xs, ys []float64) {
	x, y := c.X, c.Y
	for i := range []rune(c.Text) {
		if i > 0 {
			if i-1 < len(c.DeltaX) {
				x += c.DeltaX[i-1]
			}
			if i-1 < len(c.DeltaY) {
				y += c.DeltaY[i-1]
			}
		}
		xs = append(xs, x)
		ys = append(ys, y)
	}
	return xs, ys
}

func mimeType(format string, data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		return "image/png"
	case bytes.HasPrefix(data, []byte{0xff, 0xd8}):
		return "image/jpeg"
	case bytes.HasPrefix(data, []byte("GIF8")):
		return "image/gif"
	case bytes.HasPrefix(data, []byte("BM")):
		return "image/bmp"
	}
	return "image/" + strings.ToLower(format)
}
