package guarantee

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
)

// CST is China Standard Time: dates on the documents are written in it.
var CST = time.FixedZone("CST", 8*3600)

// Data is what a bid guarantee (投标保函) states. The four project fields
// (BiaoduanNo, BiaoduanName, Zbr, ZbrOrgNum) are plaintext for the
// plaintext guarantee (filetype 2) and the base64 SM4 ciphertext the
// institution received for the ciphertext guarantee (filetype 1), with
// Ciphertext set.
type Data struct {
	BaohanNo        string // 保函编号
	VerifyCode      string // 验真码 (optional): printed and carried in the QR code's URL
	ApplyNo         string // 申请编号 (optional)
	Institution     string // 担保人: the issuing institution
	InstitutionCode string // its 统一社会信用代码 (optional)
	InstitutionAddr string // 担保人地址 (optional), printed in the signature block
	InstitutionTel  string // 联系电话 (optional), likewise
	Bidder          string // 投标人 (被保证人)
	BidderCode      string // 投标人统一社会信用代码

	BiaoduanNo   string // 标段编号
	BiaoduanName string // 标段名称
	Zbr          string // 招标人
	ZbrOrgNum    string // 招标人统一社会信用代码
	Ciphertext   bool   // the four fields above are ciphertext (filetype 1)

	Amount decimal.Decimal // 担保金额 (元)

	// Validity: from bid opening (开标) to the end of the bid validity
	// period (投标有效期满). OpenTime and ValidityDays, when known, are
	// written next to it.
	OpenTime     time.Time
	ValidityDays int
	// BzjEndDate is the deposit deadline (投标截止时间) a platform of the
	// flat revision releases with the project key; when known it is
	// printed in the plaintext guarantee's table.
	BzjEndDate time.Time

	IssueDate time.Time // 开立日期
	PayDays   int       // pay within this many working days of a compliant demand; default 7
}

// Options tune Build.
type Options struct {
	// QRURL is the verification URL put in the QR code. "{baohanno}" in
	// it is replaced by the guarantee number; otherwise baohanno=... is
	// added to its query; code=... follows with the 验真码 (Data.VerifyCode).
	// Empty: the QR code carries the guarantee number (and code) alone.
	// The content of the QR code is also in the document's CustomData
	// "verifyurl" (VerifyURLOf reads it back).
	QRURL string
	// Now is the clock for the document's creation time and the zip
	// entries (time.Now when nil).
	Now func() time.Time
	// Attachments are carried in the document (Attachments.xml), e.g. the
	// signed agreement. Attach adds one to a built document.
	Attachments []ofd.Attachment
	// Title overrides the title ("投标保函").
	Title string
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Validate checks the fields a guarantee cannot do without, naming each.
func (g Data) Validate() error {
	var errs []string
	req := func(name, v string, max int) {
		switch {
		case strings.TrimSpace(v) == "":
			errs = append(errs, name+" is required")
		case utf8.RuneCountInString(v) > max:
			errs = append(errs, fmt.Sprintf("%s is longer than %d characters", name, max))
		}
	}
	req("BaohanNo (保函编号)", g.BaohanNo, 64)
	req("Institution (担保人)", g.Institution, 100)
	if utf8.RuneCountInString(g.InstitutionAddr) > 200 {
		errs = append(errs, "InstitutionAddr (担保人地址) is longer than 200 characters")
	}
	if utf8.RuneCountInString(g.InstitutionTel) > 64 {
		errs = append(errs, "InstitutionTel (联系电话) is longer than 64 characters")
	}
	if utf8.RuneCountInString(g.VerifyCode) > 32 {
		errs = append(errs, "VerifyCode (验真码) is longer than 32 characters")
	}
	req("Bidder (投标人)", g.Bidder, 200)
	req("BidderCode (投标人统一社会信用代码)", g.BidderCode, 64)
	max := 500
	if g.Ciphertext {
		max = 2000 // base64 of SM4 blocks
	}
	req("BiaoduanNo (标段编号)", g.BiaoduanNo, max)
	req("BiaoduanName (标段名称)", g.BiaoduanName, max)
	req("Zbr (招标人)", g.Zbr, max)
	req("ZbrOrgNum (招标人统一社会信用代码)", g.ZbrOrgNum, max)
	if !g.Amount.IsPositive() {
		errs = append(errs, "Amount (担保金额) must be positive")
	}
	if g.IssueDate.IsZero() {
		errs = append(errs, "IssueDate (开立日期) is required")
	}
	if g.PayDays < 0 || g.PayDays > 90 {
		errs = append(errs, "PayDays must be between 1 and 90 working days")
	}
	if len(errs) > 0 {
		return errors.New("guarantee: " + strings.Join(errs, "; "))
	}
	return nil
}

// AgreementData is what the guarantee agreement (保函委托协议) between the
// bidder (委托人) and the institution (担保人) states.
type AgreementData struct {
	AgreementNo     string // 协议编号
	ApplyNo         string // 申请编号
	BaohanNo        string // 保函编号, when known
	Institution     string
	InstitutionCode string
	InstitutionAddr string // 担保人地址 (optional)
	InstitutionTel  string // 联系电话 (optional)
	Bidder          string
	BidderCode      string
	// Project is how the agreement names the project; before bid opening
	// the institution knows it only as ciphertext or a platform reference.
	Project      string
	Amount       decimal.Decimal // 担保金额
	Premium      decimal.Decimal // 保费
	Rate         decimal.Decimal // 费率, e.g. 0.005 for 0.5%
	PayDays      int             // the guarantee's payment period; default 7
	RecourseDays int             // the bidder repays a claim within this many days; default 10
	SignDate     time.Time       // 签订日期, also the document's clock
}

// Validate checks the agreement's required fields.
func (a AgreementData) Validate() error {
	var errs []string
	for _, f := range []struct{ name, v string }{
		{"AgreementNo (协议编号)", a.AgreementNo}, {"Institution (担保人)", a.Institution},
		{"Bidder (委托人)", a.Bidder}, {"BidderCode (统一社会信用代码)", a.BidderCode},
	} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, f.name+" is required")
		}
	}
	if !a.Amount.IsPositive() {
		errs = append(errs, "Amount (担保金额) must be positive")
	}
	if a.Premium.IsNegative() {
		errs = append(errs, "Premium (保费) must not be negative")
	}
	if a.Rate.IsNegative() {
		errs = append(errs, "Rate (费率) must not be negative")
	}
	if a.SignDate.IsZero() {
		errs = append(errs, "SignDate (签订日期) is required")
	}
	if len(errs) > 0 {
		return errors.New("guarantee: agreement: " + strings.Join(errs, "; "))
	}
	return nil
}

func dateCN(t time.Time) string {
	t = t.In(CST)
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}

// yuan writes an amount with thousands separators: ¥20,000.00.
func yuan(d decimal.Decimal) string {
	s := d.StringFixed(2)
	intPart, frac := s[:len(s)-3], s[len(s)-3:]
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := "¥" + b.String() + frac
	if neg {
		out = "-" + out
	}
	return out
}

// EncryptProject turns g into the ciphertext form: the four project
// fields (标段编号, 标段名称, 招标人, 招标人代码) each SM4-encrypted under
// the project (标段) key the platform holds until bid opening
// (gm.EncryptField), and Ciphertext set.
func (g *Data) EncryptProject(key []byte) error {
	for _, f := range []*string{&g.BiaoduanNo, &g.BiaoduanName, &g.Zbr, &g.ZbrOrgNum} {
		c, err := gm.EncryptField(key, *f)
		if err != nil {
			return err
		}
		*f = c
	}
	g.Ciphertext = true
	return nil
}
