package protocol

// InvoiceNoticeRequest is 发票开具通知 (invoicenotice), served by the
// platform: the institution reports the invoice it issued (or refused).
type InvoiceNoticeRequest struct {
	AppKey      string `json:"appkey"`
	Timestamp   string `json:"timestamp"`
	BaohanNo    string `json:"baohanno"`
	InvoiceURL  string `json:"invoiceurl"`  // 发票下载地址
	InvoiceCode string `json:"invoicecode"` // 发票代码
	InvoiceNo   string `json:"invoiceno"`   // 发票号码
	ApplyStatus string `json:"applystatus"` // 1 审核通过, 0 审核未通过
	Sign        string `json:"sign"`
}

var invoiceNoticeSpec = Spec{
	Interface: InvoiceNotice, Title: "发票开具通知", ServedBy: Platform, Request: InvoiceNoticeRequest{},
	Fields: []Field{
		fAppKey, fTimestamp, fBaohanNo,
		{Name: "invoiceurl", Meaning: "发票下载地址", Max: 1000},
		{Name: "invoicecode", Meaning: "发票代码", Max: 50},
		{Name: "invoiceno", Meaning: "发票号码", Max: 50},
		applyStatus(10, "审核通过", "审核未通过"),
		fSign,
	},
}
