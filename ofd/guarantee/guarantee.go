package guarantee

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/ofd"
)

// Labels that mark where seals go: Seal and SignAgreement find them on
// the pages and centre the stamp on them.
const (
	InstitutionSealLabel  = "担保人（盖章）："
	BidderSealLabel       = "委托人（签章）："
	InstitutionPartyLabel = "受托人（担保人）（盖章）："
)

// Build lays out a bid guarantee (投标保函) as an unsigned OFD: title,
// guarantee number, addressee, the undertaking, the terms of a
// first-demand (见索即付) guarantee, a table of the fields, the signature
// block with the seal area, a QR code for verification and page footers.
// With g.Ciphertext the project fields are shown as the ciphertext they
// are (filetype 1); without it, in plain (filetype 2, see Merge). Seal
// the result with Seal (or ses.Sign).
func Build(g Data, opt Options) ([]byte, error) {
	b, err := build(g, opt)
	if err != nil {
		return nil, err
	}
	return b.Bytes()
}

func build(g Data, opt Options) (*ofd.Builder, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if g.PayDays == 0 {
		g.PayDays = 7
	}
	capitals, err := baohan.AmountInCapitals(g.Amount)
	if err != nil {
		return nil, fmt.Errorf("guarantee: Amount: %w", err)
	}
	now := opt.now()
	title := opt.Title
	if title == "" {
		title = "投标保函"
	}
	form := "明文"
	filetype := "2"
	if g.Ciphertext {
		form, filetype = "密文", "1"
	}
	b := ofd.NewBuilder(ofd.Info{
		Title:    title,
		Author:   g.Institution,
		Subject:  fmt.Sprintf("%s（%s）%s", title, form, g.BaohanNo),
		Created:  now,
		Keywords: []string{"投标保函", "电子保函", g.BaohanNo},
		Custom: []ofd.CustomData{
			{Name: "baohanno", Value: g.BaohanNo},
			{Name: "applyno", Value: g.ApplyNo},
			{Name: "filetype", Value: filetype},
			{Name: "amount", Value: g.Amount.StringFixed(2)},
		},
	})
	for _, a := range opt.Attachments {
		if err := b.Attach(a); err != nil {
			return nil, fmt.Errorf("guarantee: %w", err)
		}
	}
	f := newFlow(b)

	// Title and number.
	f.page.TextIn(marginLeft, f.y, contentWidth, f.style(titleSize), ofd.Center, spaced(title))
	f.y += titleSize + 3
	f.page.Line(marginLeft, f.y, marginLeft+contentWidth, f.y, 0.5, ofd.Red)
	f.page.Line(marginLeft, f.y+0.9, marginLeft+contentWidth, f.y+0.9, 0.2, ofd.Red)
	f.y += 4
	f.page.TextIn(marginLeft, f.y, contentWidth, f.body(), ofd.Right, "保函编号："+g.BaohanNo)
	f.y += bodyLine + 2

	// Addressee and undertaking.
	open := "开标之日"
	if !g.OpenTime.IsZero() {
		open = "开标之日（" + dateCN(g.OpenTime) + "）"
	}
	term := "投标有效期"
	if g.ValidityDays > 0 {
		term = fmt.Sprintf("投标有效期（%d日）", g.ValidityDays)
	}
	period := "自" + open + "起至" + term + "满之日止"
	amount := fmt.Sprintf("%s（%s）", capitals, yuan(g.Amount))
	if g.Ciphertext {
		f.para("致：招标人（见本保函信息表，以密文记载）：", 0)
		f.para(fmt.Sprintf("鉴于%s（统一社会信用代码：%s，以下简称“投标人”）参加贵方组织的标段（见本保函信息表，开标后解密核验）的投标，应投标人申请，%s（以下简称“我方”）愿就投标人履行招标文件约定的义务，向贵方提供如下不可撤销的见索即付保证：",
			g.Bidder, g.BidderCode, g.Institution), 2*bodySize)
	} else {
		f.para(fmt.Sprintf("致：%s（统一社会信用代码：%s）：", g.Zbr, g.ZbrOrgNum), 0)
		f.para(fmt.Sprintf("鉴于%s（统一社会信用代码：%s，以下简称“投标人”）参加贵方组织的%s（标段编号：%s）的投标，应投标人申请，%s（以下简称“我方”）愿就投标人履行招标文件约定的义务，向贵方提供如下不可撤销的见索即付保证：",
			g.Bidder, g.BidderCode, g.BiaoduanName, g.BiaoduanNo, g.Institution), 2*bodySize)
	}
	ind := 2 * bodySize
	f.hangingPara("一、", "担保金额："+amount+"。", ind)
	f.hangingPara("二、", "保函有效期："+period+"。", ind)
	f.hangingPara("三、", "在本保函有效期内，投标人有下列情形之一的，贵方可向我方提出书面索赔：", ind)
	f.hangingPara("（一）", "在投标有效期内撤销或修改其投标文件；", ind+bodySize)
	f.hangingPara("（二）", "中标后无正当理由不与贵方签订合同，或未按招标文件要求提交履约担保；", ind+bodySize)
	f.hangingPara("（三）", "招标文件规定的不予退还投标保证金的其他情形。", ind+bodySize)
	f.hangingPara("四、", fmt.Sprintf("我方在收到贵方符合本保函约定的书面索赔通知后%d个工作日内，无条件地向贵方支付担保金额，无需贵方提供其他证明，亦不以投标人的任何抗辩为付款前提。", g.PayDays), ind)
	f.hangingPara("五、", "我方的保证责任以担保金额为限。索赔通知应在本保函有效期内送达我方；有效期届满，本保函自动失效。本保函项下的权利不得转让。", ind)
	f.hangingPara("六、", "本保函以电子形式开立，经我方电子签章后生效，电子签章与实物印章具有同等法律效力。贵方可扫描下方二维码或登录公共资源交易平台核验本保函。", ind)
	f.hangingPara("七、", "本保函适用中华人民共和国法律；因本保函发生的争议，由我方所在地人民法院管辖。", ind)
	f.y += 3

	// Field table.
	rows := []row{
		{"保函编号", g.BaohanNo},
		{"担保人", g.Institution},
	}
	if g.InstitutionCode != "" {
		rows = append(rows, row{"担保人统一社会信用代码", g.InstitutionCode})
	}
	suffix := ""
	if g.Ciphertext {
		suffix = "（密文）"
	}
	rows = append(rows,
		row{"投标人", g.Bidder},
		row{"投标人统一社会信用代码", g.BidderCode},
		row{"招标人" + suffix, g.Zbr},
		row{"招标人统一社会信用代码" + suffix, g.ZbrOrgNum},
		row{"标段编号" + suffix, g.BiaoduanNo},
		row{"标段名称" + suffix, g.BiaoduanName},
		row{"担保金额（小写）", yuan(g.Amount)},
		row{"担保金额（大写）", capitals},
		row{"保函有效期", period},
		row{"开立日期", dateCN(g.IssueDate)},
	)
	if !g.Ciphertext && !g.BzjEndDate.IsZero() {
		rows = append(rows, row{"投标截止时间", dateCN(g.BzjEndDate) + g.BzjEndDate.In(CST).Format(" 15:04")})
	}
	if g.ApplyNo != "" {
		rows = append(rows, row{"申请编号", g.ApplyNo})
	}
	f.table(rows)

	// Signature block: QR code on the left, the seal area on the right.
	qr, err := qrPNG(g.BaohanNo, opt.QRURL)
	if err != nil {
		return nil, err
	}
	var contact []string
	if a := strings.TrimSpace(g.InstitutionAddr); a != "" {
		contact = append(contact, "担保人地址："+a)
	}
	if p := strings.TrimSpace(g.InstitutionTel); p != "" {
		contact = append(contact, "联系电话："+p)
	}
	if err := signatureBlock(f, qr, InstitutionSealLabel, g.Institution, contact, g.IssueDate, "扫码核验"); err != nil {
		return nil, err
	}
	footers(b, f.font, "保函编号："+g.BaohanNo)
	return b, nil
}

