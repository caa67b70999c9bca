// Package browsertest runs the whole flow in a real browser: a platform
// and an institution, each with its console, wired to each other over
// HTTP, and the bidder's CA agent, all in one process on 127.0.0.1. The
// tests drive headless Chromium through it with chromedp; Start is also
// what they use to build the stack.
package browsertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/web"
	"github.com/baohan-dev/baohan/web/caagent"
)

// Names of the stack's parties.
const (
	PlatformName    = "某市公共资源交易中心"
	InstitutionName = "华夏融资担保有限公司"
	BidderName      = "某某建设工程有限公司"
	BidderCode      = "91110000MA01BDD014"
	SectionNo       = "BD-2026-0137"
	SectionName     = "城南污水处理厂提标改造工程施工"
	Product         = "投标保函（见索即付）"
)

// Stack is a running platform, institution and CA agent.
type Stack struct {
	PlatformURL, InstitutionURL, AgentURL string

	Platform        *platform.Service
	Institution     *institution.Service
	PlatformConsole *web.PlatformConsole
	InstConsole     *web.InstitutionConsole
	CA              *testca.CA
	Bidder          *testca.Identity

	// Staff accounts, by console: "platform" and "institution", each with
	// admin, operator and viewer.
	Accounts map[string][]web.Account
}

