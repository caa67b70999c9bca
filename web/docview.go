package web

import (
	"encoding/base64"
	"fmt"
	"html/template"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/ofd/ses"
)

// docView is an OFD guarantee as a page shows it: each page drawn as SVG
// (ofd/render), and the verification report of its seals (ses.Verify).
type docView struct {
	Title     string
	Pages     []template.URL // data: URLs of the SVG pages, shown as images (no script can run in them)
	RenderErr string
	Report    *ses.Report
	VerifyErr string
	Size      int
	SM3       string
	Download  string
}

// makeDocView renders and verifies doc. roots are the trust roots (nil:
// integrity and signatures only, no chain).
func makeDocView(title string, doc []byte, roots *smx509.CertPool, download string) *docView {
	v := &docView{Title: title, Size: len(doc), Download: download}
	h := sm3.Sum(doc)
	v.SM3 = fmt.Sprintf("%x", h[:])
	pages, err := renderSVG(doc)
	if err != nil {
		v.RenderErr = err.Error()
	}
	for _, p := range pages {
		v.Pages = append(v.Pages, template.URL("data:image/svg+xml;base64,"+base64.StdEncoding.EncodeToString(p)))
	}
	rep, err := ses.Verify(doc, roots)
	if err != nil {
		v.VerifyErr = err.Error()
	}
	v.Report = rep
	return v
}

// checkLabel names a seal check in Chinese.
func checkLabel(name string) string {
	switch name {
	case ses.CheckSignatureFile:
		return "签名描述文件"
	case ses.CheckReference:
		return "文件摘要"
	case ses.CheckCoverage:
		return "保护范围"
	case ses.CheckSignedValue:
		return "签名值结构"
	case ses.CheckDataHash:
		return "签名数据杂凑"
	case ses.CheckPropertyInfo:
		return "签名属性"
	case ses.CheckDocSignature:
		return "文档签名（SM2）"
	case ses.CheckSealSignature:
		return "印章制章签名"
	case ses.CheckSealFile:
		return "印章文件"
	case ses.CheckSealHolder:
		return "印章持有人"
	case ses.CheckSealValidity:
		return "印章有效期"
	case ses.CheckCertValidity:
		return "证书有效期"
	case ses.CheckChain:
		return "证书链"
	case ses.CheckStamp:
		return "签章位置"
	}
	return name
}
