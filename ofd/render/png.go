package render

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif"  // images in documents
	_ "image/jpeg" // images in documents
	"image/png"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
	"golang.org/x/image/vector"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/internal/glyph"
)

// ErrNoFont was returned by PNG when no CJK font was installed; the
// embedded font now stands in, so PNG returns it only when even that
// cannot be read.
var ErrNoFont = glyph.ErrNoFont

// DefaultDPI is the PNG resolution when none is given.
const DefaultDPI = 150

// maxPixels bounds the size of a rendered page.
const maxPixels = 60_000_000

// PNG renders a page (0-based) of a document at dpi (DefaultDPI when 0).
func PNG(doc []byte, index int, dpi float64) ([]byte, error) {
	p, err := Load(doc, index)
	if err != nil {
		return nil, err
	}
	img, err := p.Image(dpi)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Image rasterizes the page.
func (p *Page) Image(dpi float64) (*image.RGBA, error) {
	if dpi <= 0 {
		dpi = DefaultDPI
	}
	box := p.Page.Box
	s := dpi / 25.4
	w, h := int(math.Ceil(box.W*s)), int(math.Ceil(box.H*s))
	if w <= 0 || h <= 0 || w*h > maxPixels {
		return nil, fmt.Errorf("render: page of %v×%v mm at %v dpi is too large", box.W, box.H, dpi)
	}
	r := &raster{dst: image.NewRGBA(image.Rect(0, 0, w, h)), s: s, ox: box.X, oy: box.Y, doc: p.Doc, faces: map[uint64]*glyph.Face{}}
	draw.Draw(r.dst, r.dst.Bounds(), image.White, image.Point{}, draw.Src)
	for _, o := range p.Page.Objects {
		var err error
		switch o := o.(type) {
		case *ofd.TextObject:
			err = r.text(o)
		case *ofd.PathObject:
			r.path(o)
		case *ofd.ImageObject:
			data, _, ok := p.Doc.MediaData(o.ResourceID)
			if ok {
				r.image(data, ofd.Matrix{o.CTM[0], o.CTM[1], o.CTM[2], o.CTM[3], o.CTM[4] + o.Boundary.X, o.CTM[5] + o.Boundary.Y})
			}
		}
		if err != nil {
			return nil, err
		}
	}
	for _, st := range p.Stamps {
		r.stamp(st.Picture, st.Box)
	}
	return r.dst, nil
}

type raster struct {
	dst    *image.RGBA
	s      float64 // pixels per millimetre
	ox, oy float64 // page box origin
	doc    *ofd.Document
	z      vector.Rasterizer
	faces  map[uint64]*glyph.Face // fonts carried in the document, by font ID (nil: unreadable)
}

// embeddedFace is the font file a document carries for a font resource,
// nil when it carries none or it cannot be read.
func (r *raster) embeddedFace(id uint64) *glyph.Face {
	if f, ok := r.faces[id]; ok {
		return f
	}
	var face *glyph.Face
	if data, font, ok := r.doc.FontData(id); ok {
		face, _ = glyph.FontFile(font.Embedded, data)
	}
	r.faces[id] = face
	return face
}

// px maps page millimetres to pixels, clamped far outside the page (and
// NaN to it) so that hostile coordinates cannot overflow the rasterizer.
func (r *raster) px(x, y float64) (float64, float64) {
	return clampPx((x - r.ox) * r.s), clampPx((y - r.oy) * r.s)
}

const pxLimit = 1 << 16

func clampPx(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v > pxLimit:
		return pxLimit
	case v < -pxLimit:
		return -pxLimit
	}
	return v
}

// begin resets the rasterizer to the page, restricted to bounds (in
// pixels), and returns the offset to subtract from coordinates.
func (r *raster) begin(bounds image.Rectangle) (image.Rectangle, float64, float64) {
	bounds = bounds.Intersect(r.dst.Bounds())
	if bounds.Empty() {
		return bounds, 0, 0
	}
	r.z.Reset(bounds.Dx(), bounds.Dy())
	return bounds, float64(bounds.Min.X), float64(bounds.Min.Y)
}

