package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/ofd/ttf"
)

// PKI is the benchmark's PKI: the harness's (a root CA, a bidder, an
// institution) and the institution's seal.
type PKI struct {
	*harness.PKI
	Seal *ses.Seal
}

// parties are the benchmark's parties in the harness.
var parties = harness.Parties{InstitutionName: "某某融资担保有限公司", BidderCode: "91110000MA01BENCHC", Product: Product}

// NewPKI makes the PKI under dir.
func NewPKI(dir string) (*PKI, error) {
	hp, err := harness.NewPKI(dir, parties)
	if err != nil {
		return nil, err
	}
	p := &PKI{PKI: hp}
	now := time.Now()
	p.Seal, err = ses.MakeSeal(p.Inst.Key, p.Inst.Cert, ses.SealSpec{Name: "某某融资担保有限公司电子保函专用章",
		Holders: []*smx509.Certificate{p.Inst.Cert}, ValidStart: now.Add(-time.Hour), ValidEnd: now.Add(365 * 24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// GuaranteeOFD makes a sealed OFD ciphertext guarantee of about size
// bytes for an application, as the platform takes it: one page, the
// numbers in its CustomData, the 保函委托协议 signed by the bidder and an
// attachment of random bytes (random so that the zip does not shrink it)
// attached, sealed by the institution's seal.
func (p *PKI) GuaranteeOFD(applyNo, baohanNo string, size int) ([]byte, error) {
	title := "电子投标保函（密文）" + baohanNo
	b := ofd.NewBuilder(ofd.Info{Title: title, Created: time.Now(), Custom: []ofd.CustomData{
		{Name: "baohanno", Value: baohanNo}, {Name: "applyno", Value: applyNo}, {Name: "filetype", Value: "1"}}})
	pg := b.AddPage()
	pg.Text(20, 30, ofd.TextStyle{Font: b.EmbedFont(ttf.Default()), Size: 5}, title)
	agreement, err := p.agreement(applyNo)
	if err != nil {
		return nil, err
	}
	if err := b.Attach(ofd.Attachment{Name: guarantee.AgreementAttachmentName, Format: "ofd", Data: agreement}); err != nil {
		return nil, err
	}
	if extra := size - 8<<10 - len(agreement); extra > 0 {
		data := make([]byte, extra)
		rand.Read(data)
		if err := b.Attach(ofd.Attachment{Name: "agreement-scan.bin", Format: "bin", Data: data}); err != nil {
			return nil, err
		}
	}
	doc, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	signer := ses.Signer{Key: p.Inst.Key, Cert: p.Inst.Cert, Seal: p.Seal}
	return ses.Sign(doc, signer, ses.SignOptions{Time: time.Now(), Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 120, Y: 200, W: 40, H: 40}}}})
}

// agreement is a one-page 保函委托协议 for applyNo signed by the bidder.
func (p *PKI) agreement(applyNo string) ([]byte, error) {
	b := ofd.NewBuilder(ofd.Info{Title: "投标保函委托协议", Created: time.Now(), Custom: []ofd.CustomData{{Name: "applyno", Value: applyNo}}})
	b.AddPage().Text(20, 30, ofd.TextStyle{Font: b.EmbedFont(ttf.Default()), Size: 5}, "投标保函委托协议 "+applyNo)
	doc, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	seal, err := guarantee.BidderSeal(p.Bidder.Key, p.Bidder.Cert, p.Bidder.Name, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	return ses.Sign(doc, ses.Signer{Key: p.Bidder.Key, Cert: p.Bidder.Cert, Seal: seal}, ses.SignOptions{Time: time.Now()})
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// checkDir makes sure dir exists.
func checkDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("bench: no work directory")
	}
	return os.MkdirAll(dir, 0o700)
}
