package demo

import (
	"github.com/baohan-dev/baohan/pki"
)

// BidderSpec is one of the demo's bidders.
type BidderSpec struct {
	Name string
	Code string // 统一社会信用代码
	File string // name of its key and certificate files in the CA directory
	Role string // what the demo uses it for
}

// BlockedCode is the credit code the institution's underwriting refuses.
var BlockedCode = creditCode("91110000MA01BLKD0")

// The demo's bidders, one per scenario that needs its own.
var (
	MainBidder   = BidderSpec{"某某建设工程有限公司", creditCode("91110000MA01BDDR0"), "bidder-main", "the whole life of a guarantee, the claim"}
	Blocked      = BidderSpec{"失信建设有限公司", BlockedCode, "bidder-blocked", "refused by underwriting"}
	QuitBidder   = BidderSpec{"撤回建设有限公司", creditCode("91110000MA01QTTB0"), "bidder-quit", "withdraws before the bid opening"}
	GiveupPlat   = BidderSpec{"放弃甲建设有限公司", creditCode("91110000MA01GPLT0"), "bidder-giveup-platform", "gives up at the platform"}
	GiveupInst   = BidderSpec{"放弃乙建设有限公司", creditCode("91110000MA01GNWT0"), "bidder-giveup-institution", "gives up at the institution"}
	CancelBidder = BidderSpec{"注销建设有限公司", creditCode("91110000MA01CNCL0"), "bidder-cancel", "guarantee cancelled by the bid agent"}
)

// Bidders lists the demo's bidders.
var Bidders = []BidderSpec{MainBidder, Blocked, QuitBidder, GiveupPlat, GiveupInst, CancelBidder}

// creditCode completes 17 characters with the GB 32100 check character.
func creditCode(prefix string) string {
	for _, c := range "0123456789ABCDEFGHJKLMNPQRTUWXY" {
		if pki.CheckCreditCode(prefix+string(c)) == nil {
			return prefix + string(c)
		}
	}
	panic("demo: no check character for " + prefix)
}
