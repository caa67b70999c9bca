package protocol

// Fields shared by many interfaces, as in the spec's tables.
var (
	fAppKey       = Field{Name: "appkey", Meaning: "应用标识", Max: 50, Required: true, Kind: Identifier}
	fTimestamp    = Field{Name: "timestamp", Meaning: "请求时间", Max: 30, Required: true, Kind: Timestamp}
	fPlatformCode = Field{Name: "platformcode", Meaning: "平台编码", Max: 50, Required: true, Kind: Identifier}
	fApplyNo      = Field{Name: "applyno", Meaning: "业务流水号", Max: 50, Required: true, Kind: Identifier}
	fBaohanNo     = Field{Name: "baohanno", Meaning: "保函编号", Max: 50, Required: true, Kind: Identifier}
	fBak1         = Field{Name: "bak1", Meaning: "备用字段", Max: 200}
	fBak2         = Field{Name: "bak2", Meaning: "备用字段", Max: 200}
	fSign         = Field{Name: "sign", Meaning: "报文摘要", Max: 200, Required: true}
	fFileType     = Field{Name: "filetype", Meaning: "文件类型", Max: 50, Required: true, Kind: Enum,
		Enum: []EnumValue{{FileTypeCipher, "密文"}, {FileTypePlain, "明文"}}}
)

// Values of filetype.
const (
	FileTypeCipher = "1" // 密文保函
	FileTypePlain  = "2" // 明文保函
)

// Values of applystatus.
const (
	StatusApproved = "1" // 审核通过 / 退保成功
	StatusRefused  = "0" // 审核未通过 / 退保失败
)

// Values of invoiceapply's type.
const (
	InvoiceOrdinary = "0" // 普票
	InvoiceSpecial  = "1" // 专票
)

func applyStatus(max int, yes, no string) Field {
	return Field{Name: "applystatus", Meaning: "状态", Max: max, Required: true, Kind: Enum,
		Enum: []EnumValue{{StatusApproved, yes}, {StatusRefused, no}}}
}
