package protocol

import "reflect"

// Interface is the name of one of the 14 interfaces, or of one of the
// optional Extensions, as it appears in the URL (<base>/<name>).
type Interface string

// The 14 interfaces, in the order of the spec.
const (
	BaohanApply              Interface = "baohanapply"              // 投保申请
	BaohanNotice             Interface = "baohannotice"             // 投保申请结果通知
	DownloadPublicKey        Interface = "downloadpublickey"        // 下载公钥
	UploadBaohanFile         Interface = "uploadbaohanfile"         // 保函文件上传
	BaohanFileCompleteNotice Interface = "baohanfilecompletenotice" // 保函文件上传完成通知
	BaohanRestore            Interface = "baohanrestore"            // 还原保函
	InvoiceApply             Interface = "invoiceapply"             // 发票申请
	InvoiceNotice            Interface = "invoicenotice"            // 发票开具通知
	QuitApply                Interface = "quitapply"                // 退保申请
	QuitNotice               Interface = "quitnotice"               // 退保通知
	CancelNotice             Interface = "canclenotice"             // 注销保函通知 (the spec's spelling, kept)
	ClaimsNotice             Interface = "claimsnotice"             // 理赔通知
	GiveupApply              Interface = "giveupapply"              // 数据服务平台放弃申请
	GiveupNotice             Interface = "giveupnotice"             // 金融机构放弃申请
)

// The optional interfaces (EXTENSIONS.md §1), used with a peer only when
// its configuration enables them.
const (
	ClaimsResultNotice Interface = "claimsresultnotice" // 理赔结果通知
	ClaimsRepayNotice  Interface = "claimsrepaynotice"  // 追偿结果通知
)

// Interfaces lists the 14 interfaces in the order of the spec.
var Interfaces = []Interface{
	BaohanApply, BaohanNotice, DownloadPublicKey, UploadBaohanFile,
	BaohanFileCompleteNotice, BaohanRestore, InvoiceApply, InvoiceNotice,
	QuitApply, QuitNotice, CancelNotice, ClaimsNotice, GiveupApply, GiveupNotice,
}

// Extensions lists the optional interfaces: 14 + 2 optional.
var Extensions = []Interface{ClaimsResultNotice, ClaimsRepayNotice}

// All lists the 14 interfaces and then the optional ones.
var All = append(append([]Interface(nil), Interfaces...), Extensions...)

// Optional reports whether i is one of the Extensions, which a peer uses
// only when its configuration enables it.
func (i Interface) Optional() bool {
	s := specs[i]
	return s != nil && s.Optional
}

// Side is one of the two parties.
type Side string

const (
	// Platform is the trading centre's data service platform (数据服务支撑平台).
	Platform Side = "platform"
	// Institution is the financial institution (金融机构) issuing guarantees.
	Institution Side = "institution"
)

// Other returns the other side.
func (s Side) Other() Side {
	if s == Platform {
		return Institution
	}
	return Platform
}

// ServedBy returns the side that serves i (the other side calls it).
// It returns "" for an unknown interface.
func (i Interface) ServedBy() Side {
	if s := specs[i]; s != nil {
		return s.ServedBy
	}
	return ""
}

// CalledBy returns the side that calls i.
func (i Interface) CalledBy() Side {
	if s := i.ServedBy(); s != "" {
		return s.Other()
	}
	return ""
}

// Title returns the spec's Chinese name of i (投保申请, 理赔通知, ...).
func (i Interface) Title() string {
	if s := specs[i]; s != nil {
		return s.Title
	}
	return ""
}

// String returns the wire name.
func (i Interface) String() string { return string(i) }

// Lookup returns the interface of that wire name. Names are exact and
// case-sensitive, as in the URL; "cancelnotice" is not "canclenotice"
// (see Suggest).
func Lookup(name string) (Interface, bool) {
	i := Interface(name)
	_, ok := specs[i]
	return i, ok
}

// Suggest returns the interface a caller most likely meant by an unknown
// name (a different case, or the spelling "cancelnotice"), or false.
func Suggest(name string) (Interface, bool) {
	low := make([]byte, len(name))
	for k := 0; k < len(name); k++ {
		c := name[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[k] = c
	}
	l := string(low)
	if l == "cancelnotice" {
		return CancelNotice, true
	}
	if i, ok := Lookup(l); ok {
		return i, true
	}
	return "", false
}

// ServedBySide returns the 14 interfaces served by s, in spec order (the
// optional ones are in Extensions).
func ServedBySide(s Side) []Interface {
	var out []Interface
	for _, i := range Interfaces {
		if i.ServedBy() == s {
			out = append(out, i)
		}
	}
	return out
}

// Spec is the rule set of one interface: its fields and its conditional
// rules (the spec's 说明 column).
type Spec struct {
	Interface Interface
	Title     string // the spec's Chinese name
	ServedBy  Side
	// Optional: one of the Extensions, not among the 14.
	Optional bool
	Fields   []Field
	Rules    []Rule
	// Request is a zero value of the interface's request struct.
	Request any
}

// Field returns the rule of the named field, or nil.
func (s *Spec) Field(name string) *Field {
	for k := range s.Fields {
		if s.Fields[k].Name == name {
			return &s.Fields[k]
		}
	}
	return nil
}

// SpecOf returns the rules of i, or nil for an unknown interface.
func SpecOf(i Interface) *Spec { return specs[i] }

var specs = func() map[Interface]*Spec {
	m := map[Interface]*Spec{}
	for _, s := range []*Spec{
		&baohanApplySpec, &baohanNoticeSpec, &downloadPublicKeySpec, &uploadBaohanFileSpec,
		&baohanFileCompleteNoticeSpec, &baohanRestoreSpec, &invoiceApplySpec, &invoiceNoticeSpec,
		&quitApplySpec, &quitNoticeSpec, &cancelNoticeSpec, &claimsNoticeSpec,
		&giveupApplySpec, &giveupNoticeSpec,
		&claimsResultNoticeSpec, &claimsRepayNoticeSpec,
	} {
		m[s.Interface] = s
	}
	return m
}()

// New returns a pointer to a new zero request struct of the interface
// (*BaohanApplyRequest for baohanapply, ...), for Decode.
func (s *Spec) New() any {
	return reflect.New(reflect.TypeOf(s.Request)).Interface()
}
