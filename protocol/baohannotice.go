package protocol

// BaohanNoticeRequest is 投保申请结果通知 (baohannotice), served by the
// platform: the institution's underwriting result, guarantee number and
// premium. payername and payeraccount are required by trading centres that
// want the premium paid from the bidder's basic account (基本户); that is a
// deployment policy, not checked here.
type BaohanNoticeRequest struct {
	AppKey       string `json:"appkey"`
	Timestamp    string `json:"timestamp"`
	ApplyNo      string `json:"applyno"`
	BaohanNo     string `json:"baohanno"`
	PayerName    string `json:"payername"`    // 支付保费银行账户户名
	PayerAccount string `json:"payeraccount"` // 支付保费银行账户号码
	InstName     string `json:"instname"`     // 出函机构名称
	GenerateTime string `json:"generatetime"` // 出单时间
	Rate         string `json:"rate"`         // 费率, 0.005 for 千分之五
	Cost         string `json:"cost"`         // 费用 (元)
	ApplyStatus  string `json:"applystatus"`  // 1 审核通过, 0 审核未通过
	Sign         string `json:"sign"`
}

var baohanNoticeSpec = Spec{
	Interface: BaohanNotice, Title: "投保申请结果通知", ServedBy: Platform, Request: BaohanNoticeRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fApplyNo, fBaohanNo,
		{Name: "payername", Meaning: "支付保费银行账户户名", Max: 200},
		{Name: "payeraccount", Meaning: "支付保费银行账户号码", Max: 50},
		{Name: "instname", Meaning: "出函机构名称", Max: 200, Required: true},
		{Name: "generatetime", Meaning: "出单时间", Max: 30, Required: true, Kind: Timestamp},
		{Name: "rate", Meaning: "费率", Max: 50, Required: true, Kind: Decimal, Example: "0.005"},
		{Name: "cost", Meaning: "费用（元）", Max: 50, Required: true, Kind: Decimal, Example: "200.00"},
		applyStatus(10, "审核通过", "审核未通过"),
		fSign,
	},
}
