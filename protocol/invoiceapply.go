package protocol

// InvoiceApplyRequest is 发票申请 (invoiceapply), served by the
// institution: after the guarantee is restored the bidder asks for an
// invoice. A 专票 (type 1) needs address, phone, bank and account.
type InvoiceApplyRequest struct {
	AppKey         string `json:"appkey"`
	Timestamp      string `json:"timestamp"`
	PlatformCode   string `json:"platformcode"`
	ApplyNo        string `json:"applyno"`
	BaohanNo       string `json:"baohanno"`
	BidderName     string `json:"biddername"` // 投标人名称
	BidderCode     string `json:"biddercode"` // 统一社会信用代码
	Amount         string `json:"amount"`     // 开票金额
	Type           string `json:"type"`       // 0 普票, 1 专票
	Address        string `json:"address"`    // 公司地址, 专票时必填
	Phone          string `json:"phone"`      // 公司电话, 专票时必填
	Bank           string `json:"bank"`       // 开户行, 专票时必填
	Account        string `json:"account"`    // 帐号, 专票时必填
	Email          string `json:"email"`
	Mobile         string `json:"mobile"`
	ContactName    string `json:"contactname"`
	ContactAddress string `json:"contactaddress"`
	Sign           string `json:"sign"`
}

var invoiceApplyFields = []Field{
	fAppKey, fTimestamp, fPlatformCode, fApplyNo, fBaohanNo,
	{Name: "biddername", Meaning: "投标人名称", Max: 200, Required: true},
	{Name: "biddercode", Meaning: "统一社会信用代码", Max: 50, Required: true},
	{Name: "amount", Meaning: "开票金额", Max: 50, Required: true, Kind: Decimal, Example: "200.00"},
	{Name: "type", Meaning: "发票类型", Max: 10, Required: true, Kind: Enum,
		Enum: []EnumValue{{InvoiceOrdinary, "普票"}, {InvoiceSpecial, "专票"}}},
	{Name: "address", Meaning: "公司地址", Max: 500},
	{Name: "phone", Meaning: "公司电话", Max: 50},
	{Name: "bank", Meaning: "开户行", Max: 200},
	{Name: "account", Meaning: "帐号", Max: 50},
	{Name: "email", Meaning: "接收电子发票的email", Max: 100},
	{Name: "mobile", Meaning: "联系电话", Max: 50},
	{Name: "contactname", Meaning: "收件人姓名", Max: 50},
	{Name: "contactaddress", Meaning: "收件地址", Max: 500},
	fSign,
}

var invoiceApplySpec = Spec{
	Interface: InvoiceApply, Title: "发票申请", ServedBy: Institution, Request: InvoiceApplyRequest{},
	Fields: invoiceApplyFields,
	Rules: []Rule{
		requiredIf(invoiceApplyFields, "type", InvoiceSpecial, "address", "phone", "bank", "account"),
	},
}
