package harness

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

// GuaranteeSpec describes a ciphertext guarantee (filetype 1) made by
// hand, as an institution, honest or not, would upload it. The zero
// value (with ApplyNo and BaohanNo) is what the system's institution
// issues.
type GuaranteeSpec struct {
	// ApplyNo and BaohanNo are what the document says it is (its
	// CustomData and its pages).
	ApplyNo, BaohanNo string
	// Sealer seals the guarantee; nil: the system's institution.
	Sealer *pki.Identity
	// AgreementSigner signs the attached 保函委托协议; nil: the system's
	// bidder.
	AgreementSigner *pki.Identity
	// NoAgreement leaves the agreement out.
	NoAgreement bool
	// After are entries added once the document is sealed: content no
	// seal covers (the seals still verify).
	After map[string][]byte
}

// GuaranteeOFD makes the guarantee g describes with ofd/guarantee: the
// agreement (BuildAgreement, signed with a personal seal made from the
// signer's certificate), the guarantee with the project fields as
// ciphertext and the agreement attached, sealed at its seal area.
func (s *System) GuaranteeOFD(g GuaranteeSpec) ([]byte, error) {
	now := s.Clock.Now()
	sealer := g.Sealer
	if sealer == nil {
		sealer = s.PKI.Inst
	}
	var attach []ofd.Attachment
	if !g.NoAgreement {
		signer := g.AgreementSigner
		if signer == nil {
			signer = s.PKI.Bidder
		}
		agreement, err := guarantee.BuildAgreement(guarantee.AgreementData{
			AgreementNo: "WT" + g.ApplyNo, ApplyNo: g.ApplyNo,
			Institution: s.Parties.InstitutionName, InstitutionCode: s.Parties.InstitutionCode, Bidder: s.Parties.BidderName, BidderCode: s.Parties.BidderCode,
			Amount: decimal.RequireFromString("800000"), Premium: decimal.RequireFromString("4000"),
			Rate: decimal.RequireFromString("0.005"), SignDate: now,
		})
		if err != nil {
			return nil, err
		}
		seal, err := guarantee.BidderSeal(signer.Key, signer.Cert, signer.Name, time.Time{}, time.Time{})
		if err != nil {
			return nil, err
		}
		if agreement, err = guarantee.SignAgreement(agreement, ses.Signer{Key: signer.Key, Cert: signer.Cert, Seal: seal}, now); err != nil {
			return nil, err
		}
		attach = append(attach, ofd.Attachment{Name: "保函委托协议.ofd", Format: "ofd", Data: agreement, Created: now})
	}
	doc, err := guarantee.Build(guarantee.Data{
		BaohanNo: g.BaohanNo, ApplyNo: g.ApplyNo, Institution: s.Parties.InstitutionName, InstitutionCode: s.Parties.InstitutionCode,
		Bidder: s.Parties.BidderName, BidderCode: s.Parties.BidderCode, Ciphertext: true,
		BiaoduanNo: "Y2lwaGVydGV4dC1iaWFvZHVhbm5v", BiaoduanName: "Y2lwaGVydGV4dC1uYW1l", Zbr: "Y2lwaGVydGV4dC16YnI=", ZbrOrgNum: "Y2lwaGVydGV4dC1vcmc=",
		Amount: decimal.RequireFromString("800000"), IssueDate: now,
	}, guarantee.Options{Now: func() time.Time { return now }, Attachments: attach})
	if err != nil {
		return nil, err
	}
	seal, err := guarantee.InstitutionSeal(sealer.Key, sealer.Cert, sealer.Name, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	if doc, err = guarantee.Seal(doc, ses.Signer{Key: sealer.Key, Cert: sealer.Cert, Seal: seal}, now); err != nil {
		return nil, err
	}
	if len(g.After) == 0 {
		return doc, nil
	}
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, err
	}
	for name, b := range g.After {
		if err := pkg.Add(name, b, now); err != nil {
			return nil, fmt.Errorf("adding %s after the seal: %w", name, err)
		}
	}
	return pkg.Bytes()
}
