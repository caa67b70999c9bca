package guarantee

import (
	"crypto"
	"fmt"
	"path/filepath"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

// Party is who signs in Sample: a key and its certificate, whose Subject
// CN is the party's name and Subject SERIALNUMBER its 统一社会信用代码.
type Party struct {
	Key  crypto.Signer
	Cert *smx509.Certificate
}

// AgreementAttachment is the name under which the agreement is attached
// to the guarantee.
const AgreementAttachment = "保函委托协议.ofd"

// Sample runs the issuing flow on sample data (a 20,000 yuan guarantee
// for a road works 标段, numbered from now): the bidder signs the
// agreement with a seal made from its certificate, the agreement is
// attached to the ciphertext guarantee (filetype 1), and the institution
// seals it with its own. With plaintext, the plaintext guarantee (one
// second later) is merged with the sealed ciphertext one and sealed again
// (filetype 2). It is what `baohan ofd sample` writes, for trying readers
// and verifiers on a realistic document.
func Sample(institution, bidder Party, now time.Time, plaintext bool) ([]byte, error) {
	amount := decimal.RequireFromString("20000.00")
	rate := decimal.RequireFromString("0.005")
	stamp := now.Format("20060102150405")
	instName, bidderName := institution.Cert.Subject.CommonName, bidder.Cert.Subject.CommonName
	instCode, _ := pki.CreditCode(institution.Cert, pki.InSerialNumber)
	bidderCode, _ := pki.CreditCode(bidder.Cert, pki.InSerialNumber)

	agr, err := BuildAgreement(AgreementData{
		AgreementNo: "XY" + stamp, ApplyNo: "SQ" + stamp,
		Institution: instName, InstitutionCode: instCode, Bidder: bidderName, BidderCode: bidderCode,
		InstitutionAddr: "北京市西城区金融大街1号", InstitutionTel: "010-66668888",
		Amount: amount, Rate: rate, Premium: baohan.Premium(amount, rate, decimal.Zero), SignDate: now,
	})
	if err != nil {
		return nil, err
	}
	bseal, err := BidderSeal(bidder.Key, bidder.Cert, bidderName, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	if agr, err = SignAgreement(agr, ses.Signer{Key: bidder.Key, Cert: bidder.Cert, Seal: bseal}, now); err != nil {
		return nil, err
	}
	iseal, err := InstitutionSeal(institution.Key, institution.Cert, instName, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	signer := ses.Signer{Key: institution.Key, Cert: institution.Cert, Seal: iseal}

	key := gm.NewKey() // the project (标段) key the platform holds until bid opening
	g := Data{
		BaohanNo: "BH" + stamp, VerifyCode: "K7MW3P9Q", ApplyNo: "SQ" + stamp,
		Institution: instName, InstitutionCode: instCode, Bidder: bidderName, BidderCode: bidderCode,
		InstitutionAddr: "北京市西城区金融大街1号", InstitutionTel: "010-66668888",
		BiaoduanNo: "A3301002026000123001", BiaoduanName: "某市城北片区道路改造工程施工第一标段",
		Zbr: "某市城市建设投资集团有限公司", ZbrOrgNum: "91330100MA2CFXXX0A", Amount: amount,
		OpenTime: now.AddDate(0, 0, 20), ValidityDays: 90, IssueDate: now,
	}
	clear := g // the plaintext form, issued after the opening
	if err := g.EncryptProject(key); err != nil {
		return nil, err
	}
	opt := Options{
		QRURL:       "https://ggzy.example.cn/baohan/verify",
		Now:         func() time.Time { return now },
		Attachments: []ofd.Attachment{{Name: AgreementAttachment, Format: "ofd", Data: agr}},
	}
	doc, err := Build(g, opt)
	if err != nil {
		return nil, err
	}
	cipher, err := Seal(doc, signer, now)
	if err != nil || !plaintext {
		return cipher, err
	}
	later := now.Add(time.Second)
	plain, err := Build(clear, Options{QRURL: opt.QRURL, Now: func() time.Time { return later }})
	if err != nil {
		return nil, err
	}
	merged, err := Merge(plain, cipher)
	if err != nil {
		return nil, err
	}
	return Seal(merged, signer, later)
}

// SampleFromCA is Sample for the institution and the bidder named so in
// the test CA in dir (pki.Init, `baohan ca init`): their identities are
// loaded from dir, or issued there when missing. issued says what was
// issued, each as "<role> certificate <file>"; the parties are the
// institution and the bidder.
func SampleFromCA(dir, institution, bidder string, now time.Time, plaintext bool) (doc []byte, parties [2]Party, issued []string, err error) {
	ca, err := pki.Load(dir)
	if err != nil {
		return nil, parties, nil, err
	}
	for i, p := range []struct {
		name string
		role pki.Role
	}{{institution, pki.Institution}, {bidder, pki.Bidder}} {
		id, made, err := ca.LoadOrIssue(dir, p.name, p.role)
		if err != nil {
			return nil, parties, issued, err
		}
		if made {
			issued = append(issued, fmt.Sprintf("%s certificate %s", p.role, filepath.Join(dir, pki.CertFile(p.name))))
		}
		parties[i] = Party{Key: id.Key, Cert: id.Cert}
	}
	doc, err = Sample(parties[0], parties[1], now, plaintext)
	return doc, parties, issued, err
}
