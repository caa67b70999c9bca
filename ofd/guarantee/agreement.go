package guarantee

import (
	"crypto"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// BuildAgreement lays out the guarantee agreement (保函委托协议) between
// the bidder (委托人) and the institution (担保人) as an unsigned OFD: the
// parties, the guarantee's amount and term, the premium and rate, the
// parties' obligations, and the bidder's signature area. The bidder signs
// it with SignAgreement; the institution attaches it to the guarantee
// (Options.Attachments or Attach).
func BuildAgreement(a AgreementData) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if a.PayDays == 0 {
		a.PayDays = 7
	}
	if a.RecourseDays == 0 {
		a.RecourseDays = 10
	}
	amount, err := baohan.AmountInCapitals(a.Amount)
	if err != nil {
		return nil, fmt.Errorf("guarantee: agreement: Amount: %w", err)
	}
	premium, err := baohan.AmountInCapitals(a.Premium)
	if err != nil {
		return nil, fmt.Errorf("guarantee: agreement: Premium: %w", err)
	}
	rate := a.Rate.Shift(2).String() + "%"
	b := ofd.NewBuilder(ofd.Info{
		Title:   "投标保函委托协议",
		Author:  a.Institution,
		Subject: "投标保函委托协议 " + a.AgreementNo,
		Created: a.SignDate,
		Custom: []ofd.CustomData{
			{Name: "agreementno", Value: a.AgreementNo},
			{Name: "applyno", Value: a.ApplyNo},
			{Name: "baohanno", Value: a.BaohanNo},
		},
	})
	f := newFlow(b)
	f.page.TextIn(marginLeft, f.y, contentWidth, f.style(titleSize-0.5), ofd.Center, "投标保函委托协议")
	f.y += titleSize + 3
	f.page.TextIn(marginLeft, f.y, contentWidth, f.body(), ofd.Right, "协议编号："+a.AgreementNo)
	f.y += bodyLine + 2

	party := func(role, name, code, addr, tel string) {
		f.para(role+name, 0)
		for _, l := range [][2]string{{"统一社会信用代码：", code}, {"地址：", addr}, {"联系电话：", tel}} {
			if v := strings.TrimSpace(l[1]); v != "" {
				f.para(l[0]+v, 2*bodySize)
			}
		}
	}
	party("委托人（甲方）：", a.Bidder, a.BidderCode, "", "")
	party("担保人（乙方）：", a.Institution, a.InstitutionCode, a.InstitutionAddr, a.InstitutionTel)
	f.y += 2
	project := "招标项目"
	if a.Project != "" {
		project = a.Project
	}
	f.para(fmt.Sprintf("甲方拟参加%s的投标，须向招标人提交投标保证金。甲方委托乙方为其开立电子投标保函，以替代现金投标保证金。双方根据《中华人民共和国民法典》等法律法规，经协商一致，订立本协议。", project), 2*bodySize)
	f.para(fmt.Sprintf("第一条　保函内容。乙方为甲方开立以招标人为受益人、不可撤销的见索即付投标保函，担保金额为%s（%s），保函有效期自开标之日起至投标有效期满之日止；乙方在收到招标人符合保函约定的书面索赔后%d个工作日内付款。", amount, yuan(a.Amount), a.PayDays), 2*bodySize)
	f.para(fmt.Sprintf("第二条　保费。保费按担保金额的%s计收，共计%s（%s），由甲方在保函开立前一次付清。保函开立后保费不予退还，但招标人依法终止招标等依规定应予退还的情形除外。", rate, premium, yuan(a.Premium)), 2*bodySize)
	f.para(fmt.Sprintf("第三条　甲方的义务。甲方保证所提交的投标及申请材料真实、合法、有效；发生保函约定的索赔情形、乙方向招标人付款的，甲方应在乙方付款之日起%d日内向乙方偿还乙方已支付的全部款项，并承担乙方为此支出的合理费用。", a.RecourseDays), 2*bodySize)
	f.para("第四条　乙方的义务。乙方在收到保费并审核通过后开立保函，通过公共资源交易平台送达；乙方对甲方的投标信息负有保密义务。", 2*bodySize)
	f.para("第五条　电子签署。本协议以电子形式订立，甲方使用其数字证书签章，乙方以电子签章确认，与书面签字盖章具有同等法律效力。", 2*bodySize)
	f.para("第六条　争议解决。因本协议发生的争议，双方协商解决；协商不成的，任何一方可向乙方所在地人民法院提起诉讼。", 2*bodySize)
	f.para("第七条　本协议自甲方电子签章之日起生效，至保函失效且甲方履行完毕本协议项下全部义务之日终止。", 2*bodySize)
	f.y += 3
	rows := []row{{"协议编号", a.AgreementNo}}
	if a.ApplyNo != "" {
		rows = append(rows, row{"申请编号", a.ApplyNo})
	}
	if a.BaohanNo != "" {
		rows = append(rows, row{"保函编号", a.BaohanNo})
	}
	rows = append(rows,
		row{"担保金额", fmt.Sprintf("%s（%s）", yuan(a.Amount), amount)},
		row{"费率", rate},
		row{"保费", fmt.Sprintf("%s（%s）", yuan(a.Premium), premium)},
		row{"签订日期", dateCN(a.SignDate)},
	)
	f.table(rows)

	// Two signature areas side by side, each name wrapped in its column.
	st := f.body()
	x := marginLeft + contentWidth*0.55
	const gap = 4.0
	bidderLines := f.wrap(st, a.Bidder, x-gap-marginLeft-f.b.Measure(st, BidderSealLabel), 0)
	instLines := f.wrap(st, a.Institution, marginLeft+contentWidth-x-f.b.Measure(st, InstitutionSealLabel), 0)
	n := max(len(bidderLines), len(instLines))
	f.need(40 + float64(n-1)*bodyLine)
	f.y += 10
	lb := f.page.Text(marginLeft, f.y, st, BidderSealLabel)
	for i, l := range bidderLines {
		f.page.Text(lb.X+lb.W, f.y+float64(i)*bodyLine, st, l)
	}
	ib := f.page.Text(x, f.y, st, InstitutionSealLabel)
	for i, l := range instLines {
		f.page.Text(ib.X+ib.W, f.y+float64(i)*bodyLine, st, l)
	}
	f.page.Text(marginLeft, f.y+float64(len(bidderLines)-1)*bodyLine+bodyLine*1.6, st, "日期："+dateCN(a.SignDate))
	f.y += 30 + float64(n-1)*bodyLine
	footers(b, f.font, "协议编号："+a.AgreementNo)
	return b.Bytes()
}

