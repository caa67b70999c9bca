package protocol

// ApplyData is 投保申请数据, the plaintext of baohanapply's applydata: a
// JSON object SM4-encrypted with a fresh key per application. The project
// fields (biaoduanno, biaoduanname, zbr, zbrorgnum) are themselves
// ciphertext under the project key until bid opening (baohanrestore).
type ApplyData struct {
	BidderName   string `json:"biddername"`   // 投标人名称
	BidderCode   string `json:"biddercode"`   // 统一社会信用代码
	BiaoduanNo   string `json:"biaoduanno"`   // 标段编号 (密文)
	BiaoduanName string `json:"biaoduanname"` // 标段名称 (密文)
	BzjAmount    string `json:"bzjamount"`    // 保证金金额
	Zbr          string `json:"zbr"`          // 招标人 (密文)
	ZbrOrgNum    string `json:"zbrorgnum"`    // 招标人统一社会信用代码 (密文)
}

// ApplyDataFields is the spec's table of 投保申请数据.
var ApplyDataFields = []Field{
	{Name: "biddername", Meaning: "投标人名称", Max: 200, Required: true},
	{Name: "biddercode", Meaning: "统一社会信用代码", Max: 50, Required: true},
	{Name: "biaoduanno", Meaning: "标段编号（密文）", Max: 500, Required: true},
	{Name: "biaoduanname", Meaning: "标段名称（密文）", Max: 1000, Required: true},
	{Name: "bzjamount", Meaning: "保证金金额", Max: 50, Required: true, Kind: Decimal},
	{Name: "zbr", Meaning: "招标人（密文）", Max: 500, Required: true},
	{Name: "zbrorgnum", Meaning: "招标人统一社会信用代码（密文）", Max: 200},
}

// ValidateApplyData parses the decrypted applydata (a flat JSON object of
// strings) and checks it against the table. A body that is not such an
// object gives one violation with Rule "json"; the ApplyData is then nil.
// Extra fields are accepted.
func ValidateApplyData(b []byte) (*ApplyData, []Violation) {
	r, err := ParseRequest(b)
	if err != nil {
		return nil, []Violation{{Rule: RuleJSON, Message: "applydata: " + err.Error()}}
	}
	var d ApplyData
	if err := Decode(r, &d); err != nil {
		return nil, []Violation{{Rule: RuleJSON, Message: "applydata: " + err.Error()}}
	}
	return &d, validateSpec(ApplyDataFields, nil, r)
}