// signatureBlock draws the QR code (when given) at the left and, at the
// right, "label name", the contact lines (address, telephone) and the
// date, keeping them on one page. The right column wraps long names and
// addresses within the content width.
func signatureBlock(f *flow, qr []byte, label, name string, contact []string, date time.Time, caption string) error {
	const qrSize = 21.0
	st := f.body()
	left := marginLeft + contentWidth*0.5
	right := marginLeft + contentWidth
	if w := f.b.Measure(st, label+name) + st.Size; left+w > right {
		left = max(marginLeft+qrSize+6, right-w)
	}
	// The name after the label, wrapped at the right edge; the contact
	// lines and the date below, from the label's left edge.
	lw := f.b.Measure(st, label)
	nameLines := f.wrap(st, name, right-left-lw, 0)
	var lines []string
	for _, c := range contact {
		lines = append(lines, f.wrap(st, c, right-left, 0)...)
	}
	const labelTop = 3.0 // the label's distance below the QR code's top
	textH := labelTop + float64(len(nameLines)+len(lines))*bodyLine + bodyLine*0.4
	if !date.IsZero() {
		textH += bodyLine
	}
	h := max(qrSize+6, textH)
	f.need(h + 3)
	// Leave room above the label for the upper half of the seal when the
	// page has it, so the stamp does not cover the table.
	f.y += min(max(297-marginBottom-f.y-h, 3), 11)
	top := f.y
	if qr != nil {
		id, err := f.b.Image(qr)
		if err != nil {
			return fmt.Errorf("guarantee: QR code: %w", err)
		}
		f.page.Image(id, ofd.Box{X: marginLeft, Y: top, W: qrSize, H: qrSize})
		f.page.TextIn(marginLeft, top+qrSize+0.8, qrSize, ofd.TextStyle{Font: f.font, Size: smallSize, Color: gray}, ofd.Center, caption)
	}
	y := top + labelTop
	f.page.Text(left, y, st, label)
	for _, l := range nameLines {
		f.page.Text(left+lw, y, st, l)
		y += bodyLine
	}
	y += bodyLine * 0.4
	for _, l := range lines {
		f.page.Text(left, y, st, l)
		y += bodyLine
	}
	if !date.IsZero() {
		f.page.Text(left, y, st, "日期："+dateCN(date))
	}
	f.y = top + h
	return nil
}

// spaced puts a full-width space between the characters of a short title
// ("投 标 保 函").
func spaced(s string) string {
	r := []rune(s)
	if len(r) > 6 {
		return s
	}
	return strings.Join(strings.Split(s, ""), "　")
}

// QRContent is what the QR code of a guarantee carries: the verification
// URL with the guarantee number, or the number alone.
func QRContent(baohanNo, verifyURL string) string {
	if verifyURL == "" {
		return "baohanno=" + baohanNo
	}
	if strings.Contains(verifyURL, "{baohanno}") {
		return strings.ReplaceAll(verifyURL, "{baohanno}", url.QueryEscape(baohanNo))
	}
	sep := "?"
	if strings.Contains(verifyURL, "?") {
		sep = "&"
	}
	return verifyURL + sep + "baohanno=" + url.QueryEscape(baohanNo)
}

func qrPNG(baohanNo, verifyURL string) ([]byte, error) {
	q, err := qrcode.New(QRContent(baohanNo, verifyURL), qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("guarantee: QR code: %w", err)
	}
	b, err := q.PNG(-4) // 4 pixels per module: small and sharp
	if err != nil {
		return nil, fmt.Errorf("guarantee: QR code: %w", err)
	}
	return b, nil
}
