package platform

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/service"
)

// EnvPrefix is the prefix of the environment variables that override the
// configuration file: BAOHAN_PLATFORM_LISTEN_ADDR, BAOHAN_PLATFORM_STORAGE_DB,
// BAOHAN_PLATFORM_ADMIN_TOKEN, ...
const EnvPrefix = "BAOHAN_PLATFORM"

// Defaults of the platform's own settings.
const (
	DefaultMaxFileSize = 64 << 20 // bytes of one encrypted guarantee file
	DefaultSQLiteFile  = "platform.db"
)

// Config is the platform's configuration (docs/platform.example.toml):
// the settings every service has (config.Common: trust_roots,
// timestamp_window, [listen], [storage], [admin], [outbox], [fetch]), its
// own, and its institutions.
type Config struct {
	config.Common

	// MaxFileSize bounds one encrypted guarantee file (default 64 MiB).
	MaxFileSize int64 `toml:"max_file_size"`
	// AcceptFailedSeals keeps a guarantee whose seals fail verification
	// (invalid, untrusted, not covering every entry, not the institution's
	// pinned seal, no agreement signed by the bidder), recording the
	// failure, instead of refusing it. Another application's document is
	// refused all the same. Off in production.
	AcceptFailedSeals bool `toml:"accept_failed_seals"`

	// Institutions are the financial institutions (金融机构) this platform
	// works with, any number.
	Institutions []Institution `toml:"institution"`
}

// renamed are the keys an older platform spelled otherwise: they still
// work, with a warning naming the new key.
var renamed = []config.Renamed{
	{Old: "admin_token", New: "admin.token"},
	{Old: "admin_token_file", New: "admin.token_file"},
	{Old: "blobs", New: "storage.blobs"},
	{Old: "outbox.poll_interval", New: "outbox.poll"},
	{Old: "outbox.backoff_max", New: "outbox.retry_max"},
	{Old: "outbox.per_institution", New: "outbox.per_peer"},
}

// Institution is one financial institution: its peer settings (appkey,
// appsecret, base URL, platformcode and the PROFILE.md options), its
// products and its policies.
type Institution struct {
	config.Peer
	// Products the bidders choose from (name, rate).
	Products []Product `toml:"product"`
	// RequireBasicAccount: the premium must be paid from the bidder's
	// basic account (基本户), so baohannotice must carry payername (the
	// bidder) and payeraccount.
	RequireBasicAccount bool `toml:"require_basic_account"`
	// NoCancel: the institution does not serve the optional canclenotice;
	// a cancellation is then recorded on the platform only.
	NoCancel bool `toml:"no_canclenotice"`

	// The certificate that seals the institution's guarantees is pinned
	// (every seal of an uploaded guarantee must be signed with it, beyond
	// chaining to the trust roots, which the bidders' certificates do
	// too): SealCerts, the PEM files of its seal certificates (the
	// signer must be one of them), and SealCreditCode, the 统一社会信用代码
	// the seal certificate carries in its Subject SERIALNUMBER. When both
	// are set both must hold. With neither, the signer certificate must
	// name the institution's Name as its organisation (Subject O) or
	// common name (CN); set one of them when Name is not the institution's
	// registered name.
	SealCreditCode string   `toml:"seal_credit_code"`
	SealCerts      []string `toml:"seal_certs"`

	// VerifyURL is the verification URL (验真) the institution publishes,
	// e.g. "https://fi.example.cn/verify". When set, the QR code of each
	// guarantee it uploads must lead there, and the platform asks it
	// (GET <verify_url>?baohanno=..&code=.., JSON) whether the guarantee
	// is what it says and its status: after each upload and on the
	// section's 开标验真 page. Empty: the QR code is read and compared with
	// the document, nothing is asked.
	VerifyURL string `toml:"verify_url"`
}

// Product is a guarantee product of an institution.
type Product struct {
	Name string          `toml:"name"`
	Rate decimal.Decimal `toml:"rate"` // 0.005 for 千分之五
	// MinPremium is the smallest premium (元); 0 for none.
	MinPremium decimal.Decimal `toml:"min_premium"`
}

