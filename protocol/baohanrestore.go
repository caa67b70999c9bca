package protocol

// BaohanRestoreRequest is 还原保函 (baohanrestore), served by the
// institution: after bid opening (开标) the platform releases the project
// key (base64 of 16 bytes) so the institution can decrypt the project
// fields and issue the plaintext guarantee.
type BaohanRestoreRequest struct {
	AppKey       string `json:"appkey"`
	Timestamp    string `json:"timestamp"`
	PlatformCode string `json:"platformcode"`
	ApplyNo      string `json:"applyno"`
	BaohanNo     string `json:"baohanno"`
	KaibiaoTime  string `json:"kaibiaotime"` // 开标时间
	Key          string `json:"key"`         // 加密项目信息的秘钥
	Sign         string `json:"sign"`
}

var baohanRestoreSpec = Spec{
	Interface: BaohanRestore, Title: "还原保函", ServedBy: Institution, Request: BaohanRestoreRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fPlatformCode, fApplyNo, fBaohanNo,
		{Name: "kaibiaotime", Meaning: "开标时间", Max: 30, Required: true, Kind: Timestamp},
		{Name: "key", Meaning: "加密项目信息的秘钥", Max: 200, Required: true, Binary: true},
		fSign,
	},
}
