package protocol

import "fmt"

// Revision is the revision of the interface family a peer speaks
// (EXTENSIONS.md §2). The envelope revision is the user's spec:
// baohanapply carries applydata, SM4-encrypted, and the digital envelope.
// The flat revision (a city trading centre's V4.0 spec, older Epoint
// deployments) sends the application's fields at the top level of
// baohanapply, the project fields SM4-encrypted under the project key and
// the rest plain, without platformcode; its baohanrestore also carries
// bzjenddate.
type Revision string

// The revisions.
const (
	RevisionEnvelope Revision = "envelope" // default: the user's spec
	RevisionFlat     Revision = "flat"
)

// ParseRevision reads a configured revision ("" is the default).
func ParseRevision(s string) (Revision, error) {
	switch Revision(s) {
	case "", RevisionEnvelope:
		return RevisionEnvelope, nil
	case RevisionFlat:
		return RevisionFlat, nil
	}
	return "", fmt.Errorf("revision must be %q or %q, got %q", RevisionEnvelope, RevisionFlat, s)
}

// Flat reports whether r is the flat revision.
func (r Revision) Flat() bool { return r == RevisionFlat }

// FlatApplyData is the application of a flat baohanapply: the fields of
// ApplyData and more, at the top level. The fields marked 密文 are SM4-ECB
// ciphertext under the project key (released by baohanrestore).
type FlatApplyData struct {
	BidderName          string `json:"biddername"`          // 投标人名称
	BidderCode          string `json:"biddercode"`          // 统一社会信用代码
	BiaoduanNo          string `json:"biaoduanno"`          // 标段编号 (密文)
	BiaoduanName        string `json:"biaoduanname"`        // 标段名称 (密文)
	BzjAmount           string `json:"bzjamount"`           // 保证金金额
	Zbr                 string `json:"zbr"`                 // 招标人 (密文)
	ZbrOrgNum           string `json:"zbrorgnum"`           // 招标人统一社会信用代码 (密文)
	BzjEndDate          string `json:"bzjenddate"`          // 投标截止时间 (密文)
	BidderContactName   string `json:"biddercontactname"`   // 投标人联系人
	BidderContactPhone  string `json:"biddercontactphone"`  // 投标人联系电话
	InsuredContactName  string `json:"insuredcontactname"`  // 被保险人联系人 (密文)
	InsuredContactPhone string `json:"insuredcontactphone"` // 被保险人联系电话 (密文)
	InsuredAddress      string `json:"insuredaddress"`      // 被保险人地址 (密文)
}

// ApplyData returns the fields the envelope revision's applydata has.
func (d *FlatApplyData) ApplyData() ApplyData {
	return ApplyData{BidderName: d.BidderName, BidderCode: d.BidderCode, BiaoduanNo: d.BiaoduanNo, BiaoduanName: d.BiaoduanName,
		BzjAmount: d.BzjAmount, Zbr: d.Zbr, ZbrOrgNum: d.ZbrOrgNum}
}

// FlatApplyFields are the application's fields of a flat baohanapply
// (EXTENSIONS.md §2), beside appkey, timestamp, applyno and sign.
var FlatApplyFields = append(append([]Field(nil), ApplyDataFields...),
	Field{Name: "bzjenddate", Meaning: "投标截止时间（密文）", Max: 500, Required: true},
	Field{Name: "biddercontactname", Meaning: "投标人联系人", Max: 100, Required: true},
	Field{Name: "biddercontactphone", Meaning: "投标人联系电话", Max: 50, Required: true},
	Field{Name: "insuredcontactname", Meaning: "被保险人联系人（密文）", Max: 500, Required: true},
	Field{Name: "insuredcontactphone", Meaning: "被保险人联系电话（密文）", Max: 500, Required: true},
	Field{Name: "insuredaddress", Meaning: "被保险人地址（密文）", Max: 1000, Required: true},
)

// FlatEncrypted names the fields of a flat baohanapply that are
// ciphertext under the project key.
var FlatEncrypted = []string{"biaoduanno", "biaoduanname", "zbr", "zbrorgnum", "bzjenddate",
	"insuredcontactname", "insuredcontactphone", "insuredaddress"}

// platformCodeOptional is platformcode where the flat revision has none.
var platformCodeOptional = func() Field { f := fPlatformCode; f.Required = false; return f }()

var baohanApplyFlatSpec = Spec{
	Interface: BaohanApply, Title: "投保申请（flat revision）", ServedBy: Institution, Request: FlatApplyData{},
	Fields: append(append([]Field{fAppKey, fTimestamp, platformCodeOptional, fApplyNo}, FlatApplyFields...), fSign),
}

var baohanRestoreFlatSpec = Spec{
	Interface: BaohanRestore, Title: "还原保函（flat revision）", ServedBy: Institution, Request: BaohanRestoreRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, platformCodeOptional, fApplyNo, fBaohanNo,
		{Name: "kaibiaotime", Meaning: "开标时间", Max: 30, Required: true, Kind: Timestamp},
		{Name: "key", Meaning: "加密项目信息的秘钥", Max: 200, Required: true},
		{Name: "bzjenddate", Meaning: "投标截止时间", Max: 30, Kind: Timestamp},
		fSign,
	},
}

// SpecIn is the spec of interface i in revision r: the flat revision has
// its own baohanapply and baohanrestore, the other interfaces are the
// same in both.
func SpecIn(r Revision, i Interface) *Spec {
	if r.Flat() {
		switch i {
		case BaohanApply:
			return &baohanApplyFlatSpec
		case BaohanRestore:
			return &baohanRestoreFlatSpec
		}
	}
	return SpecOf(i)
}

// ValidateIn checks r against the rules of interface i in revision rev.
func ValidateIn(rev Revision, i Interface, r *Request) []Violation {
	if !rev.Flat() {
		return Validate(i, r)
	}
	s := SpecIn(rev, i)
	if s == nil {
		return Validate(i, r)
	}
	return validateSpec(s.Fields, s.Rules, r)
}
