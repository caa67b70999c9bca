package guarantee

import (
	"fmt"

	"github.com/baohan-dev/baohan/ofd"
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
	bodyLine  = 5.8
	cellSize  = 3.5
	cellLine  = 5.0
	smallSize = 3.0
	sealSize  = 40.0 // the stamp's box
)

var (
	gray      = ofd.Color{R: 0x66, G: 0x66, B: 0x66}
	labelFill = ofd.Color{R: 0xf2, G: 0xf2, B: 0xf2}
)

// flow lays text and tables down the pages of a document, adding pages
// as they fill.
type flow struct {
	b         *ofd.Builder
	page      *ofd.PageBuilder
	y         float64
	song, hei ofd.FontID
}

func newFlow(b *ofd.Builder) *flow {
	f := &flow{b: b, song: b.Font("宋体", "宋体"), hei: b.Font("黑体", "黑体")}
	f.newPage()
	return f
}

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

func (f *flow) body() ofd.TextStyle { return ofd.TextStyle{Font: f.song, Size: bodySize} }

// para writes a justified paragraph with a first-line indent of two
// characters, breaking pages between lines.
func (f *flow) para(text string, indent float64) {
	st := f.body()
	lines := ofd.Wrap(text, contentWidth, st.Size, indent)
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
	nw := ofd.Measure(num, st.Size)
	lines := ofd.Wrap(text, contentWidth-indent-nw, st.Size, 0)
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
	const labelW = 52.0
	const pad = 1.05
	valueW := contentWidth - labelW
	st := ofd.TextStyle{Font: f.song, Size: cellSize}
	black := ofd.Black
	top := f.y
	closeTable := func() {
		f.page.Line(marginLeft, f.y, marginLeft+contentWidth, f.y, 0.3, black)
		_ = top
	}
	for _, r := range rows {
		labelLines := ofd.Wrap(r.label, labelW-2*pad, st.Size, 0)
		valueLines := ofd.Wrap(r.value, valueW-2*pad, st.Size, 0)
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
func footers(b *ofd.Builder, song ofd.FontID, left string) {
	pages := b.Pages()
	st := ofd.TextStyle{Font: song, Size: smallSize, Color: gray}
	for i, p := range pages {
		y := 297 - marginBottom + 6
		p.Line(marginLeft, y-2, marginLeft+contentWidth, y-2, 0.15, gray)
		if left != "" {
			p.Text(marginLeft, y, st, left)
		}
		p.TextIn(marginLeft, y, contentWidth, st, ofd.Right, fmt.Sprintf("第 %d 页 / 共 %d 页", i+1, len(pages)))
	}
}
