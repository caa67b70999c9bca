package protocol

// BaohanApplyRequest is 投保申请 (baohanapply), served by the institution:
// the platform passes on the bidder's application, its data SM4-encrypted
// (applydata, see ApplyData) and the key sealed for the bidder's CA
// certificate (digitalenvelope). The answer carries ApplyResult.
type BaohanApplyRequest struct {
	AppKey          string `json:"appkey"`
	Timestamp       string `json:"timestamp"`
	PlatformCode    string `json:"platformcode"`
	ApplyNo         string `json:"applyno"`
	ApplyData       string `json:"applydata"`       // 投保申请数据, SM4, base64
	DigitalEnvelope string `json:"digitalenvelope"` // 数字信封: SM2 of the applydata key
	Sign            string `json:"sign"`
}

var baohanApplySpec = Spec{
	Interface: BaohanApply, Title: "投保申请", ServedBy: Institution, Request: BaohanApplyRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fPlatformCode, fApplyNo,
		{Name: "applydata", Meaning: "投保申请数据", Max: 2000, Required: true, Binary: true},
		{Name: "digitalenvelope", Meaning: "数字信封", Max: 200, Required: true, Binary: true},
		fSign,
	},
}

// ApplyResult is the data of a successful baohanapply answer: where to
// send the bidder to decrypt the application with the CA key.
type ApplyResult struct {
	RedirectURL string `json:"redirecturl"`
}

// ResultMaxRedirectURL is the spec's maximum length of redirecturl.
const ResultMaxRedirectURL = 500
