package ofd

import (
	"math"
	"strings"
)

// PageBuilder draws on one page. Coordinates are millimetres from the top
// left of the page.
type PageBuilder struct {
	b       *Builder
	index   int
	id      uint64
	layer   uint64
	box     Box
	objects []any
}

// ID is the page's object ID (what a StampAnnot's PageRef names).
func (p *PageBuilder) ID() uint64 { return p.id }

// Index is the page's position in the document, from 0.
func (p *PageBuilder) Index() int { return p.index }

// Box is the page's physical box.
func (p *PageBuilder) Box() Box { return p.box }

// Align places a line of text in its box.
type Align int

// Alignments.
const (
	Left Align = iota
	Center
	Right
)

// TextStyle is how text is drawn.
type TextStyle struct {
	Font  FontID
	Size  float64 // font size in mm (五号 10.5 pt ≈ 3.7 mm, 小四 12 pt ≈ 4.23 mm)
	Color Color   // zero value: black
	Bold  bool    // Weight 700
}

// ascent is where the baseline sits below the top of a line box, as a
// fraction of the font size: CJK fonts put the ideographic em box from
// 0.88 above to 0.12 below the baseline.
const ascent = 0.88

// Text draws one line of text with its top left corner at (x, y) and
// returns its box. Glyph positions are fixed by DeltaX: the advances of an
// embedded font (EmbedFont), else the Advance rule.
func (p *PageBuilder) Text(x, y float64, st TextStyle, s string) Box {
	return p.text(x, y, st, s, 0)
}

func (p *PageBuilder) text(x, y float64, st TextStyle, s string, extra float64) Box {
	if s == "" {
		return Box{x, y, 0, st.Size}
	}
	adv := p.b.advance(st.Font)
	p.b.use(st.Font, s)
	w := measure(adv, s, st.Size) + extra*float64(len([]rune(s))-1)
	box := Box{x, y, w + st.Size/2, st.Size * 1.2}
	t := &wText{
		ID:       p.b.id(),
		Boundary: box.String(),
		Font:     uint64(st.Font),
		Size:     Num(st.Size),
		TextCode: []wTextCode{{
			X:      "0",
			Y:      Num(st.Size * ascent),
			DeltaX: FormatDeltas(advances(adv, s, st.Size, extra)),
			Text:   s,
		}},
	}
	if st.Bold {
		t.Weight = "700"
	}
	if st.Color != Black {
		t.FillColor = &wColor{Value: st.Color.String()}
	}
	p.objects = append(p.objects, t)
	return Box{x, y, w, st.Size}
}

// TextIn draws one line aligned in the horizontal span [x, x+width].
func (p *PageBuilder) TextIn(x, y, width float64, st TextStyle, align Align, s string) Box {
	w := p.b.Measure(st, s)
	switch align {
	case Center:
		x += (width - w) / 2
	case Right:
		x += width - w
	}
	return p.Text(x, y, st, s)
}

// JustifyLine draws one line spread to width: the space left over is
// shared between the characters (a line wider than width, with hanging
// punctuation, is drawn as it is).
func (p *PageBuilder) JustifyLine(x, y, width float64, st TextStyle, s string) Box {
	extra := 0.0
	if n := len([]rune(s)); n > 1 {
		extra = (width - p.b.Measure(st, s)) / float64(n-1)
		if extra < 0 {
			extra = 0
		}
	}
	return p.text(x, y, st, s, extra)
}

// Paragraph wraps text to width (see Wrap) and draws it from (x, y), one
// line every lineHeight, the first line indented by indent. With justify,
// every line but the last of each paragraph is spread to the full width,
// as Chinese documents are set. It returns the y below the last line.
func (p *PageBuilder) Paragraph(x, y, width float64, st TextStyle, lineHeight, indent float64, justify bool, text string) float64 {
	for _, para := range strings.Split(text, "\n") {
		lines := p.b.Wrap(st, para, width, indent)
		for i, line := range lines {
			lx, lw := x, width
			if i == 0 {
				lx, lw = x+indent, width-indent
			}
			if justify && i < len(lines)-1 {
				p.JustifyLine(lx, y, lw, st, line)
			} else {
				p.Text(lx, y, st, line)
			}
			y += lineHeight
		}
		indent = 0
	}
	return y
}

// Line draws a straight line.
func (p *PageBuilder) Line(x1, y1, x2, y2, width float64, c Color) {
	h := width / 2
	bx := Box{math.Min(x1, x2) - h, math.Min(y1, y2) - h, math.Abs(x2-x1) + width, math.Abs(y2-y1) + width}
	data := "M " + Num(x1-bx.X) + " " + Num(y1-bx.Y) + " L " + Num(x2-bx.X) + " " + Num(y2-bx.Y)
	p.path(bx, data, width, &c, nil)
}

// Rect draws a rectangle, stroked with stroke and filled with fill when
// they are not nil.
func (p *PageBuilder) Rect(r Box, width float64, stroke, fill *Color) {
	h := width / 2
	bx := Box{r.X - h, r.Y - h, r.W + width, r.H + width}
	data := "M " + Num(h) + " " + Num(h) + " L " + Num(h+r.W) + " " + Num(h) +
		" L " + Num(h+r.W) + " " + Num(h+r.H) + " L " + Num(h) + " " + Num(h+r.H) + " C"
	p.path(bx, data, width, stroke, fill)
}

// Path draws path data (AbbreviatedData: M, L, Q, B, A, C) relative to
// the boundary's top left corner.
func (p *PageBuilder) Path(boundary Box, data string, width float64, stroke, fill *Color) {
	p.path(boundary, data, width, stroke, fill)
}

func (p *PageBuilder) path(bx Box, data string, width float64, stroke, fill *Color) {
	o := &wPath{ID: p.b.id(), Boundary: bx.String(), AbbreviatedData: data}
	if width > 0 {
		o.LineWidth = Num(width)
	}
	if stroke == nil {
		o.Stroke = "false"
	} else if *stroke != Black {
		o.StrokeColor = &wColor{Value: stroke.String()}
	}
	if fill != nil {
		o.Fill = "true"
		o.FillColor = &wColor{Value: fill.String()}
	}
	p.objects = append(p.objects, o)
}

// Image draws an image resource stretched over r.
func (p *PageBuilder) Image(id ImageID, r Box) {
	p.objects = append(p.objects, &wImage{
		ID:         p.b.id(),
		Boundary:   r.String(),
		CTM:        Matrix{r.W, 0, 0, r.H, 0, 0}.String(),
		ResourceID: uint64(id),
	})
}
