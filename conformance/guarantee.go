package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/protocol"
)

// GuaranteeInfo is what goes into a guarantee the kit issues when it plays
// the institution (platform suite).
type GuaranteeInfo struct {
	ApplyNo, BaohanNo string
	InstName          string
	BidderName        string
	BidderCode        string
	Amount            string // 保证金 (bzjamount)
	// The project fields: ciphertext as received in applydata for the
	// ciphertext guarantee, plaintext (when the kit could decrypt them)
	// for the plaintext one.
	BiaoduanNo, BiaoduanName, Zbr, ZbrOrgNum string
	Plain                                    bool // filetype 2
	Issued                                   time.Time
	// Agreement is the 保函委托协议 signed by the bidder, attached to the
	// guarantee as the spec requires (nil: the kit has no bidder to sign
	// it, Config.Bidder).
	Agreement []byte
	// Cipher is, for the plaintext guarantee, the ciphertext guarantee
	// the kit uploaded, attached byte for byte as 密文保函.ofd, as
	// guarantee.Merge carries it.
	Cipher []byte
}

// GuaranteeMaker makes the guarantee file (a sealed OFD) the kit uploads.
type GuaranteeMaker func(ctx context.Context, g GuaranteeInfo) ([]byte, error)

// SealedGuarantee returns a GuaranteeMaker that writes a one-page OFD
// guarantee naming its application in its CustomData, attaches the
// agreement (GuaranteeInfo.Agreement) and, to the plaintext one, the
// ciphertext guarantee (GuaranteeInfo.Cipher), and seals it (GB/T 38540)
// with the institution identity id: a platform that checks seals must
// trust id's CA, and pin id's certificate for the kit's appkey.
func SealedGuarantee(id *pki.Identity) (GuaranteeMaker, error) {
	if id == nil || id.Key == nil || id.Cert == nil {
		return nil, errors.New("conformance: a seal identity with key and certificate is required")
	}
	seal, err := ses.MakeSeal(id.Key, id.Cert, ses.SealSpec{Type: ses.SealTypeOrganization, Name: id.Name + "电子保函专用章",
		Holders: []*smx509.Certificate{id.Cert}, ValidStart: id.Cert.NotBefore, ValidEnd: id.Cert.NotAfter})
	if err != nil {
		return nil, err
	}
	signer := ses.Signer{Key: id.Key, Cert: id.Cert, Seal: seal}
	return func(ctx context.Context, g GuaranteeInfo) ([]byte, error) {
		doc, err := guaranteeOFD(g)
		if err != nil {
			return nil, err
		}
		return ses.Sign(doc, signer, ses.SignOptions{Time: g.Issued,
			Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 130, Y: 220, W: 40, H: 40}}}})
	}, nil
}

// DefaultGuarantee seals the kit's guarantees with an institution
// certificate from a throwaway test CA, made once per process. A platform
// that checks seals against its trust roots refuses them: give the kit a
// seal it trusts (SealedGuarantee, baohan conformance --seal-dir).
func DefaultGuarantee(ctx context.Context, g GuaranteeInfo) ([]byte, error) {
	defaultSealOnce.Do(func() {
		var ca *pki.CA
		ca, defaultSealErr = pki.New("一致性测试CA")
		if defaultSealErr != nil {
			return
		}
		var id *pki.Identity
		if id, defaultSealErr = ca.Issue(kitInstName, pki.Institution); defaultSealErr != nil {
			return
		}
		defaultSeal, defaultSealErr = SealedGuarantee(id)
	})
	if defaultSealErr != nil {
		return nil, defaultSealErr
	}
	return defaultSeal(ctx, g)
}

var (
	defaultSealOnce sync.Once
	defaultSeal     GuaranteeMaker
	defaultSealErr  error
)

