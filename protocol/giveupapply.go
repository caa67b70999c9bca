package protocol

// GiveupApplyRequest is 数据服务平台放弃申请 (giveupapply), served by the
// institution: the bidder abandons, at the platform, an application with
// no success notice yet; the institution answers whether it can.
type GiveupApplyRequest struct {
	AppKey       string `json:"appkey"`
	Timestamp    string `json:"timestamp"`
	PlatformCode string `json:"platformcode"`
	ApplyNo      string `json:"applyno"`
	Sign         string `json:"sign"`
}

var giveupApplySpec = Spec{
	Interface: GiveupApply, Title: "数据服务平台放弃申请", ServedBy: Institution, Request: GiveupApplyRequest{},
	Fields: []Field{fAppKey, fTimestamp, fPlatformCode, fApplyNo, fSign},
}
