package protocol

// UploadBaohanFileRequest is 保函文件上传 (uploadbaohanfile), served by the
// platform: one chunk of the SM4-CBC encrypted guarantee file, base64.
// index is a decimal integer, 1-based by default (0-based accepted by the
// receiver when contiguous).
type UploadBaohanFileRequest struct {
	AppKey     string `json:"appkey"`
	Timestamp  string `json:"timestamp"`
	ApplyNo    string `json:"applyno"`
	BaohanNo   string `json:"baohanno"`
	BaohanFile string `json:"baohanfile"` // 保函文件加密后每片切片值, base64
	FileType   string `json:"filetype"`   // 1 密文, 2 明文
	Index      string `json:"index"`      // 文件索引
	Bak1       string `json:"bak1"`
	Bak2       string `json:"bak2"`
	Sign       string `json:"sign"`
}

var uploadBaohanFileSpec = Spec{
	Interface: UploadBaohanFile, Title: "保函文件上传", ServedBy: Platform, Request: UploadBaohanFileRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fApplyNo, fBaohanNo,
		{Name: "baohanfile", Meaning: "保函文件加密后每片切片值", Required: true, Kind: Base64, Binary: true},
		fFileType,
		{Name: "index", Meaning: "文件索引", Max: 30, Required: true, Kind: Integer},
		fBak1, fBak2, fSign,
	},
}
