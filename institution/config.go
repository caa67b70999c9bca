package institution

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

// Config is the institution's configuration, as read from TOML by
// LoadConfig (environment prefix EnvPrefix): the settings every service
// has (config.Common: trust_roots, timestamp_window, [listen], [storage],
// [admin], [outbox], [fetch]), its own, and its platforms.
// docs/institution.example.toml explains every key.
type Config struct {
	config.Common
	Institution Identity     `toml:"institution"`
	Underwrite  Underwriting `toml:"underwriting"`
	Invoicing   Invoicing    `toml:"invoicing"`
	Products    []Product    `toml:"product"`
	Platforms   []Platform   `toml:"platform"`
}

// EnvPrefix prefixes the environment overrides of Config:
// BAOHAN_INSTITUTION_LISTEN_ADDR overrides listen.addr.
const EnvPrefix = "BAOHAN_INSTITUTION"

// renamed are the keys an older institution spelled otherwise: they
// still work, with a warning naming the new key.
var renamed = []config.Renamed{
	{Old: "max_body", New: "listen.max_body"},
	{Old: "outbox.per_platform", New: "outbox.per_peer"},
}

// LoadConfig reads the TOML file at path ("" for none) and applies the
// BAOHAN_INSTITUTION_* environment variables. Keys of older versions
// still work; Warnings says what to write instead.
func LoadConfig(path string) (Config, error) {
	var c Config
	if err := config.Load(path, EnvPrefix, &c, renamed...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Identity is who the institution is and how it seals.
type Identity struct {
	Name        string `toml:"name"`            // 出函机构名称 (instname)
	CreditCode  string `toml:"credit_code"`     // 统一社会信用代码
	SealCert    string `toml:"seal_cert"`       // PEM file: the seal certificate (SM2)
	SealKey     string `toml:"seal_key"`        // PEM file: its private key
	SealPicture string `toml:"seal_picture"`    // PNG file; generated from the name when empty
	SealName    string `toml:"seal_name"`       // name in the seal; default "<Name>保函专用章"
	Prefix      string `toml:"baohanno_prefix"` // guarantee numbers are PREFIX+yyyymmdd+sequence
	Address     string `toml:"address"`
	Phone       string `toml:"phone"`
	// ValidityDays is the guarantee's validity printed on it: from the bid
	// opening to the end of this many days (投标有效期); then it expires
	// (已失效). 0: DefaultValidityDays.
	ValidityDays int `toml:"validity_days"`
	// VerifyURL is where a guarantee's QR code leads (验真):
	// <verify_url>?baohanno=<no>&code=<code>. Empty: <listen.public_url>/verify,
	// which this service answers.
	VerifyURL string `toml:"verify_url"`
}

// DefaultValidityDays is the validity of a guarantee from the bid opening
// when institution.validity_days is not set.
const DefaultValidityDays = 90

// validityDays is ValidityDays or its default.
func (id Identity) validityDays() int {
	if id.ValidityDays > 0 {
		return id.ValidityDays
	}
	return DefaultValidityDays
}

// Underwriting are the rules every application passes before approval.
type Underwriting struct {
	// Mode is "auto" (approve when the rules pass, reject when they do
	// not) or "manual" (every paid application waits for a person, who
	// sees the rules' findings).
	Mode string `toml:"mode"`
	// MaxBond is the largest total bond (保证金) one bidder (by credit
	// code) may have guaranteed at once, this application included.
	// Empty: no limit.
	MaxBond string `toml:"max_bond"`
	// Blocked credit codes are always refused.
	Blocked []string `toml:"blocked"`
}

// Invoicing says how invoices are issued.
type Invoicing struct {
	// Mode is "auto" (issue at once: the embedded default) or "manual"
	// (a person issues or refuses from the admin API).
	Mode string `toml:"mode"`
	// Code is the 发票代码 written on issued invoices.
	Code string `toml:"code"`
	// Prefix starts invoice numbers; default "INV".
	Prefix string `toml:"prefix"`
}

// Product is a guarantee product with its pricing.
type Product struct {
	Name       string `toml:"name"`
	Rate       string `toml:"rate"`        // e.g. "0.005" for 千分之五
	MinPremium string `toml:"min_premium"` // 元; premiums never go below it
	Terms      string `toml:"terms"`       // terms printed in the agreement
}

// Platform is one platform this institution is connected to.
type Platform struct {
	config.Peer
	// BasicAccount: the trading centre requires the premium to be paid from
	// the bidder's basic account (基本户), so baohannotice carries
	// payername and payeraccount and the bidder must give them when paying.
	BasicAccount bool `toml:"basic_account"`
}

// peerConfigs are the platforms' peer settings.
func (c *Config) peerConfigs() []config.Peer {
	out := make([]config.Peer, len(c.Platforms))
	for i, p := range c.Platforms {
		out[i] = p.Peer
	}
	return out
}

// withDefaults names each platform (its appkey when it has no name).
func (c Config) withDefaults() Config {
	c.Platforms = append([]Platform(nil), c.Platforms...)
	for i := range c.Platforms {
		c.Platforms[i].Name = c.Platforms[i].DisplayName()
	}
	return c
}

// Underwriting and invoicing modes.
const (
	ModeAuto   = "auto"
	ModeManual = "manual"
)

// product is a Product with its decimals parsed.
type product struct {
	Name      string
	Rate, Min decimal.Decimal
	Terms     string
}

// checked is the parsed, validated part of Config the service works with.
type checked struct {
	products []product
	maxBond  decimal.Decimal // zero: no limit
	blocked  map[string]bool
}

// Check validates c (New does too): every problem, each naming its key.
func (c *Config) Check() error {
	_, err := c.check()
	return errors.Join(c.Common.Check(spec.PeerKind, c.peerConfigs()), err)
}

// CheckInput is what `baohan institution check` checks of the
// configuration read from source.
func (c Config) CheckInput(source string) service.CheckInput {
	_, err := c.check()
	return service.CheckInput{Spec: spec, Source: source, Config: c.Common, Peers: c.peerConfigs(),
		Summary:  fmt.Sprintf("%d platforms, %d products", len(c.Platforms), len(c.Products)),
		Problems: err,
		Files: []service.File{
			{Key: "institution.seal_cert", Path: c.Institution.SealCert, Parse: func(b []byte) error { _, err := gm.ParseCertificate(b); return err }},
			{Key: "institution.seal_key", Path: c.Institution.SealKey, Parse: func(b []byte) error { _, err := gm.ParsePrivateKey(b); return err }},
			{Key: "institution.seal_picture", Path: c.Institution.SealPicture},
		},
	}
}

// check validates the institution's own settings and parses its
// decimals (the common ones are config.Common's). The errors name the
// key.
func (c *Config) check() (*checked, error) {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(c.Institution.Name) == "" {
		add("institution.name is required (it is instname in baohannotice)")
	}
	if c.Institution.SealCert == "" || c.Institution.SealKey == "" {
		add("institution.seal_cert and institution.seal_key are required (PEM files)")
	}
	if c.Listen.PublicURL == "" {
		add("listen.public_url is required (the redirecturl and invoiceurl start with it)")
	} else if u, err := url.Parse(c.Listen.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("listen.public_url must be an http(s) URL, got %q", c.Listen.PublicURL)
	}
	if c.Institution.ValidityDays < 0 || c.Institution.ValidityDays > 3650 {
		add("institution.validity_days must be between 1 and 3650 (0: %d), got %d", DefaultValidityDays, c.Institution.ValidityDays)
	}
	if v := c.Institution.VerifyURL; v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			add("institution.verify_url must be an http(s) URL without a fragment, got %q", v)
		}
	}
	switch c.Underwrite.Mode {
	case "", ModeAuto, ModeManual:
	default:
		add("underwriting.mode must be %q or %q, got %q", ModeAuto, ModeManual, c.Underwrite.Mode)
	}
	switch c.Invoicing.Mode {
	case "", ModeAuto, ModeManual:
	default:
		add("invoicing.mode must be %q or %q, got %q", ModeAuto, ModeManual, c.Invoicing.Mode)
	}
	out := &checked{blocked: map[string]bool{}}
	if c.Underwrite.MaxBond != "" {
		d, err := decimal.NewFromString(c.Underwrite.MaxBond)
		if err != nil || !d.IsPositive() {
			add("underwriting.max_bond must be a positive decimal, got %q", c.Underwrite.MaxBond)
		}
		out.maxBond = d
	}
	for _, b := range c.Underwrite.Blocked {
		out.blocked[strings.ToUpper(strings.TrimSpace(b))] = true
	}
	if len(c.Products) == 0 {
		add("at least one [[product]] is required")
	}
	names := map[string]bool{}
	for i, p := range c.Products {
		where := fmt.Sprintf("product[%d] %q", i, p.Name)
		if p.Name == "" {
			add("product[%d]: name is required", i)
		}
		if names[p.Name] {
			add("%s: name used twice", where)
		}
		names[p.Name] = true
		rate, err := decimal.NewFromString(p.Rate)
		if err != nil || !rate.IsPositive() || rate.GreaterThanOrEqual(decimal.NewFromInt(1)) {
			add("%s: rate must be a decimal between 0 and 1 such as \"0.005\", got %q", where, p.Rate)
		}
		min := decimal.Zero
		if p.MinPremium != "" {
			min, err = decimal.NewFromString(p.MinPremium)
			if err != nil || min.IsNegative() {
				add("%s: min_premium must be a decimal ≥ 0, got %q", where, p.MinPremium)
			}
		}
		out.products = append(out.products, product{Name: p.Name, Rate: rate, Min: min, Terms: p.Terms})
	}
	codes := map[string]bool{}
	for _, p := range c.Platforms {
		if p.PlatformCode != "" && codes[p.PlatformCode] {
			add("platform %q: platformcode %q used by two platforms", p.DisplayName(), p.PlatformCode)
		}
		codes[p.PlatformCode] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// productByName returns the product named name, or the first when name is "".
func (c *checked) productByName(name string) (product, bool) {
	if name == "" {
		return c.products[0], true
	}
	for _, p := range c.products {
		if p.Name == name {
			return p, true
		}
	}
	return product{}, false
}