// BidderSeal makes the seal the bidder signs the agreement with. GB/T
// 38540 signatures carry a seal; a bidder has a CA certificate, not a
// seal made by a sealing authority, so the seal is made from the bidder's
// own certificate: the bidder is maker and only holder, the type is
// personal (SealTypePersonal), and the picture is a square name seal
// (SignaturePicture). Readers that check SES v4 (ofdrw, ofd.js) accept it
// as a Type="Seal" signature; what it proves is the bidder's certificate,
// which verification checks against the trusted CA roots.
func BidderSeal(key crypto.Signer, cert *smx509.Certificate, name string, validFrom, validTo time.Time) (*ses.Seal, error) {
	pic, err := SignaturePicture(name)
	if err != nil {
		return nil, err
	}
	if validFrom.IsZero() {
		validFrom = cert.NotBefore
	}
	if validTo.IsZero() {
		validTo = cert.NotAfter
	}
	return ses.MakeSeal(key, cert, ses.SealSpec{
		Type:       ses.SealTypePersonal,
		Name:       name,
		Holders:    []*smx509.Certificate{cert},
		Picture:    pic,
		WidthMM:    25,
		HeightMM:   25,
		ValidStart: validFrom,
		ValidEnd:   validTo,
	})
}

// InstitutionSeal makes the institution's guarantee seal from its own
// certificate (maker and holder), with a round seal picture (SealPicture
// with "保函专用章"); pass a sealing authority's seal to Seal instead when
// the institution has one.
func InstitutionSeal(key crypto.Signer, cert *smx509.Certificate, name string, validFrom, validTo time.Time) (*ses.Seal, error) {
	pic, err := SealPicture(name, "保函专用章")
	if err != nil {
		return nil, err
	}
	if validFrom.IsZero() {
		validFrom = cert.NotBefore
	}
	if validTo.IsZero() {
		validTo = cert.NotAfter
	}
	return ses.MakeSeal(key, cert, ses.SealSpec{
		Type:       ses.SealTypeOrganization,
		Name:       name + "保函专用章",
		Holders:    []*smx509.Certificate{cert},
		Picture:    pic,
		WidthMM:    40,
		HeightMM:   40,
		ValidStart: validFrom,
		ValidEnd:   validTo,
	})
}
