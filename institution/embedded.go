package institution

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/service"
)

// Embedded defaults: what `baohan institution serve` runs on without a
// configuration file.
const (
	DefaultAddr      = "127.0.0.1:8082"
	DemoPlatformName = "demo"
	DemoAppKey       = "demo-inst"
	DemoPlatformURL  = "http://127.0.0.1:8080"
	DemoInstitution  = "示范融资担保有限公司"
	demoIdentityName = "institution"
	demoSecretFile   = "demo-inst.appsecret"
)

// EmbeddedOptions adjust Embedded.
type EmbeddedOptions struct {
	Addr        string // listen address (default DefaultAddr)
	PublicURL   string // default http://<Addr>
	PlatformURL string // the demo platform's base URL (default DemoPlatformURL)
	DB          string // "" = SQLite in the data directory
}

// Embedded returns the embedded default configuration for data directory
// dir: SQLite in dir, plain HTTP on opts.Addr, one demo platform peer
// (appkey demo-inst) whose appsecret is read from dir or generated, an
// admin token read from dir or generated, and a test CA with the
// institution's seal identity in dir/ca (made when absent). Secrets made
// now are printed once to w, with where they are kept.
func Embedded(dir string, opts EmbeddedOptions, w io.Writer) (Config, error) {
	if dir == "" {
		return Config{}, errors.New("a data directory is required")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Config{}, err
	}
	caDir := filepath.Join(dir, "ca")
	made, err := service.EnsureTestCA(caDir)
	if err != nil {
		return Config{}, err
	}
	if made {
		fmt.Fprintf(w, "made a test CA in %s (for demos and tests only)\n", caDir)
	}
	ca, err := pki.Load(caDir)
	if err != nil {
		return Config{}, fmt.Errorf("test CA in %s: %w", caDir, err)
	}
	if !exists(filepath.Join(caDir, pki.CertFile(demoIdentityName))) {
		id, err := ca.IssueToDir(caDir, demoIdentityName, pki.Institution)
		if err != nil {
			return Config{}, err
		}
		fmt.Fprintf(w, "issued the institution's seal certificate %s (credit code %s)\n",
			filepath.Join(caDir, pki.CertFile(demoIdentityName)), id.CreditCode)
	}
	id, err := pki.LoadIdentity(caDir, demoIdentityName)
	if err != nil {
		return Config{}, err
	}
	secret, made, err := service.ReadOrMakeSecret(filepath.Join(dir, demoSecretFile))
	if err != nil {
		return Config{}, err
	}
	if made {
		fmt.Fprintf(w, "demo platform peer: appkey %s appsecret %s (kept in %s)\n", DemoAppKey, secret, filepath.Join(dir, demoSecretFile))
	}
	public := opts.PublicURL
	if public == "" {
		public = "http://" + opts.Addr
	}
	platformURL := opts.PlatformURL
	if platformURL == "" {
		platformURL = DemoPlatformURL
	}
	cfg := Config{
		Common: config.Common{
			Listen:     config.Listen{Addr: opts.Addr, Plain: true, PublicURL: public},
			Storage:    config.Storage{DB: opts.DB, DataDir: dir},
			TrustRoots: []string{filepath.Join(caDir, pki.CACertFile)},
		},
		Institution: Identity{
			Name: DemoInstitution, CreditCode: id.CreditCode,
			Address: "杭州市西湖区示范路1号", Phone: "0571-88886666", // printed on the guarantee (担保人地址, 联系电话)
			SealCert: filepath.Join(caDir, pki.CertFile(demoIdentityName)),
			SealKey:  filepath.Join(caDir, pki.KeyFile(demoIdentityName)),
			Prefix:   "DEMO",
		},
		Underwrite: Underwriting{Mode: ModeAuto},
		Invoicing:  Invoicing{Mode: ModeAuto},
		Products: []Product{{Name: "投标保函", Rate: "0.005", MinPremium: "100",
			Terms: "见索即付：在保函有效期内，受益人提交书面索赔通知即予赔付，金额不超过担保金额。"}},
		Platforms: []Platform{{Peer: config.Peer{Name: DemoPlatformName, AppKey: DemoAppKey, AppSecret: secret, BaseURL: platformURL}}},
	}
	if err := service.EnsureAdminToken(&cfg.Common, w); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
