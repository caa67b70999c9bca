package protocol

// CancelNoticeRequest is 注销保函通知 (canclenotice, the spec's spelling),
// served by the institution (optional for institutions): the bid agent
// cancels a guarantee.
type CancelNoticeRequest struct {
	AppKey       string `json:"appkey"`
	Timestamp    string `json:"timestamp"`
	PlatformCode string `json:"platformcode"`
	ApplyNo      string `json:"applyno"`
	BaohanNo     string `json:"baohanno"`
	Sign         string `json:"sign"`
}

var cancelNoticeSpec = Spec{
	Interface: CancelNotice, Title: "注销保函通知", ServedBy: Institution, Request: CancelNoticeRequest{},
	Fields: []Field{fAppKey, fTimestamp, fPlatformCode, fApplyNo, fBaohanNo, fSign},
}
