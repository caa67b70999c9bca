// Package browsertest runs the whole flow in a real browser: the harness
// with its consoles and the bidder's CA agent, all in one process on
// 127.0.0.1. The tests drive headless Chromium through it with chromedp.
package browsertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/web"
)

// Names of the system's parties, and the section the tests apply for.
const (
	InstitutionName = harness.InstitutionName
	BidderName      = harness.BidderName
	BidderCode      = harness.BidderCode
	Product         = harness.Product
	SectionNo       = "BD-2026-0137"
	SectionName     = "城南污水处理厂提标改造工程施工"
)

// start runs the harness with consoles and the CA agent for t: the
// institution underwrites by hand and sells a second product, and two
// sections are open for applications.
func start(t *testing.T) *harness.System {
	t.Helper()
	t.Setenv(service.MasterKeyEnv, "000102030405060708090a0b0c0d0e0f")
	const cheap = "投标保函（优惠费率）"
	s := harness.Start(t, harness.Quiet(), harness.WithChunkSize(16<<10), harness.WithPoll(50*time.Millisecond),
		// Every test logs in from 127.0.0.1, many times over: a throttle
		// that lets them (the login throttle is tested in package web and
		// in test/issues).
		harness.WithConsoles(web.WithLoginThrottle(1000, time.Millisecond)),
		harness.WithPlatformConfig(func(c *platform.Config) {
			c.Institutions[0].Products = append(c.Institutions[0].Products,
				platform.Product{Name: cheap, Rate: decimal.RequireFromString("0.003"), MinPremium: decimal.RequireFromString("300")})
		}),
		harness.WithInstitutionConfig(func(c *institution.Config) {
			c.Institution.Address, c.Institution.Phone = "浙江省杭州市西湖区文三路100号", "0571-88886666"
			c.Underwrite.Mode = institution.ModeManual
			c.Products = append(c.Products, institution.Product{Name: cheap, Rate: "0.003", MinPremium: "300"})
		}))
	sections := []platform.SectionInput{
		{No: SectionNo, Name: SectionName, Tenderer: "某市城市建设投资集团有限公司", TendererCode: "91330100MA2CTY001W",
			BondAmount: decimal.RequireFromString("800000.00"), KaibiaoTime: time.Now().Add(72 * time.Hour).Truncate(time.Hour)},
		{No: "BD-2026-0142", Name: "滨江学校新建工程监理", Tenderer: "某市教育局", TendererCode: "11330100MB1EDU001B",
			BondAmount: decimal.RequireFromString("50000.00"), KaibiaoTime: time.Now().Add(120 * time.Hour).Truncate(time.Hour)},
	}
	for _, in := range sections {
		if _, err := s.Plat.RegisterSection(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// account returns the password of a staff account.
func account(s *harness.System, console, user string) string {
	for _, a := range s.Accounts[console] {
		if a.Username == user {
			return a.Password
		}
	}
	panic(fmt.Sprintf("no account %s/%s", console, user))
}

func storeFilter(applyNo string) store.LogFilter {
	return store.LogFilter{ApplyNo: applyNo, Limit: 100}
}

func webAuditFilter(action string) web.AuditFilter { return web.AuditFilter{Action: action} }
