package issues

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/conformance"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
)

// The conformance kit's checks of the optional claim outcome interfaces,
// in both roles, against baohan's own services with the interfaces
// enabled on both sides: the kit plays the institution of the harness's
// platform, then the platform of the harness's institution. Each check
// passes (not skipped, not a warning).

// kitEndpoint serves a suite's handler once it exists.
type kitEndpoint struct{ h atomic.Pointer[http.Handler] }

func (k *kitEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := k.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "the kit is not ready", http.StatusServiceUnavailable)
}

func (k *kitEndpoint) set(h http.Handler) { k.h.Store(&h) }

var extensionChecks = []string{"claimsresultnotice", "claimsrepaynotice"}

func wantExtensionChecks(t *testing.T, r *conformance.Report, extra ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range append(append([]string{}, extensionChecks...), extra...) {
		want[id] = true
	}
	for _, res := range r.Results {
		if res.Status == conformance.Fail {
			t.Errorf("%s failed: %s", res.ID, res.Got)
		}
		if want[res.ID] {
			delete(want, res.ID)
			if res.Status != conformance.Pass {
				t.Errorf("%s: %s (%s), want a pass", res.ID, res.Status, res.Got)
			}
		}
	}
	for id := range want {
		t.Errorf("no check %s ran", id)
	}
	used := map[protocol.Interface]bool{}
	for _, i := range r.Interfaces {
		used[i] = true
	}
	if !used[protocol.ClaimsResultNotice] || !used[protocol.ClaimsRepayNotice] || len(r.Interfaces) != 16 {
		t.Errorf("interfaces exchanged: %v, want the 14 + 2 optional", r.Interfaces)
	}
}

func TestConformanceKitChecksClaimOutcomes(t *testing.T) {
	ext := []protocol.Interface{protocol.ClaimsResultNotice, protocol.ClaimsRepayNotice}

	t.Run("platform under test", func(t *testing.T) {
		r := runPlatformKit(t, ext)
		wantExtensionChecks(t, r, "field.required-if/claimsresultnotice", "claimsresultnotice.bound", "field.enum/claimsrepaynotice")
		for _, res := range r.Results {
			if res.ID == "extensions.off" && res.Status != conformance.Skip {
				t.Errorf("extensions.off ran against a platform that enables them: %s", res.Status)
			}
		}
	})

	t.Run("institution under test", func(t *testing.T) {
		kit := &kitEndpoint{}
		ks := httptest.NewServer(kit)
		t.Cleanup(ks.Close)
		s := harness.Start(t, harness.Quiet(), harness.WithInstitutionPeer(func(p *config.Peer) {
			p.BaseURL, p.Extensions = ks.URL, bothExtensions // the kit is the institution's platform
		}))
		cfg := conformance.Config{URL: s.InstDoor.URL, AppKey: harness.AppKey, AppSecret: harness.AppSecret, PlatformCode: harness.PlatformCode,
			ListenURL: ks.URL, Wait: 20 * time.Second, Extensions: ext}
		drv := conformance.BidderAPI{AdminURL: s.InstDoor.URL, AdminToken: harness.InstAdmin}
		suite, err := conformance.NewInstitutionSuite(cfg, drv, conformance.BidderFromIdentity(s.PKI.Bidder), nil)
		if err != nil {
			t.Fatal(err)
		}
		kit.set(suite.Handler())
		r := suite.Run(context.Background())
		wantExtensionChecks(t, r)
	})

	t.Run("platform without them", func(t *testing.T) {
		r := runPlatformKit(t, nil)
		for _, res := range r.Results {
			if res.ID == "extensions.off" && (res.Status != conformance.Pass || !strings.Contains(res.Got, "not enabled")) {
				t.Errorf("extensions.off: %s %s", res.Status, res.Got)
			}
			if res.Status == conformance.Fail {
				t.Errorf("%s failed: %s", res.ID, res.Got)
			}
		}
		if len(r.Interfaces) != 14 {
			t.Errorf("interfaces exchanged: %v, want the 14", r.Interfaces)
		}
	})
}

// runPlatformKit runs the platform suite against the harness's platform,
// whose institution is the kit, with ext enabled on both sides.
func runPlatformKit(t *testing.T, ext []protocol.Interface) *conformance.Report {
	t.Helper()
	kit := &kitEndpoint{}
	ks := httptest.NewServer(kit)
	t.Cleanup(ks.Close)
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(func(p *config.Peer) {
		p.BaseURL = ks.URL // the kit is the platform's institution
		for _, i := range ext {
			p.Extensions = append(p.Extensions, string(i))
		}
	}))
	cfg := conformance.Config{URL: s.PlatDoor.URL, AppKey: harness.AppKey, AppSecret: harness.AppSecret, PlatformCode: harness.PlatformCode,
		ListenURL: ks.URL, Wait: 20 * time.Second, Extensions: ext, Bidder: conformance.BidderFromIdentity(s.PKI.Bidder),
		Profile: conformance.Profile{ChunkSize: 4096}} // the harness's chunk size
	seal, err := conformance.SealedGuarantee(s.PKI.Inst)
	if err != nil {
		t.Fatal(err)
	}
	drv := &conformance.AdminPlatform{URL: s.PlatDoor.URL, Token: harness.PlatformAdmin, AppKey: harness.AppKey,
		Bidder: cfg.Bidder, OpeningDelay: time.Second}
	suite, err := conformance.NewPlatformSuite(cfg, drv, seal)
	if err != nil {
		t.Fatal(err)
	}
	kit.set(suite.Handler())
	return suite.Run(context.Background())
}
