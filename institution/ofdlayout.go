package institution

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
)

// The documents are ofd/guarantee's templates: the agreement
// (BuildAgreement), the guarantee (Build, ciphertext or plaintext), the
// signed agreement attached, the plaintext guarantee merged with the
// ciphertext one (Merge), each sealed at its seal areas (Seal).

// notGiven stands for an optional project field the platform left empty
// (zbrorgnum), as the template needs every field written.
const notGiven = "（未提供）"

func (d *OFDDocuments) signer() ses.Signer { return ses.Signer{Key: d.key, Cert: d.cert, Seal: d.seal} }

func decimalOf(field, s string) (decimal.Decimal, error) {
	v, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, fmt.Errorf("%s %q: %w", field, s, err)
	}
	return v, nil
}

// Agreement implements Documents: the 保函委托协议 between the bidder and
// the institution. Before the bid opening the project is known only by
// the platform's application number.
func (d *OFDDocuments) Agreement(_ context.Context, in DocumentInput) ([]byte, error) {
	amount, err := decimalOf("bond", in.Bond)
	if err != nil {
		return nil, err
	}
	premium, err := decimalOf("premium", in.Premium)
	if err != nil {
		return nil, err
	}
	rate, err := decimalOf("rate", in.Rate)
	if err != nil {
		return nil, err
	}
	return guarantee.BuildAgreement(guarantee.AgreementData{
		AgreementNo: "WT" + in.ApplyNo, ApplyNo: in.ApplyNo,
		Institution: in.Institution.Name, InstitutionCode: in.Institution.CreditCode,
		InstitutionAddr: in.Institution.Address, InstitutionTel: in.Institution.Phone,
		Bidder: in.BidderName, BidderCode: in.BidderCode,
		Project: "业务流水号 " + in.ApplyNo + " 所投标段（开标前保密）",
		Amount:  amount, Premium: premium, Rate: rate, SignDate: in.GenerateTime,
	})
}

func (d *OFDDocuments) data(in DocumentInput, cipher bool) (guarantee.Data, error) {
	amount, err := decimalOf("bond", in.Bond)
	if err != nil {
		return guarantee.Data{}, err
	}
	zbrOrgNum := in.Project.ZbrOrgNum
	if zbrOrgNum == "" {
		zbrOrgNum = notGiven
	}
	var bzjEnd time.Time // the flat revision's deposit deadline, in the clear since the restore
	if t, err := protocol.ParseTime(in.Project.BzjEndDate); err == nil && !cipher {
		bzjEnd = t
	}
	return guarantee.Data{
		BzjEndDate: bzjEnd,
		BaohanNo:   in.BaohanNo, ApplyNo: in.ApplyNo,
		Institution: in.Institution.Name, InstitutionCode: in.Institution.CreditCode,
		InstitutionAddr: in.Institution.Address, InstitutionTel: in.Institution.Phone,
		Bidder: in.BidderName, BidderCode: in.BidderCode,
		BiaoduanNo: in.Project.BiaoduanNo, BiaoduanName: in.Project.BiaoduanName,
		Zbr: in.Project.Zbr, ZbrOrgNum: zbrOrgNum, Ciphertext: cipher,
		Amount: amount, OpenTime: in.KaibiaoTime, IssueDate: in.GenerateTime,
	}, nil
}

// CipherGuarantee implements Documents: the guarantee with the project
// fields as ciphertext (filetype 1), the signed agreement attached,
// sealed.
func (d *OFDDocuments) CipherGuarantee(_ context.Context, in DocumentInput, agreement []byte) ([]byte, error) {
	g, err := d.data(in, true)
	if err != nil {
		return nil, err
	}
	doc, err := guarantee.Build(g, guarantee.Options{Now: func() time.Time { return in.GenerateTime },
		Attachments: []ofd.Attachment{{Name: AgreementAttachment, Format: "ofd", Data: agreement, Created: in.GenerateTime}}})
	if err != nil {
		return nil, err
	}
	return guarantee.Seal(doc, d.signer(), d.now())
}

// AgreementAttachment is the name of the signed agreement inside the
// guarantee.
const AgreementAttachment = "保函委托协议.ofd"

// PlainGuarantee implements Documents: the guarantee in plain merged with
// the sealed ciphertext guarantee (filetype 2), sealed again.
func (d *OFDDocuments) PlainGuarantee(_ context.Context, in DocumentInput, cipher []byte) ([]byte, error) {
	g, err := d.data(in, false)
	if err != nil {
		return nil, err
	}
	plain, err := guarantee.Build(g, guarantee.Options{Now: func() time.Time { return in.GenerateTime }})
	if err != nil {
		return nil, err
	}
	merged, err := guarantee.Merge(plain, cipher)
	if err != nil {
		return nil, err
	}
	return guarantee.Seal(merged, d.signer(), d.now())
}
