package web

import (
	"bytes"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/render"
)

// maxPages bounds the pages drawn on one console page.
const maxPages = 12

// renderSVG draws every page of an OFD document as SVG (ofd/render), the
// seals' pictures at their stamp boxes.
func renderSVG(doc []byte) ([][]byte, error) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, err
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for i := range min(len(d.Pages), maxPages) {
		p, err := render.PageOf(d, i)
		if err != nil {
			return out, err
		}
		var b bytes.Buffer
		if err := p.WriteSVG(&b); err != nil {
			return out, err
		}
		out = append(out, b.Bytes())
	}
	return out, nil
}
