package institution

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
)

// Config is the institution's configuration, as read from TOML by
// config.Load (environment prefix EnvPrefix). docs/institution.example.toml
// explains every key.
type Config struct {
	Listen      config.Listen   `toml:"listen"`
	Storage     config.Storage  `toml:"storage"`
	Institution Identity        `toml:"institution"`
	Admin       Admin           `toml:"admin"`
	Underwrite  Underwriting    `toml:"underwriting"`
	Invoicing   Invoicing       `toml:"invoicing"`
	Products    []Product       `toml:"product"`
	Platforms   []Platform      `toml:"platform"`
	Outbox      OutboxSettings  `toml:"outbox"`
	TrustRoots  []string        `toml:"trust_roots"` // PEM files of the CAs that issue bidder certificates
	MaxBody     int64           `toml:"max_body"`    // bytes of one request body; default 16 MiB
	Window      config.Duration `toml:"timestamp_window"`

	// TrustRoot are more trust roots, each with where its CAs put the
	// bidder's credit code (config.TrustRoot).
	TrustRoot []config.TrustRoot `toml:"trust_root"`
}

// EnvPrefix prefixes the environment overrides of Config:
// BAOHAN_INSTITUTION_LISTEN_ADDR overrides listen.addr.
const EnvPrefix = "BAOHAN_INSTITUTION"

// Identity is who the institution is and how it seals.
type Identity struct {
	Name        string `toml:"name"`            // 出函机构名称 (instname)
	CreditCode  string `toml:"credit_code"`     // 统一社会信用代码
	SealCert    string `toml:"seal_cert"`       // PEM file: the seal certificate (SM2)
	SealKey     string `toml:"seal_key"`        // PEM file: its private key
	SealPicture string `toml:"seal_picture"`    // PNG file; generated from the name when empty
	SealName    string `toml:"seal_name"`       // name in the seal; default "<Name>电子保函专用章"
	Prefix      string `toml:"baohanno_prefix"` // guarantee numbers are PREFIX+yyyymmdd+sequence
	Address     string `toml:"address"`
	Phone       string `toml:"phone"`
}

// Admin protects the admin API under /api/.
type Admin struct {
	Token string `toml:"token"` // bearer token; BAOHAN_INSTITUTION_ADMIN_TOKEN overrides
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

// OutboxSettings tune the delivery of outbound messages.
type OutboxSettings struct {
	Workers     int             `toml:"workers"`      // concurrent deliveries; default 4
	MaxAttempts int             `toml:"max_attempts"` // then the message is parked as failed; default 0 = retry forever
	Poll        config.Duration `toml:"poll"`         // idle poll interval; default 1s
	// RetryInitial and RetryMax bound the backoff between attempts
	// (defaults 1s and 5m, doubling, ±20% jitter).
	RetryInitial config.Duration `toml:"retry_initial"`
	RetryMax     config.Duration `toml:"retry_max"`
	// Lease is how long a claimed delivery is this process's. After a
	// crash its claims in flight are taken up again only when their lease
	// runs out, so it is kept short: it must only outlast one call (the
	// longest platform timeout) and the recording of its answer. Default:
	// one minute, or the longest timeout plus 30s when that is more.
	Lease config.Duration `toml:"lease"`
	// PerPlatform is the most deliveries in flight to one platform
	// (store.Dispatcher.PerPeer), so that a platform that times out holds
	// at most that many workers while the others are served. 0: half the
	// workers, rounded up (2 of the default 4), or no limit when only one
	// platform is configured (there is nobody to protect from it); -1 (or
	// workers or more): no limit. It counts this process's deliveries:
	// replicas each allow as many.
	PerPlatform int `toml:"per_platform"`
}

// perPlatform is the outbox's limit of deliveries in flight to one
// platform (store.Dispatcher.PerPeer) that outbox.per_platform asks for:
// unset with a single platform, no limit.
func (c *Config) perPlatform() int {
	if c.Outbox.PerPlatform == 0 && len(c.Platforms) <= 1 {
		return -1
	}
	return c.Outbox.PerPlatform
}

// lease is the outbox lease in force (OutboxSettings.Lease).
func (c *Config) lease() time.Duration {
	if c.Outbox.Lease.Duration > 0 {
		return c.Outbox.Lease.Duration
	}
	return max(time.Minute, c.longestTimeout()+30*time.Second)
}

// minLeaseMargin is the least a lease must outlast the longest call.
const minLeaseMargin = 5 * time.Second

func (c *Config) longestTimeout() time.Duration {
	var d time.Duration
	for _, p := range c.Platforms {
		d = max(d, p.CallTimeout())
	}
	return d
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
	return err
}

// check validates c and parses its decimals. The errors name the key.
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
	if len(c.Platforms) == 0 {
		add("at least one [[platform]] is required")
	}
	keys := map[string]bool{}
	codes := map[string]bool{}
	for i, p := range c.Platforms {
		if p.Name == "" {
			add("platform[%d]: name is required", i)
		}
		if _, err := p.Transport(); err != nil {
			errs = append(errs, err)
		}
		if p.BaseURL == "" {
			add("platform %q: base_url is required (baohannotice and the uploads go there)", p.Name)
		}
		if keys[p.AppKey] {
			add("platform %q: appkey %q used by two platforms", p.Name, p.AppKey)
		}
		keys[p.AppKey] = true
		if p.PlatformCode != "" && codes[p.PlatformCode] {
			add("platform %q: platformcode %q used by two platforms", p.Name, p.PlatformCode)
		}
		codes[p.PlatformCode] = true
	}
	if l := c.Outbox.Lease.Duration; l < 0 {
		add("outbox.lease must be positive, got %s", l)
	} else if l > 0 && l < c.longestTimeout()+minLeaseMargin {
		add("outbox.lease %s must outlast the longest platform call (timeout %s) by at least %s", l, c.longestTimeout(), minLeaseMargin)
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
