package protocol

// The two claim outcome interfaces of EXTENSIONS.md §1, served by the
// platform and called by the institution. They are not among the 14 of
// the spec: a peer uses them only when its configuration enables them
// (the peer key extensions), and an institution that never sends them is
// not in error.

// ClaimsResultNoticeRequest is 理赔结果通知 (claimsresultnotice): the
// institution reports the outcome of a claim (claimsnotice).
// transferfilelist is a JSON array sent as a string, like claimsnotice's
// filelist: [{"fileurl":"..."},...] (the transfer vouchers).
type ClaimsResultNoticeRequest struct {
	AppKey           string `json:"appkey"`
	Timestamp        string `json:"timestamp"`
	ApplyNo          string `json:"applyno"`
	BaohanNo         string `json:"baohanno"`
	CompensateStatus string `json:"compensatestatus"` // 1 待赔付, 2 已赔付, 3 不予赔付, 9 其他
	CompensateRemark string `json:"compensateremark"` // the reason, when 3 or 9
	CompensateDate   string `json:"compensatedate"`   // 赔付日期
	CompensateWay    string `json:"compensateway"`    // 1 保险公司赔付, 2 投标单位赔付
	TransferDate     string `json:"transferdate"`     // 转账日期
	CompensateAmount string `json:"compensateamount"` // 赔付金额, yuan
	TransferFileList string `json:"transferfilelist"` // 转账凭证列表
	Sign             string `json:"sign"`
}

// ClaimsRepayNoticeRequest is 追偿结果通知 (claimsrepaynotice): after
// paying a claim, the institution reports whether it recovered the money
// from the bidder.
type ClaimsRepayNoticeRequest struct {
	AppKey         string `json:"appkey"`
	Timestamp      string `json:"timestamp"`
	ApplyNo        string `json:"applyno"`
	BaohanNo       string `json:"baohanno"`
	RepayStatus    string `json:"repaystatus"`    // 1 已追偿, 0 未追偿
	RepayRemark    string `json:"repayremark"`    // the reason when not recovered
	RepayDate      string `json:"repaydate"`      // 追偿日期
	RepayAmount    string `json:"repayamount"`    // 追偿金额, yuan
	IsZBRCooperate string `json:"iszbrcooperate"` // 1 招标人配合, 0 不配合
	Sign           string `json:"sign"`
}

// Values of compensatestatus.
const (
	CompensatePending = "1" // 待赔付
	CompensatePaid    = "2" // 已赔付
	CompensateRefused = "3" // 不予赔付
	CompensateOther   = "9" // 其他
)

// Values of compensateway.
const (
	CompensateByInstitution = "1" // 保险公司赔付
	CompensateByBidder      = "2" // 投标单位赔付
)

// Values of repaystatus.
const (
	RepayRecovered    = "1" // 已追偿
	RepayNotRecovered = "0" // 未追偿
)

var claimsResultNoticeFields = []Field{
	fAppKey, fTimestamp, fApplyNo, fBaohanNo,
	{Name: "compensatestatus", Meaning: "赔付状态", Max: 2, Required: true, Kind: Enum,
		Enum: []EnumValue{{CompensatePending, "待赔付"}, {CompensatePaid, "已赔付"}, {CompensateRefused, "不予赔付"}, {CompensateOther, "其他"}}},
	{Name: "compensateremark", Meaning: "赔付说明", Max: 500},
	{Name: "compensatedate", Meaning: "赔付日期", Max: 30, Required: true, Kind: Timestamp},
	{Name: "compensateway", Meaning: "赔付方式", Max: 2, Required: true, Kind: Enum,
		Enum: []EnumValue{{CompensateByInstitution, "保险公司赔付"}, {CompensateByBidder, "投标单位赔付"}}},
	{Name: "transferdate", Meaning: "转账日期", Max: 30, Required: true, Kind: Timestamp},
	{Name: "compensateamount", Meaning: "赔付金额", Max: 50, Required: true, Kind: Decimal},
	{Name: "transferfilelist", Meaning: "转账凭证列表", Required: true, Kind: FileList},
	fSign,
}

var claimsResultNoticeSpec = Spec{
	Interface: ClaimsResultNotice, Title: "理赔结果通知", ServedBy: Platform, Optional: true,
	Request: ClaimsResultNoticeRequest{},
	Fields:  claimsResultNoticeFields,
	Rules: []Rule{
		requiredIf(claimsResultNoticeFields, "compensatestatus", CompensateRefused, "compensateremark"),
		requiredIf(claimsResultNoticeFields, "compensatestatus", CompensateOther, "compensateremark"),
	},
}

var claimsRepayNoticeSpec = Spec{
	Interface: ClaimsRepayNotice, Title: "追偿结果通知", ServedBy: Platform, Optional: true,
	Request: ClaimsRepayNoticeRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fApplyNo, fBaohanNo,
		{Name: "repaystatus", Meaning: "追偿状态", Max: 2, Required: true, Kind: Enum,
			Enum: []EnumValue{{RepayRecovered, "已追偿"}, {RepayNotRecovered, "未追偿"}}},
		{Name: "repayremark", Meaning: "追偿说明", Max: 500},
		{Name: "repaydate", Meaning: "追偿日期", Max: 30, Required: true, Kind: Timestamp},
		{Name: "repayamount", Meaning: "追偿金额", Max: 50, Required: true, Kind: Decimal},
		{Name: "iszbrcooperate", Meaning: "招标人是否配合", Max: 2, Required: true, Kind: Enum,
			Enum: []EnumValue{{"1", "配合"}, {"0", "不配合"}}},
		fSign,
	},
}