// LoadConfig reads the TOML file at path ("" for none) and applies the
// BAOHAN_PLATFORM_* environment variables. Keys of older versions still
// work; Warnings says what to write instead.
func LoadConfig(path string) (Config, error) {
	var c Config
	if err := config.Load(path, EnvPrefix, &c, renamed...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// withDefaults fills the platform's own zero values (the common ones are
// the core's: service.Open).
func (c Config) withDefaults() Config {
	if c.MaxFileSize <= 0 {
		c.MaxFileSize = DefaultMaxFileSize
	}
	c.Institutions = append([]Institution(nil), c.Institutions...)
	for i := range c.Institutions {
		c.Institutions[i].Name = c.Institutions[i].DisplayName()
	}
	return c
}

// peerConfigs are the institutions' peer settings.
func (c Config) peerConfigs() []config.Peer {
	out := make([]config.Peer, len(c.Institutions))
	for i, in := range c.Institutions {
		out[i] = in.Peer
	}
	return out
}

// Validate checks the configuration and says what is wrong with which
// key and which institution.
func (c Config) Validate() error {
	return errors.Join(c.Common.Check(spec.PeerKind, c.peerConfigs()), c.validateOwn())
}

// validateOwn checks the platform's own settings and what it needs of
// its institutions beyond a peer's settings.
func (c Config) validateOwn() error {
	var errs []error
	if c.MaxFileSize < 0 {
		errs = append(errs, fmt.Errorf("max_file_size must be bytes, 0 for the default, got %d", c.MaxFileSize))
	}
	for i, in := range c.Institutions {
		where := fmt.Sprintf("institution %d (%q)", i+1, in.Name)
		if in.PlatformCode == "" {
			errs = append(errs, fmt.Errorf("%s: platformcode is required (sent in baohanapply and the other calls)", where))
		}
		if len(in.PlatformCode) > 50 {
			errs = append(errs, fmt.Errorf("%s: platformcode is longer than 50 characters", where))
		}
		if len(in.Products) == 0 {
			errs = append(errs, fmt.Errorf("%s: no [[institution.product]] configured", where))
		}
		if cc := in.SealCreditCode; cc != strings.TrimSpace(cc) || len(cc) > 50 {
			errs = append(errs, fmt.Errorf("%s: seal_credit_code %q has spaces around it or is longer than 50 characters", where, cc))
		}
		if v := in.VerifyURL; v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				errs = append(errs, fmt.Errorf("%s: verify_url must be an http(s) URL without query or fragment, got %q", where, v))
			}
		}
		prods := map[string]bool{}
		for j, p := range in.Products {
			pw := fmt.Sprintf("%s product %d (%q)", where, j+1, p.Name)
			switch {
			case strings.TrimSpace(p.Name) == "":
				errs = append(errs, fmt.Errorf("%s: name is required", pw))
			case prods[p.Name]:
				errs = append(errs, fmt.Errorf("%s: name used twice", pw))
			}
			prods[p.Name] = true
			if !p.Rate.IsPositive() || p.Rate.GreaterThanOrEqual(decimal.NewFromInt(1)) {
				errs = append(errs, fmt.Errorf("%s: rate must be between 0 and 1 (0.005 for 千分之五), got %s", pw, p.Rate))
			}
			if p.MinPremium.IsNegative() {
				errs = append(errs, fmt.Errorf("%s: min_premium is negative", pw))
			}
		}
	}
	return errors.Join(errs...)
}

// ErrNoTrustRoots: without trust roots no bidder can be registered and
// every guarantee is refused (its seals cannot be verified). New accepts
// it (with a warning); Check, used by the command, does not.
var ErrNoTrustRoots = errors.New("trust_roots: none configured; the seals on guarantees and the bidders' certificates could not be verified")

// Check validates the configuration for production: every rule of
// Validate, the listen settings, and trust root and seal certificate
// files that exist and hold certificates.
func (c Config) Check() error {
	c = c.withDefaults()
	errs := []error{c.Validate(), c.Listen.Validate()}
	if len(config.TrustRootFiles(c.TrustRoots, c.TrustRoot)) == 0 {
		errs = append(errs, ErrNoTrustRoots)
	}
	if _, err := gm.LoadTrustRoots(config.TrustRootFiles(c.TrustRoots, c.TrustRoot)...); err != nil {
		errs = append(errs, err)
	}
	if _, err := config.CreditCodes(c.TrustRoot); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.sealPins(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckInput is what `baohan platform check` checks of the configuration
// read from source.
func (c Config) CheckInput(source string) service.CheckInput {
	c = c.withDefaults()
	in := service.CheckInput{Spec: spec, Source: source, Config: c.Common, Peers: c.peerConfigs(),
		Summary: fmt.Sprintf("%d institutions", len(c.Institutions)), Problems: c.validateOwn()}
	for _, inst := range c.Institutions {
		for _, f := range inst.SealCerts {
			in.Files = append(in.Files, service.File{Key: fmt.Sprintf("institution %q seal_certs", inst.Name), Path: f,
				Parse: func(b []byte) error { _, err := gm.ParseCertificates(b); return err }})
		}
	}
	return in
}

// institution returns the named institution.
func (c *Config) institution(name string) (*Institution, bool) {
	for i := range c.Institutions {
		if c.Institutions[i].Name == name {
			return &c.Institutions[i], true
		}
	}
	return nil, false
}

// Product returns the institution's product by name.
func (in *Institution) Product(name string) (Product, bool) {
	for _, p := range in.Products {
		if p.Name == name {
			return p, true
		}
	}
	return Product{}, false
}
