package conformance_test

// The two suites against this project's own services, in process, over
// real HTTP: what CI runs so that both services stay conformant.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/conformance"
	"github.com/baohan-dev/baohan/conformance/faults"
	"github.com/baohan-dev/baohan/demo"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
)

const (
	appKey    = "conformance-appkey"
	appSecret = "conformance-appsecret-0123456789abcdef"
	platCode  = "CONFPLAT"
)

// pki is a test CA with a bidder and an institution seal.
type pki struct {
	ca     *testca.CA
	caFile string
	bidder *testca.Identity
	inst   *testca.Identity
	dir    string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := testca.New("一致性测试根CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &pki{ca: ca, dir: dir, caFile: filepath.Join(dir, "ca.cert.pem")}
	if err := os.WriteFile(p.caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if p.bidder, err = ca.Issue("一致性测试投标人有限公司", testca.Bidder); err != nil {
		t.Fatal(err)
	}
	// The kit plays the demo platform's institution: the platform pins
	// its seal by the institution's credit code.
	if p.inst, err = ca.IssueToDir(dir, "inst", testca.Institution, testca.WithCreditCode(demo.InstitutionCode)); err != nil {
		t.Fatal(err)
	}
	return p
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startPlatform runs a baohan platform whose one institution is at
// instURL; it trusts p's CA. It returns the platform's URL and admin token.
func startPlatform(t *testing.T, p *pki, instURL string, revision protocol.Revision) (string, string) {
	t.Helper()
	return startSide(t, p, instURL, harness.PlatformSide, withRevision(revision))
}

// startInstitution runs a baohan institution whose one platform is at
// platURL; its seal and trust root are p's CA.
func startInstitution(t *testing.T, p *pki, platURL string, revision protocol.Revision) string {
	t.Helper()
	u, _ := startSide(t, p, platURL, harness.InstitutionSide, withRevision(revision))
	return u
}

// withRevision sets the peer's interface revision.
func withRevision(r protocol.Revision) func(*config.Peer) {
	return func(c *config.Peer) { c.Revision = string(r) }
}

func startSide(t *testing.T, p *pki, peerURL string, which harness.Which, edit ...func(*config.Peer)) (string, string) {
	t.Helper()
	parties := demo.Parties
	parties.AppKey, parties.AppSecret, parties.PlatformCode = appKey, appSecret, platCode
	opts := append(demo.Setup(0), harness.WithParties(parties), harness.WithDir(t.TempDir()), harness.WithCA(p.ca), harness.WithLogger(logger()))
	for _, e := range edit {
		// The side's peer entry: the institution at the platform, the
		// platform at the institution.
		opts = append(opts, harness.WithPlatformPeer(e), harness.WithInstitutionPeer(e))
	}
	s, err := harness.NewSide(context.Background(), which, peerURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if which == harness.PlatformSide {
		return s.PlatformURL(), s.Parties.PlatformAdmin
	}
	return s.InstitutionURL(), s.Parties.InstitutionAdmin
}

func kitConfig(target, listen string) conformance.Config {
	return conformance.Config{URL: target, AppKey: appKey, AppSecret: appSecret, PlatformCode: platCode,
		ListenURL: listen, Wait: 20 * time.Second}
}

// revisions are the interface revisions both suites run in against the
// services configured for them.
var revisions = []protocol.Revision{protocol.RevisionEnvelope, protocol.RevisionFlat}

func TestPlatformSuiteAgainstBaohanPlatform(t *testing.T) {
	for _, rev := range revisions {
		t.Run(string(rev), func(t *testing.T) { platformSuite(t, rev) })
	}
}

func platformSuite(t *testing.T, rev protocol.Revision) {
	p := newPKI(t)
	kit, lh := conformance.KitServer(t)
	platURL, adminToken := startPlatform(t, p, kit.URL, rev)
	cfg := kitConfig(platURL, kit.URL)
	cfg.Profile.Revision = rev
	cfg.Bidder = conformance.BidderFromIdentity(p.bidder)
	// The demo's platform enables the claim outcome interfaces.
	cfg.Extensions = []protocol.Interface{protocol.ClaimsResultNotice, protocol.ClaimsRepayNotice}
	seal, err := conformance.SealedGuarantee(p.inst)
	if err != nil {
		t.Fatal(err)
	}
	drv := &conformance.AdminPlatform{URL: platURL, Token: adminToken, AppKey: appKey, Bidder: conformance.BidderFromIdentity(p.bidder), OpeningDelay: time.Second}
	s, err := conformance.NewPlatformSuite(cfg, drv, seal)
	if err != nil {
		t.Fatal(err)
	}
	lh.Set(s.Handler())
	r := s.Run(context.Background())
	logSlow(t, r)
	if !r.Passed(false) {
		t.Errorf("the platform suite failed against baohan's platform:\n%s", table(r))
	}
	if len(r.Interfaces) != 16 {
		t.Errorf("interfaces exchanged: %d, want the 14 + 2 optional", len(r.Interfaces))
	}
}

func TestInstitutionSuiteAgainstBaohanInstitution(t *testing.T) {
	for _, rev := range revisions {
		t.Run(string(rev), func(t *testing.T) { institutionSuite(t, rev) })
	}
}

func institutionSuite(t *testing.T, rev protocol.Revision) {
	p := newPKI(t)
	kit, lh := conformance.KitServer(t)
	instURL := startInstitution(t, p, kit.URL, rev)
	cfg := kitConfig(instURL, kit.URL)
	cfg.Profile.Revision = rev
	cfg.TrustRoots = []*smx509.Certificate{p.ca.Cert}
	s, err := conformance.NewInstitutionSuite(cfg, conformance.BidderAPI{},
		conformance.BidderFromIdentity(p.bidder), nil)
	if err != nil {
		t.Fatal(err)
	}
	lh.Set(s.Handler())
	r := s.Run(context.Background())
	logSlow(t, r)
	if !r.Passed(false) {
		t.Errorf("the institution suite failed against baohan's institution:\n%s", table(r))
	}
	if len(r.Interfaces) != 14 {
		t.Errorf("interfaces exchanged: %d, want 14", len(r.Interfaces))
	}
}

// TestSuitesInADialect runs both suites with the kit and baohan's
// service set to the same non-default dialect (the flags of baohan
// conformance and the keys of the peer's configuration): every check
// passes, so the kit speaks it, and so does the service.
func TestSuitesInADialect(t *testing.T) {
	d := conformance.Dialect{Sign: "hmac-sm3", Encoding: "hex", SM2Layout: "c1c2c3", FileDigest: "md5-ciphertext"}
	edit := func(pe *config.Peer) {
		pe.Sign, pe.Encoding, pe.SM2Layout, pe.FileDigest = d.Sign, d.Encoding, d.SM2Layout, d.FileDigest
	}
	t.Run("platform", func(t *testing.T) {
		p := newPKI(t)
		kit, lh := conformance.KitServer(t)
		platURL, adminToken := startSide(t, p, kit.URL, harness.PlatformSide, edit)
		cfg := kitConfig(platURL, kit.URL)
		if err := cfg.Profile.SetDialect(d); err != nil {
			t.Fatal(err)
		}
		cfg.Bidder = conformance.BidderFromIdentity(p.bidder)
		seal, err := conformance.SealedGuarantee(p.inst)
		if err != nil {
			t.Fatal(err)
		}
		drv := &conformance.AdminPlatform{URL: platURL, Token: adminToken, AppKey: appKey, Bidder: conformance.BidderFromIdentity(p.bidder), OpeningDelay: time.Second}
		s, err := conformance.NewPlatformSuite(cfg, drv, seal)
		if err != nil {
			t.Fatal(err)
		}
		lh.Set(s.Handler())
		if r := s.Run(context.Background()); !r.Passed(false) {
			t.Errorf("the platform suite in %+v failed against baohan's platform:\n%s", d, table(r))
		}
	})
	t.Run("institution", func(t *testing.T) {
		p := newPKI(t)
		kit, lh := conformance.KitServer(t)
		instURL, _ := startSide(t, p, kit.URL, harness.InstitutionSide, edit)
		cfg := kitConfig(instURL, kit.URL)
		if err := cfg.Profile.SetDialect(d); err != nil {
			t.Fatal(err)
		}
		cfg.TrustRoots = []*smx509.Certificate{p.ca.Cert}
		s, err := conformance.NewInstitutionSuite(cfg, conformance.BidderAPI{}, conformance.BidderFromIdentity(p.bidder), nil)
		if err != nil {
			t.Fatal(err)
		}
		lh.Set(s.Handler())
		if r := s.Run(context.Background()); !r.Passed(false) {
			t.Errorf("the institution suite in %+v failed against baohan's institution:\n%s", d, table(r))
		}
	})
}

// logSlow lists the checks that took longest (with -v).
func logSlow(t *testing.T, r *conformance.Report) {
	for _, res := range r.Results {
		if res.Duration > 300*time.Millisecond {
			t.Logf("%-40s %s", res.ID, res.Duration.Round(time.Millisecond))
		}
	}
}

func table(r *conformance.Report) string {
	var b stringsBuilder
	r.WriteTable(&b)
	return b.String()
}

type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *stringsBuilder) String() string              { return string(s.b) }

// The kit catches faults put into baohan's own services (middleware in
// front of them, or in front of the kit for their outgoing calls): each
// fault fails exactly the checks named.
func TestSuitesCatchFaultsInBaohanServices(t *testing.T) {
	type fault struct {
		name      string
		peer, kit faults.Middleware
		want      []string
	}
	t.Run("platform", func(t *testing.T) {
		for _, c := range []fault{
			{"skips sign checks", faults.SkipSign(appSecret), nil, []string{"sign.missing", "sign.tampered", "sign.wrong"}},
			{"accepts a conflicting chunk", faults.AcceptConflictingChunk(), nil, []string{"uploadbaohanfile.conflict"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := newPKI(t)
				kit, lh := conformance.KitServer(t)
				platURL, adminToken := startPlatform(t, p, kit.URL, protocol.RevisionEnvelope)
				target := httptest.NewServer(c.peer(proxyTo(t, platURL)))
				t.Cleanup(target.Close)
				cfg := kitConfig(target.URL, kit.URL)
				cfg.Bidder = conformance.BidderFromIdentity(p.bidder)
				seal, _ := conformance.SealedGuarantee(p.inst)
				drv := &conformance.AdminPlatform{URL: platURL, Token: adminToken, AppKey: appKey, Bidder: conformance.BidderFromIdentity(p.bidder), OpeningDelay: time.Second}
				s, err := conformance.NewPlatformSuite(cfg, drv, seal)
				if err != nil {
					t.Fatal(err)
				}
				lh.Set(s.Handler())
				checkFailed(t, s.Run(context.Background()), c.want)
			})
		}
	})
	t.Run("institution", func(t *testing.T) {
		for _, c := range []fault{
			{"answers non-JSON", faults.NonJSONErrors(), nil, []string{"answers.json", "answers.not-json"}},
			{"mis-numbers chunks", nil, faults.ShiftChunkIndexes(appSecret), []string{"uploadbaohanfile"}},
			{"sends a wrong digest", nil, faults.WrongDigest(appSecret), []string{"baohanfilecompletenotice.digest"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := newPKI(t)
				kit, lh := conformance.KitServer(t)
				instURL := startInstitution(t, p, kit.URL, protocol.RevisionEnvelope)
				target := instURL
				if c.peer != nil {
					srv := httptest.NewServer(c.peer(proxyTo(t, instURL)))
					t.Cleanup(srv.Close)
					target = srv.URL
				}
				cfg := kitConfig(target, kit.URL)
				cfg.Wait = 5 * time.Second
				cfg.TrustRoots = []*smx509.Certificate{p.ca.Cert}
				s, err := conformance.NewInstitutionSuite(cfg, conformance.BidderAPI{},
					conformance.BidderFromIdentity(p.bidder), nil)
				if err != nil {
					t.Fatal(err)
				}
				var h http.Handler = s.Handler()
				if c.kit != nil {
					h = c.kit(h)
				}
				lh.Set(h)
				checkFailed(t, s.Run(context.Background()), c.want)
			})
		}
	})
}

// proxyTo forwards requests to a base URL.
func proxyTo(t *testing.T, base string) http.Handler {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}

func checkFailed(t *testing.T, r *conformance.Report, want []string) {
	t.Helper()
	var got []string
	for _, res := range r.Results {
		if res.Status == conformance.Fail {
			got = append(got, res.ID)
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("failed checks %v, want %v\n%s", got, want, table(r))
	}
}