func (r *raster) draw(bounds image.Rectangle, c ofd.Color) {
	if bounds.Empty() {
		return
	}
	r.z.Draw(r.dst, bounds, image.NewUniform(color.RGBA{c.R, c.G, c.B, 0xff}), bounds.Min)
}

func (r *raster) text(o *ofd.TextObject) error {
	font := r.doc.Fonts[o.Font]
	kind := glyph.Serif
	if sans(font) {
		kind = glyph.Sans
	}
	// The font the document carries draws its text; characters it lacks
	// (and text in fonts referenced by name) are drawn with an installed
	// CJK font, else the embedded one, fitted to their slots.
	own := r.embeddedFace(o.Font)
	var fallback *glyph.Face
	fallbackFace := func() (*glyph.Face, error) {
		if fallback == nil {
			f, err := glyph.Find(kind)
			if err != nil {
				return nil, fmt.Errorf("render: PNG needs a CJK font: %w", err)
			}
			fallback = f
		}
		return fallback, nil
	}
	if own == nil {
		if _, err := fallbackFace(); err != nil {
			return err
		}
	}
	m := ofd.Identity
	if o.CTM != nil {
		m = *o.CTM
	}
	// Glyph space is pixels at the font size; scale it to the CTM.
	scale := math.Sqrt(math.Abs(m[0]*m[3] - m[1]*m[2]))
	size := o.Size * r.s
	if size < 0.5 || size*scale > 2000 {
		return nil
	}
	for _, c := range o.Codes {
		xs, ys := positions(c)
		runes := []rune(c.Text)
		// Bounds of this run, generously.
		minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for i := range runes {
			x, y := m.Apply(xs[i], ys[i])
			px, py := r.px(x+o.Boundary.X, y+o.Boundary.Y)
			minX, maxX = math.Min(minX, px-2*size*scale), math.Max(maxX, px+2*size*scale)
			minY, maxY = math.Min(minY, py-2*size*scale), math.Max(maxY, py+2*size*scale)
		}
		if len(runes) == 0 {
			continue
		}
		bounds, bx, by := r.begin(image.Rect(int(minX), int(minY), int(maxX)+1, int(maxY)+1))
		if bounds.Empty() {
			continue
		}
		drawn := false
		for i, ch := range runes {
			x, y := m.Apply(xs[i], ys[i])
			px, py := r.px(x+o.Boundary.X, y+o.Boundary.Y)
			face := own
			if face == nil || !face.Has(ch) {
				f, err := fallbackFace()
				if err != nil {
					return err
				}
				face = f
			}
			// The document fixes each character's slot (DeltaX); its own
			// font's glyphs fit theirs. A substitute font's wider glyph (Latin in Noto CJK is
			// proportional, 宋体's half-width) is condensed into its slot
			// rather than overlapping the next one.
			slot := ofd.Advance(ch, o.Size)
			if i < len(c.DeltaX) {
				slot = c.DeltaX[i]
			}
			hs := 1.0
			if face != own {
				if adv := face.Advance(ch, size); adv > 0 && slot > 0 && adv > slot*r.s*1.02 {
					hs = slot * r.s / adv
				}
			}
			a := glyph.Affine{A: m[0] * hs, B: m[1] * hs, C: m[2], D: m[3], E: px - bx, F: py - by}
			if face.Draw(&r.z, ch, size, a) {
				drawn = true
			}
			if o.Bold {
				a.E += size * 0.04
				face.Draw(&r.z, ch, size, a)
			}
		}
		if drawn {
			r.draw(bounds, o.Color)
		}
	}
	return nil
}

