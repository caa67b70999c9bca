package protocol

// QuitApplyRequest is 退保申请 (quitapply), served by the institution:
// before bid opening the bidder withdraws at the platform.
type QuitApplyRequest struct {
	AppKey       string `json:"appkey"`
	Timestamp    string `json:"timestamp"`
	PlatformCode string `json:"platformcode"`
	ApplyNo      string `json:"applyno"`
	BaohanNo     string `json:"baohanno"`
	Reason       string `json:"reason"` // 退保原因
	Sign         string `json:"sign"`
}

var quitApplySpec = Spec{
	Interface: QuitApply, Title: "退保申请", ServedBy: Institution, Request: QuitApplyRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fPlatformCode, fApplyNo, fBaohanNo,
		{Name: "reason", Meaning: "退保原因", Max: 500, Required: true},
		fSign,
	},
}
