package guarantee

import (
	"fmt"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ttf"
)

// Page geometry and type sizes (millimetres). 五号 (10.5 pt) is 3.7 mm.
const (
	marginLeft   = 25.0
	marginRight  = 25.0
	marginTop    = 20.0
	marginBottom = 18.0
	contentWidth = 210 - marginLeft - marginRight

	titleSize = 7.0
	bodySize  = 3.7
	bodyLine  = 5.6
	cellSize  = 3.5
	cellLine  = 4.8
	smallSize = 3.0
	sealSize  = 40.0 // the stamp's box
)

var (
	gray      = ofd.Color{R: 0x66, G: 0x66, B: 0x66}
	labelFill = ofd.Color{R: 0xf2, G: 0xf2, B: 0xf2}
)

// flow lays text and tables down the pages of a document, adding pages
// as they fill. All text is set in the embedded font (ttf.Default), whose
// subset travels in the document, positioned by its own advances.
type flow struct {
	b    *ofd.Builder
	page *ofd.PageBuilder
	y    float64
	font ofd.FontID
}

func newFlow(b *ofd.Builder) *flow {
	f := &flow{b: b, font: documentFont(b)}
	f.newPage()
	return f
}

// documentFont declares the font the templates are set in.
func documentFont(b *ofd.Builder) ofd.FontID { return b.EmbedFont(ttf.Default()) }

func (f *flow) newPage() {
	f.page = f.b.AddPage()
	f.y = marginTop
}

// need starts a new page unless h millimetres fit on this one.
func (f *flow) need(h float64) {
	if f.y+h > 297-marginBottom {
		f.newPage()
	}
}

func (f *flow) body() ofd.TextStyle { return ofd.TextStyle{Font: f.font, Size: bodySize} }

func (f *flow) style(size float64) ofd.TextStyle { return ofd.TextStyle{Font: f.font, Size: size} }

// wrap breaks text into lines no wider than width. Where a closing mark
// (。，）) would hang past the end of a line, the text is wrapped again
// with room for it, so that lines, the mark included, end at width and
// never in the margin or over a table's rule.
func (f *flow) wrap(st ofd.TextStyle, text string, width, indent float64) []string {
	lines := f.b.Wrap(st, text, width, indent)
	for i, l := range lines {
		w := width
		if i == 0 {
			w -= indent
		}
		if f.b.Measure(st, l) > w+1e-9 {
			return f.b.Wrap(st, text, width-st.Size, indent)
		}
	}
	return lines
}

// para writes a justified paragraph with a first-line indent of two
// characters, breaking pages between lines.
func (f *flow) para(text string, indent float64) {
	st := f.body()
	lines := f.wrap(st, text, contentWidth, indent)
	for i, line := range lines {
		f.need(bodyLine)
		x, w := marginLeft, contentWidth
		if i == 0 {
			x, w = x+indent, w-indent
		}
		if i < len(lines)-1 {
			f.page.JustifyLine(x, f.y, w, st, line)
		} else {
			f.page.Text(x, f.y, st, line)
		}
		f.y += bodyLine
	}
}

// hangingPara writes "一、text" with the continuation lines aligned after
// the number.
func (f *flow) hangingPara(num, text string, indent float64) {
	st := f.body()
	nw := f.b.Measure(st, num)
	lines := f.wrap(st, text, contentWidth-indent-nw, 0)
	for i, line := range lines {
		f.need(bodyLine)
		if i == 0 {
			f.page.Text(marginLeft+indent, f.y, st, num)
		}
		if i < len(lines)-1 {
			f.page.JustifyLine(marginLeft+indent+nw, f.y, contentWidth-indent-nw, st, line)
		} else {
			f.page.Text(marginLeft+indent+nw, f.y, st, line)
		}
		f.y += bodyLine
	}
}

type row struct{ label, value string }

// table draws two-column rows (label, value) with borders, the values
// wrapped (ciphertext is long). A row never splits across pages.
func (f *flow) table(rows []row) {
	const labelW = 54.6 // holds 招标人统一社会信用代码（密文） and leaves the value column the validity on one line at cellSize
	const pad = 1.05
	valueW := contentWidth - labelW
	st := f.style(cellSize)
	black := ofd.Black
	top := f.y
	closeTable := func() {
		f.page.Line(marginLeft, f.y, marginLeft+contentWidth, f.y, 0.3, black)
		_ = top
	}
	for _, r := range rows {
		labelLines := f.wrap(st, r.label, labelW-2*pad, 0)
		valueLines := f.wrap(st, r.value, valueW-2*pad, 0)
		n := len(valueLines)
		if len(labelLines) > n {
			n = len(labelLines)
		}
		h := st.Size*1.2 + float64(n-1)*cellLine + 2*pad
		if f.y+h > 297-marginBottom {
			closeTable()
			f.newPage()
			top = f.y
		}
		f.page.Rect(ofd.Box{X: marginLeft, Y: f.y, W: labelW, H: h}, 0, nil, &labelFill)
		f.page.Line(marginLeft, f.y, marginLeft+contentWidth, f.y, 0.3, black)
		f.page.Line(marginLeft, f.y, marginLeft, f.y+h, 0.3, black)
		f.page.Line(marginLeft+labelW, f.y, marginLeft+labelW, f.y+h, 0.3, black)
		f.page.Line(marginLeft+contentWidth, f.y, marginLeft+contentWidth, f.y+h, 0.3, black)
		ly := f.y + pad + (h-2*pad-float64(len(labelLines))*cellLine+(cellLine-st.Size*1.2))/2
		for i, l := range labelLines {
			f.page.Text(marginLeft+pad, ly+float64(i)*cellLine, st, l)
		}
		for i, l := range valueLines {
			f.page.Text(marginLeft+labelW+pad, f.y+pad+float64(i)*cellLine, st, l)
		}
		f.y += h
	}
	closeTable()
}

// footers writes "保函编号 … 第 i 页 / 共 n 页" at the bottom of every page.
func footers(b *ofd.Builder, font ofd.FontID, left string) {
	pages := b.Pages()
	st := ofd.TextStyle{Font: font, Size: smallSize, Color: gray}
	for i, p := range pages {
		y := 297 - marginBottom + 6
		p.Line(marginLeft, y-2, marginLeft+contentWidth, y-2, 0.15, gray)
		if left != "" {
			p.Text(marginLeft, y, st, left)
		}
		p.TextIn(marginLeft, y, contentWidth, st, ofd.Right, fmt.Sprintf("第 %d 页 / 共 %d 页", i+1, len(pages)))
	}
}