// Start builds the stack in t's temporary directory; t's cleanup stops it.
func Start(t testing.TB) *Stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("BAOHAN_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	ca, err := testca.New("baohan 测试根CA")
	must(err)
	caFile := filepath.Join(dir, "ca.cert.pem")
	must(os.WriteFile(caFile, ca.CertPEM(), 0o600))
	_, err = ca.IssueToDir(dir, InstitutionName, testca.Institution)
	must(err)
	bidder, err := ca.Issue(BidderName, testca.Bidder, testca.WithCreditCode(BidderCode))
	must(err)

	listen := func() (net.Listener, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(err)
		t.Cleanup(func() { ln.Close() })
		return ln, "http://" + ln.Addr().String()
	}
	platLn, platURL := listen()
	instLn, instURL := listen()
	agentLn, agentURL := listen()

	const appKey, appSecret, platCode = "APPKEY-HX-0001", "2b7e151628aed2a6abf7158809cf4f3c", "PT330100"
	fast := config.Duration{Duration: 50 * time.Millisecond}
	pcfg := platform.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: platLn.Addr().String(), Plain: true, PublicURL: platURL},
			Storage:    config.Storage{DataDir: filepath.Join(dir, "platform")},
			TrustRoots: []string{caFile},
			Outbox:     config.Outbox{Poll: fast},
		},
		Institutions: []platform.Institution{{
			Peer: config.Peer{Name: InstitutionName, AppKey: appKey, AppSecret: appSecret, BaseURL: instURL, PlatformCode: platCode, ChunkSize: 16 << 10},
			Products: []platform.Product{
				{Name: Product, Rate: decimal.RequireFromString("0.005"), MinPremium: decimal.RequireFromString("100")},
				{Name: "投标保函（优惠费率）", Rate: decimal.RequireFromString("0.003"), MinPremium: decimal.RequireFromString("300")},
			},
			VerifyURL: instURL + "/verify",
		}},
	}
	icfg := institution.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: instLn.Addr().String(), Plain: true, PublicURL: instURL},
			Storage:    config.Storage{DataDir: filepath.Join(dir, "institution")},
			TrustRoots: []string{caFile},
			Outbox:     config.Outbox{Poll: fast},
		},
		Institution: institution.Identity{Name: InstitutionName, CreditCode: "91330100MA2HXDB01L",
			SealCert: filepath.Join(dir, InstitutionName+".cert.pem"), SealKey: filepath.Join(dir, InstitutionName+".key.pem"), Prefix: "HXDB",
			Address: "浙江省杭州市西湖区文三路100号", Phone: "0571-88886666"},
		Underwrite: institution.Underwriting{Mode: institution.ModeManual, MaxBond: "5000000"},
		Invoicing:  institution.Invoicing{Mode: institution.ModeAuto, Code: "033002300111"},
		Products: []institution.Product{
			{Name: Product, Rate: "0.005", MinPremium: "100", Terms: "见索即付，不可撤销"},
			{Name: "投标保函（优惠费率）", Rate: "0.003", MinPremium: "300"},
		},
		Platforms: []institution.Platform{{Peer: config.Peer{Name: PlatformName, AppKey: appKey, AppSecret: appSecret, BaseURL: platURL, PlatformCode: platCode, ChunkSize: 16 << 10}}},
	}
	t.Setenv(service.MasterKeyEnv, "000102030405060708090a0b0c0d0e0f")

	psvc, err := platform.New(ctx, pcfg, platform.WithLogger(logger))
	must(err)
	t.Cleanup(func() { psvc.Close() })
	isvc, err := institution.New(ctx, icfg, institution.WithLogger(logger))
	must(err)
	t.Cleanup(func() { isvc.Close() })

	opts := web.Options{AgentURL: agentURL, Logger: logger}
	// Every test logs in from 127.0.0.1, many times over: a throttle that
	// lets them (the login throttle is tested in package web and in
	// test/issues).
	throttle := web.WithLoginThrottle(1000, time.Millisecond)
	pc, err := web.Platform(ctx, psvc, opts, throttle)
	must(err)
	ic, err := web.Institution(ctx, isvc, opts, throttle)
	must(err)

	// Unattended: the browser tests drive the pages; nobody sits at the
	// agent to allow each signature.
	agent, err := caagent.New(caagent.Config{Key: bidder.Key, Cert: bidder.Cert, Origins: []string{platURL, instURL}, Logger: logger, Unattended: true})
	must(err)

	s := &Stack{PlatformURL: platURL, InstitutionURL: instURL, AgentURL: agentURL, Platform: psvc, Institution: isvc,
		PlatformConsole: pc, InstConsole: ic, CA: ca, Bidder: bidder, Accounts: map[string][]web.Account{}}
	s.Accounts["platform"], err = pc.Auth().DemoAccounts(ctx)
	must(err)
	s.Accounts["institution"], err = ic.Auth().DemoAccounts(ctx)
	must(err)

	_, err = psvc.RegisterBidder(ctx, platform.BidderInput{Name: BidderName, CreditCode: BidderCode, CertPEM: string(bidder.CertPEM)})
	must(err)
	sections := []platform.SectionInput{
		{No: SectionNo, Name: SectionName, Tenderer: "某市城市建设投资集团有限公司", TendererCode: "91330100MA2CTY001W",
			BondAmount: decimal.RequireFromString("800000.00"), KaibiaoTime: time.Now().Add(72 * time.Hour).Truncate(time.Hour)},
		{No: "BD-2026-0142", Name: "滨江学校新建工程监理", Tenderer: "某市教育局", TendererCode: "11330100MB1EDU001B",
			BondAmount: decimal.RequireFromString("50000.00"), KaibiaoTime: time.Now().Add(120 * time.Hour).Truncate(time.Hour)},
	}
	for _, in := range sections {
		_, err = psvc.RegisterSection(ctx, in)
		must(err)
	}

	serve := func(name string, ln net.Listener, h http.Handler) {
		srv := service.NewServer(h, logger)
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	serve("platform", platLn, pc.Handler(psvc.Handler()))
	serve("institution", instLn, ic.Handler(isvc.Handler()))
	go agent.Serve(ctx, agentLn)
	go psvc.Run(ctx)
	go isvc.Run(ctx)
	return s
}

// Account returns the password of a staff account.
func (s *Stack) Account(console, user string) string {
	for _, a := range s.Accounts[console] {
		if a.Username == user {
			return a.Password
		}
	}
	panic(fmt.Sprintf("no account %s/%s", console, user))
}
