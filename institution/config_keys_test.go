package institution

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/service/servicetest"
)

// TestExampleKeysTakeEffect: every key of the institution's
// configuration (docs/institution.example.toml, made runnable: test
// certificates, a temporary data directory) changes something in the
// service built from it: no key is declared and ignored (the top-level
// timestamp_window was, seal_name was without seal_picture).
func TestExampleKeysTakeEffect(t *testing.T) {
	t.Setenv(service.MasterKeyEnv, "")
	dir := t.TempDir()
	ca, err := testca.New("测试根CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Two seal identities: one in use, one to change to.
	for _, name := range []string{"inst", "other"} {
		if _, err := ca.IssueToDir(dir, name, testca.Institution); err != nil {
			t.Fatal(err)
		}
	}
	var pic bytes.Buffer
	png.Encode(&pic, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	picture := filepath.Join(dir, "seal.png")
	if err := os.WriteFile(picture, pic.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := func(t testing.TB) Config {
		c, err := LoadConfig("../docs/institution.example.toml")
		if err != nil {
			t.Fatal(err)
		}
		c.TrustRoots = []string{caFile}
		c.Storage.DataDir = t.TempDir()
		c.Admin.Token = servicetest.AdminToken
		c.Institution.SealCert, c.Institution.SealKey = filepath.Join(dir, testca.CertFile("inst")), filepath.Join(dir, testca.KeyFile("inst"))
		return c
	}
	build := func(t testing.TB, c Config) *Service {
		svc, err := New(context.Background(), c, WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		return svc
	}
	effects := servicetest.CommonEffects(func(c *Config) *config.Common { return &c.Common },
		func(c *Config) *config.Peer { return &c.Platforms[0].Peer }, "platform",
		func(s *Service) *service.Core { return s.core }, func(s *Service) http.Handler { return s.Handler() })
	type E = servicetest.Effect[Config, *Service]
	id := func(set func(id *Identity)) func(testing.TB, *Config) {
		return func(_ testing.TB, c *Config) { set(&c.Institution) }
	}
	otherSeal := id(func(id *Identity) {
		id.SealCert, id.SealKey = filepath.Join(dir, testca.CertFile("other")), filepath.Join(dir, testca.KeyFile("other"))
	})
	// What the guarantees and agreements are made with.
	documents := func(s *Service) any {
		d := s.docs.(*OFDDocuments)
		return fmt.Sprintf("%+v %x %s %x", d.id, d.cert.SerialNumber, d.seal.Name, sha256.Sum256(d.seal.Picture))
	}
	// Read where an application is underwritten and an invoice issued.
	checked := func(s *Service) any {
		return fmt.Sprintf("%+v %+v %+v", *s.chk, s.cfg.Underwrite.Mode, s.cfg.Invoicing)
	}
	for k, e := range map[string]E{
		"institution.name":            {Set: id(func(id *Identity) { id.Name = "另一家融资担保有限公司" }), Seen: documents},
		"institution.credit_code":     {Set: id(func(id *Identity) { id.CreditCode = "91110000MA01OTHER1" }), Seen: documents},
		"institution.seal_cert":       {Set: otherSeal, Seen: documents},
		"institution.seal_key":        {Set: otherSeal, Seen: documents},
		"institution.seal_picture":    {Set: id(func(id *Identity) { id.SealPicture = picture }), Seen: documents},
		"institution.seal_name":       {Set: id(func(id *Identity) { id.SealName = "另一枚保函专用章" }), Seen: documents},
		"institution.baohanno_prefix": {Set: id(func(id *Identity) { id.Prefix = "OTHR" }), Seen: documents},
		"institution.address":         {Set: id(func(id *Identity) { id.Address = "另一个地址" }), Seen: documents},
		"institution.phone":           {Set: id(func(id *Identity) { id.Phone = "010-11111111" }), Seen: documents},
		"underwriting.mode":           {Set: func(_ testing.TB, c *Config) { c.Underwrite.Mode = ModeAuto }, Seen: checked},
		"underwriting.max_bond":       {Set: func(_ testing.TB, c *Config) { c.Underwrite.MaxBond = "1000" }, Seen: checked},
		"underwriting.blocked":        {Set: func(_ testing.TB, c *Config) { c.Underwrite.Blocked = []string{"91110000MA01OTHER1"} }, Seen: checked},
		"invoicing.mode":              {Set: func(_ testing.TB, c *Config) { c.Invoicing.Mode = ModeAuto }, Seen: checked},
		"invoicing.code":              {Set: func(_ testing.TB, c *Config) { c.Invoicing.Code = "999" }, Seen: checked},
		"invoicing.prefix":            {Set: func(_ testing.TB, c *Config) { c.Invoicing.Prefix = "FP" }, Seen: checked},
		"product.name":                {Set: func(_ testing.TB, c *Config) { c.Products[0].Name = "另一种保函" }, Seen: checked},
		"product.rate":                {Set: func(_ testing.TB, c *Config) { c.Products[0].Rate = "0.007" }, Seen: checked},
		"product.min_premium":         {Set: func(_ testing.TB, c *Config) { c.Products[0].MinPremium = "300" }, Seen: checked},
		"product.terms":               {Set: func(_ testing.TB, c *Config) { c.Products[0].Terms = "另一种条款" }, Seen: checked},
		"platform.basic_account": {Set: func(_ testing.TB, c *Config) { c.Platforms[0].BasicAccount = !c.Platforms[0].BasicAccount },
			Seen: func(s *Service) any { return s.peers.byName[s.cfg.Platforms[0].Name].cfg.BasicAccount }},
	} {
		effects[k] = e
	}
	// max_chunk_size is the platform's limit: a chunk_size above it is
	// refused at start.
	c := fresh(t)
	c.Platforms[0].ChunkSize, c.Platforms[0].MaxChunkSize = 2<<20, 1<<20
	if _, err := New(context.Background(), c, WithLogger(slog.New(slog.DiscardHandler))); err == nil || !strings.Contains(err.Error(), "max_chunk_size") {
		t.Errorf("chunk_size above max_chunk_size: %v", err)
	}
	servicetest.KeysTakeEffect(t, fresh, build, effects)
}
