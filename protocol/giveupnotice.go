package protocol

// GiveupNoticeRequest is 金融机构放弃申请 (giveupnotice), served by the
// platform: the bidder abandoned at the institution; the platform answers
// whether it can.
type GiveupNoticeRequest struct {
	AppKey    string `json:"appkey"`
	Timestamp string `json:"timestamp"`
	ApplyNo   string `json:"applyno"`
	Sign      string `json:"sign"`
}

var giveupNoticeSpec = Spec{
	Interface: GiveupNotice, Title: "金融机构放弃申请", ServedBy: Platform, Request: GiveupNoticeRequest{},
	Fields: []Field{fAppKey, fTimestamp, fApplyNo, fSign},
}
