package platform

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/service/servicetest"
)

// TestExampleKeysTakeEffect: every key of the platform's configuration
// (docs/platform.example.toml, made runnable: test certificates, a
// temporary data directory) changes something in the service built from
// it: no key is declared and ignored.
func TestExampleKeysTakeEffect(t *testing.T) {
	p := getPKI(t)
	t.Setenv(service.MasterKeyEnv, "")
	sealCert := filepath.Join(t.TempDir(), "seal.pem")
	if err := os.WriteFile(sealCert, p.inst.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := func(t testing.TB) Config {
		c, err := LoadConfig("../docs/platform.example.toml")
		if err != nil {
			t.Fatal(err)
		}
		c.TrustRoots = []string{p.caFile}
		c.Storage.DataDir = t.TempDir()
		c.Admin.Token = servicetest.AdminToken
		for i := range c.Institutions {
			for j := range c.Institutions[i].SealCerts {
				c.Institutions[i].SealCerts[j] = sealCert
			}
		}
		return c
	}
	build := func(t testing.TB, c Config) *Service {
		svc, err := New(context.Background(), c, WithLogger(testLogger()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		return svc
	}
	effects := servicetest.CommonEffects(func(c *Config) *config.Common { return &c.Common },
		func(c *Config) *config.Peer { return &c.Institutions[0].Peer }, "institution",
		func(s *Service) *service.Core { return s.core }, func(s *Service) http.Handler { return s.Handler() })
	type E = servicetest.Effect[Config, *Service]
	first := func(set func(in *Institution)) func(testing.TB, *Config) {
		return func(_ testing.TB, c *Config) { set(&c.Institutions[0]) }
	}
	// What the API and the consoles show of the institutions, and the
	// product terms an application is priced with.
	shown := func(s *Service) any { return fmt.Sprintf("%+v", s.Institutions()) }
	pins := func(s *Service) any {
		out := map[string]string{}
		for n, p := range s.pins {
			out[n] = fmt.Sprint(p.creditCode, len(p.certs))
		}
		return out
	}
	for k, e := range map[string]E{
		// Read where a chunk is taken (files.go) and a guarantee checked.
		"max_file_size":                     {Set: func(_ testing.TB, c *Config) { c.MaxFileSize = 1 << 20 }, Seen: func(s *Service) any { return s.cfg.MaxFileSize }},
		"accept_failed_seals":               {Set: func(_ testing.TB, c *Config) { c.AcceptFailedSeals = true }, Seen: func(s *Service) any { return s.cfg.AcceptFailedSeals }},
		"institution.require_basic_account": {Set: first(func(in *Institution) { in.RequireBasicAccount = !in.RequireBasicAccount }), Seen: shown},
		"institution.no_canclenotice":       {Set: first(func(in *Institution) { in.NoCancel = !in.NoCancel }), Seen: shown},
		"institution.product.name":          {Set: first(func(in *Institution) { in.Products[0].Name = "另一种保函" }), Seen: shown},
		"institution.product.rate":          {Set: first(func(in *Institution) { in.Products[0].Rate = decimal.RequireFromString("0.007") }), Seen: shown},
		"institution.product.min_premium":   {Set: first(func(in *Institution) { in.Products[0].MinPremium = decimal.RequireFromString("300") }), Seen: shown},
		"institution.seal_credit_code":      {Set: first(func(in *Institution) { in.SealCreditCode = "91110000MA01OTHER1" }), Seen: pins},
		"institution.seal_certs":            {Set: first(func(in *Institution) { in.SealCerts = []string{sealCert} }), Seen: pins},
		// Read where a received guarantee is checked (verify.go).
		"institution.verify_url": {Set: first(func(in *Institution) { in.VerifyURL = "https://other.example.cn/verify" }),
			Seen: func(s *Service) any { in, _ := s.institutionConfig(s.cfg.Institutions[0].Name); return in.VerifyURL }},
	} {
		effects[k] = e
	}
	servicetest.KeysTakeEffect(t, fresh, build, effects)
}
