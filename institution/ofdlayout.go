package institution

import (
	"context"
	"fmt"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
)

// The layouts below are the institution's own plain templates, used until
// ofd/guarantee (the shared bid-guarantee and agreement templates) is
// wired in: one A4 page of labelled lines, the attachment, and the seal.

// sealPicture is the seal's picture when none is configured: none (ses
// draws an invisible mark) until ofd/guarantee generates one.
func sealPicture(Identity) ([]byte, error) { return nil, nil }

func (d *OFDDocuments) layout(title string, in DocumentInput, lines [][2]string) *ofd.Builder {
	b := ofd.NewBuilder(ofd.Info{Title: title, Author: in.Institution.Name, Created: in.GenerateTime,
		Custom: []ofd.CustomData{{Name: "applyno", Value: in.ApplyNo}, {Name: "baohanno", Value: in.BaohanNo}}})
	font := b.Font("宋体", "宋体")
	p := b.AddPage()
	p.Text(20, 20, ofd.TextStyle{Font: font, Size: 7, Bold: true}, title)
	st := ofd.TextStyle{Font: font, Size: 3.7}
	y := 36.0
	for _, l := range lines {
		if l[1] == "" {
			continue
		}
		p.Text(20, y, st, l[0]+"："+l[1])
		y += 7
	}
	return b
}

func commonLines(in DocumentInput) [][2]string {
	return [][2]string{
		{"业务流水号", in.ApplyNo},
		{"保函编号", in.BaohanNo},
		{"投标人", in.BidderName},
		{"统一社会信用代码", in.BidderCode},
		{"标段编号", in.Project.BiaoduanNo},
		{"标段名称", in.Project.BiaoduanName},
		{"招标人", in.Project.Zbr},
		{"招标人统一社会信用代码", in.Project.ZbrOrgNum},
		{"担保金额（元）", in.Bond},
		{"保费（元）", in.Premium},
		{"费率", in.Rate},
		{"产品", in.Product},
		{"出函机构", in.Institution.Name},
		{"出函时间", protocol.FormatTime(in.GenerateTime)},
		{"条款", in.Terms},
	}
}

func (d *OFDDocuments) sealDoc(doc []byte) ([]byte, error) {
	return ses.Sign(doc, ses.Signer{Key: d.key, Cert: d.cert, Seal: d.seal}, ses.SignOptions{Time: d.now(),
		Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 140, Y: 220, W: 40, H: 40}}}})
}

// Agreement implements Documents.
func (d *OFDDocuments) Agreement(_ context.Context, in DocumentInput) ([]byte, error) {
	return d.layout("保函委托协议", in, commonLines(in)).Bytes()
}

// CipherGuarantee implements Documents.
func (d *OFDDocuments) CipherGuarantee(_ context.Context, in DocumentInput, agreement []byte) ([]byte, error) {
	b := d.layout("投标保函（密文）", in, commonLines(in))
	if err := b.Attach(ofd.Attachment{Name: "agreement.ofd", Format: "ofd", Usage: "保函委托协议", Data: agreement, Created: d.now()}); err != nil {
		return nil, err
	}
	doc, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ciphertext guarantee: %w", err)
	}
	return d.sealDoc(doc)
}

// PlainGuarantee implements Documents.
func (d *OFDDocuments) PlainGuarantee(_ context.Context, in DocumentInput, cipher []byte) ([]byte, error) {
	b := d.layout("投标保函", in, commonLines(in))
	if err := b.Attach(ofd.Attachment{Name: "cipher-guarantee.ofd", Format: "ofd", Usage: "密文保函", Data: cipher, Created: d.now()}); err != nil {
		return nil, err
	}
	doc, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("plaintext guarantee: %w", err)
	}
	return d.sealDoc(doc)
}