// guaranteeOFD writes the unsigned guarantee page, with the numbers in
// its CustomData (as ofd/guarantee writes them) and the attachments.
func guaranteeOFD(g GuaranteeInfo) ([]byte, error) {
	title, filetype := "投标保函（密文）", protocol.FileTypeCipher
	if g.Plain {
		title, filetype = "投标保函（明文）", protocol.FileTypePlain
	}
	b := ofd.NewBuilder(ofd.Info{Title: title + " " + g.BaohanNo, Author: g.InstName, Created: g.Issued,
		Custom: []ofd.CustomData{{Name: "applyno", Value: g.ApplyNo}, {Name: "baohanno", Value: g.BaohanNo}, {Name: "filetype", Value: filetype}}})
	if g.Agreement != nil {
		if err := b.Attach(ofd.Attachment{Name: guarantee.AgreementAttachmentName, Format: "ofd", Data: g.Agreement, Created: g.Issued}); err != nil {
			return nil, err
		}
	}
	if g.Plain && g.Cipher != nil {
		if err := b.Attach(ofd.Attachment{Name: guarantee.CipherAttachmentName, Format: "ofd", Data: g.Cipher, Created: g.Issued}); err != nil {
			return nil, err
		}
	}
	f := b.Font("宋体", "宋体")
	p := b.AddPage()
	p.TextIn(20, 25, 170, ofd.TextStyle{Font: f, Size: 7}, ofd.Center, title)
	small := ofd.TextStyle{Font: f, Size: 3.5}
	y := 45.0
	line := func(label, v string) {
		y = p.Paragraph(20, y, 170, small, 6, 0, false, label+"："+v) + 2
	}
	line("保函编号", g.BaohanNo)
	line("业务流水号", g.ApplyNo)
	line("投标人", g.BidderName+"（"+g.BidderCode+"）")
	line("标段编号", g.BiaoduanNo)
	line("标段名称", g.BiaoduanName)
	line("招标人", g.Zbr)
	if g.ZbrOrgNum != "" {
		line("招标人统一社会信用代码", g.ZbrOrgNum)
	}
	line("担保金额", g.Amount+" 元")
	line("出函机构", g.InstName)
	line("出函时间", protocol.FormatTime(g.Issued))
	p.Paragraph(20, y+4, 170, small, 6, 7, true,
		"本保函为一致性测试套件（baohan conformance）生成的测试保函，不具有任何法律效力。"+
			"This guarantee was made by the baohan conformance kit for testing only.")
	return b.Bytes()
}

// DefaultVerifier checks a guarantee with ofd/ses: every signature and
// seal verifies, chained to roots when roots is not empty. It returns the
// document's text.
func DefaultVerifier(file []byte, roots []*smx509.Certificate) (summary, text string, err error) {
	pkg, err := ofd.Open(file)
	if err != nil {
		return "", "", fmt.Errorf("not an OFD document: %v", err)
	}
	doc, err := ofd.Read(pkg)
	if err != nil {
		return "", "", fmt.Errorf("the OFD document does not read: %v", err)
	}
	var pool *smx509.CertPool
	if len(roots) > 0 {
		pool = smx509.NewCertPool()
		for _, c := range roots {
			pool.AddCert(c)
		}
	}
	rep, err := ses.VerifyPackage(pkg, pool)
	if err != nil {
		return "", "", fmt.Errorf("seals: %v", err)
	}
	if !rep.OK() {
		var fails []string
		for k, s := range rep.Signatures {
			for _, c := range s.Failures() {
				fails = append(fails, fmt.Sprintf("signature %d: %s %s", k+1, c.Name, c.Detail))
			}
		}
		return "", "", fmt.Errorf("the seals do not verify: %s", strings.Join(fails, "; "))
	}
	var signers []string
	for _, s := range rep.Signatures {
		signers = append(signers, s.Signer)
	}
	trust := "integrity only, no trust roots given"
	if rep.TrustChecked {
		trust = "chained to the trust roots"
	}
	return fmt.Sprintf("OFD, %d page(s), %d seal(s) valid (%s; %s)", len(doc.Pages), len(rep.Signatures), strings.Join(signers, ", "), trust), doc.Text(), nil
}
