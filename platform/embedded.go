package platform

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/service"
)

// Embedded defaults: what `baohan platform serve` runs on without a
// configuration file.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DemoInstitutionName = "demo"
	DemoAppKey          = "demo-inst"
	DemoInstitutionURL  = "http://127.0.0.1:8082/"
	DemoPlatformCode    = "BAOHAN-DEMO"
	demoSecretFile      = "demo-inst.appsecret"
)

// EmbeddedOptions adjust Embedded.
type EmbeddedOptions struct {
	Addr           string // listen address (default DefaultAddr)
	DB             string // "" = SQLite in the data directory
	InstitutionURL string // the demo institution's base URL (default DemoInstitutionURL)
}

// Embedded returns the embedded default configuration for data directory
// dir: SQLite in dir, plain HTTP on opts.Addr, one demo institution
// (appkey demo-inst, appsecret read from dir or generated), an admin
// token read from dir or generated, and a test CA in dir/ca (made when
// absent) as the trust root. Secrets made now are printed once to w, with
// where they are kept; they are never printed again.
func Embedded(dir string, opts EmbeddedOptions, w io.Writer) (Config, error) {
	if dir == "" {
		return Config{}, errors.New("a data directory is required")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.InstitutionURL == "" {
		opts.InstitutionURL = DemoInstitutionURL
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Config{}, err
	}
	caDir := filepath.Join(dir, "ca")
	caFile := filepath.Join(caDir, pki.CACertFile)
	made, err := service.EnsureTestCA(caDir)
	if err != nil {
		return Config{}, err
	}
	if made {
		fmt.Fprintf(w, "made a test CA in %s (its certificate is the trust root; for demos and tests only)\n", caDir)
	}
	secret, made, err := service.ReadOrMakeSecret(filepath.Join(dir, demoSecretFile))
	if err != nil {
		return Config{}, err
	}
	if made {
		fmt.Fprintf(w, "demo institution: appkey %s appsecret %s (kept in %s)\n", DemoAppKey, secret, filepath.Join(dir, demoSecretFile))
	}
	cfg := Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: opts.Addr, Plain: true, PublicURL: "http://" + opts.Addr},
			Storage:    config.Storage{DB: opts.DB, DataDir: dir},
			TrustRoots: []string{caFile},
		},
		Institutions: []Institution{{
			Peer: config.Peer{Name: DemoInstitutionName, AppKey: DemoAppKey, AppSecret: secret,
				BaseURL: opts.InstitutionURL, PlatformCode: DemoPlatformCode},
			Products: []Product{{Name: "投标保函", Rate: decimal.RequireFromString("0.005"), MinPremium: decimal.RequireFromString("100")}},
		}},
	}
	if err := service.EnsureAdminToken(&cfg.Common, w); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
