package web

import "errors"

// renderSVG draws every page of an OFD document as SVG.
func renderSVG(doc []byte) ([][]byte, error) {
	return nil, errors.New("页面渲染尚不可用 (ofd/render has not landed)")
}
