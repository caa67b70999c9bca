package protocol

// ClaimsNoticeRequest is 理赔通知 (claimsnotice), served by the
// institution: the bid agent claims on the guarantee, 见索即付. filelist,
// when present, is a JSON array sent as a string:
// [{"fileurl":"..."},{"fileurl":"..."}].
type ClaimsNoticeRequest struct {
	AppKey         string `json:"appkey"`
	Timestamp      string `json:"timestamp"`
	PlatformCode   string `json:"platformcode"`
	ApplyNo        string `json:"applyno"`
	BaohanNo       string `json:"baohanno"`
	PayerAccount   string `json:"payeraccount"`   // 收款账号
	PayerAmount    string `json:"payeramount"`    // 赔付金额
	ApplyUserName  string `json:"applyusername"`  // 发起理赔联系人名称
	ApplyUserPhone string `json:"applyuserphone"` // 发起理赔联系人联系方式
	Reason         string `json:"reason"`         // 索赔原因
	FileList       string `json:"filelist"`       // 索赔文件列表
	Sign           string `json:"sign"`
}

// ClaimFile is one item of claimsnotice's filelist.
type ClaimFile struct {
	FileURL string `json:"fileurl"`
}

var claimsNoticeSpec = Spec{
	Interface: ClaimsNotice, Title: "理赔通知", ServedBy: Institution, Request: ClaimsNoticeRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fPlatformCode, fApplyNo, fBaohanNo,
		{Name: "payeraccount", Meaning: "收款账号", Max: 50},
		{Name: "payeramount", Meaning: "赔付金额", Max: 50, Kind: Decimal},
		{Name: "applyusername", Meaning: "发起理赔联系人名称", Max: 200, Required: true},
		{Name: "applyuserphone", Meaning: "发起理赔联系人联系方式", Max: 50, Required: true},
		{Name: "reason", Meaning: "索赔原因", Max: 500},
		{Name: "filelist", Meaning: "索赔文件列表", Kind: FileList},
		fSign,
	},
}
