package protocol

// QuitNoticeRequest is 退保通知 (quitnotice), served by the platform: the
// withdrawal result. A success (applystatus 1) must carry tuibaotime.
type QuitNoticeRequest struct {
	AppKey      string `json:"appkey"`
	Timestamp   string `json:"timestamp"`
	ApplyNo     string `json:"applyno"`
	BaohanNo    string `json:"baohanno"`
	ApplyStatus string `json:"applystatus"` // 1 退保成功, 0 退保失败
	TuibaoTime  string `json:"tuibaotime"`  // 退保时间, 退保成功时必须
	Sign        string `json:"sign"`
}

var quitNoticeFields = []Field{
	fAppKey, fTimestamp, fApplyNo, fBaohanNo,
	applyStatus(10, "退保成功", "退保失败"),
	{Name: "tuibaotime", Meaning: "退保时间", Max: 50, Kind: Timestamp},
	fSign,
}

var quitNoticeSpec = Spec{
	Interface: QuitNotice, Title: "退保通知", ServedBy: Platform, Request: QuitNoticeRequest{},
	Fields: quitNoticeFields,
	Rules:  []Rule{requiredIf(quitNoticeFields, "applystatus", StatusApproved, "tuibaotime")},
}
