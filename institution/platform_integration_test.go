package institution

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/platform"
)

// TestWithBaohanPlatform runs the institution against baohan's own
// platform, in process, through the whole flow: apply at the platform,
// the bidder's steps here, the ciphertext guarantee at the platform, the
// bid opening, the plaintext guarantee, an invoice.
func TestWithBaohanPlatform(t *testing.T) {
	e := newEnv(t, false)
	// Point the institution at a real platform instead of the fake.
	var ph atomic.Pointer[http.Handler]
	psrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := ph.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "not started", http.StatusServiceUnavailable)
	}))
	t.Cleanup(psrv.Close)
	e.stop()
	e.cfg.Platforms[0].BaseURL = psrv.URL
	e.start()

	pcfg := platform.Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true, PublicURL: psrv.URL},
			Storage:    config.Storage{DataDir: t.TempDir()},
			TrustRoots: e.cfg.TrustRoots,
			Admin:      config.Admin{Token: "p-admin"},
			Outbox:     config.Outbox{Poll: config.Duration{Duration: 20 * time.Millisecond}},
		},
		Institutions: []platform.Institution{{
			// The chunk size the institution uploads with (the harness: 1 KiB).
			Peer:     config.Peer{Name: "inst", AppKey: testAppKey, AppSecret: testSecret, BaseURL: e.srv.URL, PlatformCode: testPlatCode, ChunkSize: 1024},
			Products: []platform.Product{{Name: "投标保函", Rate: decimal.RequireFromString("0.005"), MinPremium: decimal.RequireFromString("100")}},
		}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plat, err := platform.New(ctx, pcfg, platform.WithRegistry(nil), platform.WithClock(e.clock), platform.WithLogger(e.logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer plat.Close()
	h := plat.Handler()
	ph.Store(&h)
	go plat.Run(ctx)

	kaibiao := time.Now().Add(time.Hour)
	if _, err := plat.RegisterSection(ctx, platform.SectionInput{No: testBiaoduan, Name: testBDName, Tenderer: testZbr,
		TendererCode: testZbrOrgNum, BondAmount: decimal.RequireFromString("200000"), KaibiaoTime: kaibiao}); err != nil {
		t.Fatal(err)
	}
	if _, err := plat.RegisterBidder(ctx, platform.BidderInput{Name: testBidder, CreditCode: e.bidder.CreditCode, CertPEM: string(e.bidder.CertPEM)}); err != nil {
		t.Fatal(err)
	}
	pa, err := plat.Apply(ctx, platform.ApplyInput{SectionNo: testBiaoduan, BidderCode: e.bidder.CreditCode, Institution: "inst", Product: "投标保函"})
	if err != nil {
		t.Fatal(err)
	}
	var redirect string
	e.waitFor("redirecturl", func() bool {
		a, err := plat.Application(ctx, pa.ApplyNo)
		if err == nil {
			redirect = a.RedirectURL
		}
		return redirect != ""
	})
	tok := strings.TrimPrefix(redirect, e.srv.URL+"/bidder/")
	// The bidder: open, sign, pay.
	var v BidderView
	e.bidderDo("GET", "/bidder/"+tok, nil, &v)
	layout, _ := gm.ParseCipherLayout(v.SM2Layout)
	key, err := gm.SM2Decrypt(e.bidder.Key, mustB64(t, v.DigitalEnvelope), layout)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.bidderDo("POST", "/bidder/"+tok+"/open", []byte(`{"key":"`+base64.StdEncoding.EncodeToString(key)+`"}`), &v); st != 200 {
		t.Fatalf("open: %d", st)
	}
	var agreement []byte
	e.bidderDo("GET", "/bidder/"+tok+"/agreement", nil, &agreement)
	if st := e.bidderDo("POST", "/bidder/"+tok+"/agreement", e.signAs(e.bidder, agreement), &v); st != 200 {
		t.Fatalf("sign: %d %+v", st, v)
	}
	e.pay(tok)
	e.waitFor("ciphertext guarantee at the platform", func() bool {
		a, err := plat.Application(ctx, pa.ApplyNo)
		return err == nil && a.State == platform.CipherReceived
	})
	e.waitState(pa.ApplyNo, Issued)
	// Bid opening: the platform releases the key.
	e.advance(2 * time.Hour)
	if _, err := plat.RestoreNow(ctx, pa.ApplyNo); err != nil {
		t.Fatalf("restore: %v", err)
	}
	e.waitState(pa.ApplyNo, Restored)
	e.waitFor("plaintext guarantee at the platform", func() bool {
		a, err := plat.Application(ctx, pa.ApplyNo)
		return err == nil && a.State == platform.PlainReceived
	})
	p, err := e.svc.RestoredProject(ctx, e.app(pa.ApplyNo).ID)
	if err != nil || p.BiaoduanName != testBDName {
		t.Errorf("restored project %+v %v", p, err)
	}
}