func (r *raster) path(o *ofd.PathObject) {
	segs, err := parsePath(o.Data)
	if err != nil {
		return
	}
	lines, _ := flatten(segs)
	if len(lines) == 0 {
		return
	}
	m := ofd.Identity
	if o.CTM != nil {
		m = *o.CTM
	}
	pts := make([][][2]float64, len(lines))
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	lw := math.Max(o.LineWidth*r.s, 1)
	for i, l := range lines {
		for _, p := range l {
			x, y := m.Apply(p[0], p[1])
			px, py := r.px(x+o.Boundary.X, y+o.Boundary.Y)
			pts[i] = append(pts[i], [2]float64{px, py})
			minX, maxX = math.Min(minX, px-lw), math.Max(maxX, px+lw)
			minY, maxY = math.Min(minY, py-lw), math.Max(maxY, py+lw)
		}
	}
	region := image.Rect(int(math.Floor(minX)), int(math.Floor(minY)), int(math.Ceil(maxX))+1, int(math.Ceil(maxY))+1)
	if o.Fill {
		bounds, bx, by := r.begin(region)
		if !bounds.Empty() {
			for _, l := range pts {
				r.z.MoveTo(float32(l[0][0]-bx), float32(l[0][1]-by))
				for _, p := range l[1:] {
					r.z.LineTo(float32(p[0]-bx), float32(p[1]-by))
				}
				r.z.ClosePath()
			}
			r.draw(bounds, o.FillColor)
		}
	}
	if o.Stroke {
		bounds, bx, by := r.begin(region)
		if bounds.Empty() {
			return
		}
		for _, l := range pts {
			for k := 0; k+1 < len(l); k++ {
				strokeSegment(&r.z, l[k][0]-bx, l[k][1]-by, l[k+1][0]-bx, l[k+1][1]-by, lw)
			}
		}
		r.draw(bounds, o.StrokeColor)
	}
}

// strokeSegment adds a line segment of width w with square caps (which
// also fill the corners where segments meet). All quads wind the same way,
// so overlaps add up under the rasterizer's non-zero rule.
func strokeSegment(z *vector.Rasterizer, x0, y0, x1, y1, w float64) {
	dx, dy := x1-x0, y1-y0
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	ux, uy := dx/l*w/2, dy/l*w/2 // along, half width
	nx, ny := -uy, ux            // normal
	x0, y0, x1, y1 = x0-ux, y0-uy, x1+ux, y1+uy
	z.MoveTo(float32(x0+nx), float32(y0+ny))
	z.LineTo(float32(x1+nx), float32(y1+ny))
	z.LineTo(float32(x1-nx), float32(y1-ny))
	z.LineTo(float32(x0-nx), float32(y0-ny))
	z.ClosePath()
}

// image draws encoded image data with the unit square mapped by m (page
// millimetres).
func (r *raster) image(data []byte, m ofd.Matrix) {
	// A small file can declare a huge image: check before decoding.
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels/2 {
		return
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return
	}
	b := src.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	if w == 0 || h == 0 {
		return
	}
	s := r.s
	// dst = s·(m·(u/w, v/h) − origin)
	aff := f64.Aff3{
		m[0] * s / w, m[2] * s / h, (m[4] - r.ox) * s,
		m[1] * s / w, m[3] * s / h, (m[5] - r.oy) * s,
	}
	// Pixel coordinates of the source start at b.Min.
	aff[2] -= aff[0]*float64(b.Min.X) + aff[1]*float64(b.Min.Y)
	aff[5] -= aff[3]*float64(b.Min.X) + aff[4]*float64(b.Min.Y)
	xdraw.CatmullRom.Transform(r.dst, aff, src, b, xdraw.Over, nil)
}

// stamp draws a seal picture over box as ink does: multiplied with what
// is under it, so that the text beneath a red seal stays readable.
func (r *raster) stamp(data []byte, box ofd.Box) {
	x0, y0 := r.px(box.X, box.Y)
	x1, y1 := r.px(box.X+box.W, box.Y+box.H)
	region := image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1))).Intersect(r.dst.Bounds())
	if region.Empty() {
		return
	}
	layer := &raster{dst: image.NewRGBA(region), s: r.s, ox: r.ox, oy: r.oy}
	layer.image(data, ofd.Matrix{box.W, 0, 0, box.H, box.X, box.Y})
	for y := region.Min.Y; y < region.Max.Y; y++ {
		for x := region.Min.X; x < region.Max.X; x++ {
			si := layer.dst.PixOffset(x, y)
			a := uint32(layer.dst.Pix[si+3])
			if a == 0 {
				continue
			}
			di := r.dst.PixOffset(x, y)
			for k := 0; k < 3; k++ {
				// Premultiplied source: ink = 255 − a + src.
				ink := 255 - a + uint32(layer.dst.Pix[si+k])
				r.dst.Pix[di+k] = uint8(uint32(r.dst.Pix[di+k]) * ink / 255)
			}
		}
	}
}
