package protocol

// BaohanFileCompleteNoticeRequest is 保函文件上传完成通知
// (baohanfilecompletenotice), served by the platform: after the last
// chunk, the file's SM4 key and iv, each SM2-encrypted under the key from
// downloadpublickey, and the digest of the whole plaintext file (SM3, 64
// hex; MD5, 32 hex, for peers that want it). bak1 may carry the chunk
// count; the receiver checks it against the chunks.
type BaohanFileCompleteNoticeRequest struct {
	AppKey        string `json:"appkey"`
	Timestamp     string `json:"timestamp"`
	ApplyNo       string `json:"applyno"`
	BaohanNo      string `json:"baohanno"`
	Key           string `json:"key"`           // SM2(SM4 key), base64
	IV            string `json:"iv"`            // SM2(SM4 iv), base64
	BaohanFileMD5 string `json:"baohanfilemd5"` // digest of the whole file
	FileType      string `json:"filetype"`      // 1 密文, 2 明文
	Bak1          string `json:"bak1"`
	Bak2          string `json:"bak2"`
	Sign          string `json:"sign"`
}

var baohanFileCompleteNoticeSpec = Spec{
	Interface: BaohanFileCompleteNotice, Title: "保函文件上传完成通知", ServedBy: Platform, Request: BaohanFileCompleteNoticeRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fApplyNo, fBaohanNo,
		{Name: "key", Meaning: "加密保函文件的秘钥", Max: 200, Required: true, Binary: true},
		{Name: "iv", Meaning: "加密保函文件的子秘钥", Max: 200, Required: true, Binary: true},
		{Name: "baohanfilemd5", Meaning: "整个保函文件的摘要值", Max: 200, Required: true, Kind: HexDigest},
		fFileType, fBak1, fBak2, fSign,
	},
}
