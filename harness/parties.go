package harness

// The parties of the harness unless Parties says otherwise: one
// platform, one institution selling one product, one bidder.
const (
	PlatformName    = "某市公共资源交易中心"
	InstitutionName = "华夏融资担保有限公司"
	InstCreditCode  = "91330100MA2HXDB01L"
	BidderName      = "某某建设工程有限公司"
	BidderCode      = "91110000MA01BDD014"
	Product         = "投标保函（见索即付）"
	AppKey          = "APPKEY-HX-0001"
	AppSecret       = "2b7e151628aed2a6abf7158809cf4f3c"
	PlatformCode    = "PT330100"
	PlatformAdmin   = "platform-admin-token-0123456789"
	InstAdmin       = "institution-admin-token-0123456789"
)

// Parties names the parties and holds the secrets they share. A zero
// field takes the constant above.
type Parties struct {
	PlatformName, InstitutionName, InstitutionCode string
	BidderName, BidderCode                         string
	// BidderFile is the base name of the bidder's key and certificate
	// files in the PKI's directory (default "bidder").
	BidderFile string
	Product    string
	// AppKey, AppSecret and PlatformCode identify the platform to the
	// institution and the institution to the platform.
	AppKey, AppSecret, PlatformCode string
	// PlatformAdmin and InstitutionAdmin are the admin API tokens.
	PlatformAdmin, InstitutionAdmin string
}

func (p Parties) withDefaults() Parties {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.PlatformName, PlatformName)
	def(&p.InstitutionName, InstitutionName)
	def(&p.InstitutionCode, InstCreditCode)
	def(&p.BidderName, BidderName)
	def(&p.BidderCode, BidderCode)
	def(&p.BidderFile, "bidder")
	def(&p.Product, Product)
	def(&p.AppKey, AppKey)
	def(&p.AppSecret, AppSecret)
	def(&p.PlatformCode, PlatformCode)
	def(&p.PlatformAdmin, PlatformAdmin)
	def(&p.InstitutionAdmin, InstAdmin)
	return p
}
