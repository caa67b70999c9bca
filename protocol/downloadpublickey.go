package protocol

// DownloadPublicKeyRequest is 下载公钥 (downloadpublickey), served by the
// platform: the SM2 public key (one per applyno) under which the
// institution wraps the guarantee file's key and iv. The answer carries
// PublicKeyResult.
type DownloadPublicKeyRequest struct {
	AppKey    string `json:"appkey"`
	Timestamp string `json:"timestamp"`
	ApplyNo   string `json:"applyno"`
	Bak1      string `json:"bak1"`
	Bak2      string `json:"bak2"`
	Sign      string `json:"sign"`
}

var downloadPublicKeySpec = Spec{
	Interface: DownloadPublicKey, Title: "下载公钥", ServedBy: Platform, Request: DownloadPublicKeyRequest{},
	Fields: []Field{fAppKey, fTimestamp, fApplyNo, fBak1, fBak2, fSign},
}

// PublicKeyResult is the data of a successful downloadpublickey answer:
// hex of the uncompressed SM2 point 04||X||Y (130 characters).
type PublicKeyResult struct {
	PublicKey string `json:"publickey"`
}

// ResultMaxPublicKey is the spec's maximum length of publickey.
const ResultMaxPublicKey = 500
