package guarantee

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"

	"golang.org/x/image/vector"

	"github.com/baohan-dev/baohan/ofd/internal/glyph"
)

// SealRed is the colour of seal pictures.
var SealRed = color.NRGBA{R: 0xd8, G: 0x1e, B: 0x06, A: 0xff}

// sealPx is the side of seal pictures in pixels (40 mm at about 250 dpi).
const sealPx = 400

// SealPicture draws a round organization seal as a PNG with a transparent
// background: a red ring, a five-pointed star in the middle, the name set
// around the upper arc and the subtitle (e.g. "保函专用章") in a band under
// the star, in an installed CJK font, else the embedded one (ofd/ttf).
// Were no font readable it would draw the ring and the star only; the seal
// is still valid, the picture is only its appearance. Pure Go.
func SealPicture(name, subtitle string) ([]byte, error) {
	face, _ := glyph.Find(glyph.Serif) // nil: ring and star only
	return sealPicture(name, subtitle, face)
}

func sealPicture(name, subtitle string, face *glyph.Face) ([]byte, error) {
	const n = sealPx
	c := float64(n) / 2
	var z vector.Rasterizer
	z.Reset(n, n)
	// The ring: outer circle one way, inner circle the other.
	outer, inner := c-6, c-22
	circle(&z, c, c, outer, false)
	circle(&z, c, c, inner, true)
	// The star.
	star(&z, c, c, 62, 0.382)
	if face != nil {
		r := []rune(name)
		if len(r) > 0 {
			// Characters upright along the arc, from lower left over the
			// top to lower right (about 250°), tops outwards.
			span := 250.0 * math.Pi / 180
			if len(r) < 8 {
				span = float64(len(r)) * 30 * math.Pi / 180
			}
			// Seal characters are condensed: narrower than they are tall.
			const condense = 0.78
			radius := inner - 7 // glyph tops just inside the ring
			size := 50.0
			if arc := radius * span / float64(len(r)) / condense * 0.92; arc < size {
				size = arc
			}
			for i, ch := range r {
				theta := -math.Pi/2 - span/2 + span*(float64(i)+0.5)/float64(len(r)) // 0 = right, clockwise in y-down
				// Glyph space: origin at baseline left; centre the glyph
				// horizontally (advance = size) and put its top
				// (≈0.88 em above the baseline) on the radius.
				ux, uy := math.Cos(theta), math.Sin(theta) // outward
				tx, ty := -uy, ux                          // tangent, reading direction
				// The glyph's centre (size/2, −0.38 size in glyph space:
				// the em box spans 0.88 above to 0.12 below the baseline)
				// goes half a size inside the radius; glyph x runs along
				// the tangent, glyph y (down) points inwards.
				gx, gy := c+ux*(radius-size/2), c+uy*(radius-size/2)
				a := glyph.Affine{A: tx * condense, B: ty * condense, C: -ux, D: -uy}
				a.E = gx - tx*condense*size/2 - ux*0.38*size
				a.F = gy - ty*condense*size/2 - uy*0.38*size
				face.Draw(&z, ch, size, a)
			}
		}
		if s := []rune(subtitle); len(s) > 0 {
			size := 36.0
			w := size * float64(len(s))
			if w > 2*inner*0.75 {
				size = 2 * inner * 0.75 / float64(len(s))
				w = size * float64(len(s))
			}
			x0 := c - w/2
			y := c + 62 + 12 + size*0.88
			for i, ch := range s {
				face.Draw(&z, ch, size, glyph.Translate(x0+float64(i)*size, y))
			}
		}
	}
	return encodeRed(&z, n)
}

// encodeRed paints the rasterized shape in seal red on a transparent
// background, as a paletted PNG (16 levels of coverage: small files).
func encodeRed(z *vector.Rasterizer, n int) ([]byte, error) {
	mask := image.NewAlpha(image.Rect(0, 0, n, n))
	z.Draw(mask, mask.Bounds(), image.Opaque, image.Point{})
	pal := make(color.Palette, 16)
	for i := range pal {
		a := uint8(i * 17)
		pal[i] = color.NRGBA{SealRed.R, SealRed.G, SealRed.B, a}
	}
	img := image.NewPaletted(mask.Bounds(), pal)
	for i, a := range mask.Pix {
		img.Pix[i] = uint8((int(a) + 8) / 17)
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SignaturePicture draws a square name seal for a party's signature (the
// bidder on the agreement): a red frame and the name in rows, read left
// to right (the font as for SealPicture).
func SignaturePicture(name string) ([]byte, error) {
	face, _ := glyph.Find(glyph.Serif)
	return signaturePicture(name, face)
}

func signaturePicture(name string, face *glyph.Face) ([]byte, error) {
	const n = 300
	var z vector.Rasterizer
	z.Reset(n, n)
	rect(&z, 8, 8, n-8, n-8, false)
	rect(&z, 22, 22, n-22, n-22, true)
	r := []rune(name)
	if face != nil && len(r) > 0 {
		rows := 1
		switch {
		case len(r) > 12:
			rows = 3
		case len(r) > 3:
			rows = 2
		}
		cols := (len(r) + rows - 1) / rows
		inner := float64(n - 2*36)
		h := inner / float64(rows)   // row height: the glyph size
		w := inner / float64(cols)   // column width
		size := math.Min(h, inner/2) // not taller than half the seal
		hs := math.Min(1, w/size)    // condense to the column
		top := float64(n)/2 - size*float64(rows)/2
		for i, ch := range r {
			row, col := i/cols, i%cols
			inRow := cols
			if row == rows-1 {
				inRow = len(r) - cols*(rows-1)
			}
			left := float64(n)/2 - w*float64(inRow)/2
			x := left + w*float64(col) + (w-size*hs)/2
			y := top + size*float64(row) + size*0.86
			face.Draw(&z, ch, size, glyph.Affine{A: hs, D: 1, E: x, F: y})
		}
	}
	return encodeRed(&z, n)
}

// circle adds a circle (counter-clockwise when reverse, which makes a hole
// inside a clockwise one under the non-zero rule).
func circle(z *vector.Rasterizer, cx, cy, r float64, reverse bool) {
	const steps = 180
	for i := 0; i <= steps; i++ {
		t := 2 * math.Pi * float64(i) / steps
		if reverse {
			t = -t
		}
		x, y := float32(cx+r*math.Cos(t)), float32(cy+r*math.Sin(t))
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
}

func rect(z *vector.Rasterizer, x0, y0, x1, y1 float32, reverse bool) {
	z.MoveTo(x0, y0)
	if reverse {
		z.LineTo(x0, y1)
		z.LineTo(x1, y1)
		z.LineTo(x1, y0)
	} else {
		z.LineTo(x1, y0)
		z.LineTo(x1, y1)
		z.LineTo(x0, y1)
	}
	z.ClosePath()
}

// star adds a five-pointed star pointing up, inner radius ratio k.
func star(z *vector.Rasterizer, cx, cy, r, k float64) {
	for i := 0; i < 10; i++ {
		rad := r
		if i%2 == 1 {
			rad = r * k
		}
		t := -math.Pi/2 + float64(i)*math.Pi/5
		x, y := float32(cx+rad*math.Cos(t)), float32(cy+rad*math.Sin(t))
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
}
