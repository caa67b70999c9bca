package platform

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// EnvPrefix is the prefix of the environment variables that override the
// configuration file: BAOHAN_PLATFORM_LISTEN_ADDR, BAOHAN_PLATFORM_STORAGE_DB,
// BAOHAN_PLATFORM_ADMIN_TOKEN, ...
const EnvPrefix = "BAOHAN_PLATFORM"

// Defaults of the platform's own settings.
const (
	DefaultTimestampWindow = 10 * time.Minute
	DefaultMaxFileSize     = 64 << 20 // bytes of one encrypted guarantee file
	DefaultSQLiteFile      = "platform.db"
)

// Config is the platform's configuration (docs/platform.example.toml).
type Config struct {
	Listen  config.Listen  `toml:"listen"`
	Storage config.Storage `toml:"storage"`

	// TrustRoots are PEM files of the CAs whose seal and bidder
	// certificates are accepted.
	TrustRoots []string `toml:"trust_roots"`
	// TrustRoot are more trust roots, each with where its CAs put the
	// credit code in the certificates they issue (config.TrustRoot).
	TrustRoot []config.TrustRoot `toml:"trust_root"`
	// TimestampWindow is the accepted clock skew of incoming requests
	// (default 10m); an institution may set its own.
	TimestampWindow config.Duration `toml:"timestamp_window"`
	// AdminToken is the bearer token of the admin API (/api/). With an
	// empty token and no AdminTokenFile the admin API answers 401.
	AdminToken string `toml:"admin_token"`
	// AdminTokenFile holds the token when AdminToken is empty.
	AdminTokenFile string `toml:"admin_token_file"`
	// MaxFileSize bounds one encrypted guarantee file (default 64 MiB).
	MaxFileSize int64 `toml:"max_file_size"`
	// AcceptFailedSeals keeps a guarantee whose seals fail verification
	// (invalid, untrusted, not covering every entry, not the institution's
	// pinned seal, no agreement signed by the bidder), recording the
	// failure, instead of refusing it. Another application's document is
	// refused all the same. Off in production.
	AcceptFailedSeals bool `toml:"accept_failed_seals"`

	// Blobs is where chunks and guarantee files are kept: "dir" (default,
	// files under data_dir/blobs; replicas must share the directory) or
	// "db" (in the database, shared by every replica).
	Blobs string `toml:"blobs"`

	Outbox OutboxConfig `toml:"outbox"`

	// Institutions are the financial institutions (金融机构) this platform
	// works with, any number.
	Institutions []Institution `toml:"institution"`
}

// OutboxConfig tunes the delivery of the platform's calls.
type OutboxConfig struct {
	Workers      int             `toml:"workers"`       // concurrent deliveries (default: DefaultOutboxWorkers of the database)
	PollInterval config.Duration `toml:"poll_interval"` // how often due messages are looked for (default 1s)
	Lease        config.Duration `toml:"lease"`         // how long a claimed message is ours (default 2m)
	MaxAttempts  int             `toml:"max_attempts"`  // before a message is dead; -1 never (default -1)
	BackoffMax   config.Duration `toml:"backoff_max"`   // longest wait between attempts (default 5m)

	// PerInstitution is the most deliveries in flight to one institution
	// (store.Dispatcher.PerPeer), so that an institution that times out
	// at a bid opening holds at most that many workers while the restores
	// to the others go on. 0: half the workers, rounded up (2 of 4 on
	// SQLite, 8 of 16 on PostgreSQL); -1 (or workers or more): no limit.
	// With one institution configured the default is no limit (there is
	// nobody to protect from it). It counts this process's deliveries:
	// replicas each allow as many.
	PerInstitution int `toml:"per_institution"`
}

// perInstitution is the outbox's limit of deliveries in flight to one
// institution (store.Dispatcher.PerPeer) that outbox.per_institution
// asks for: unset with a single institution, no limit.
func (c Config) perInstitution() int {
	if c.Outbox.PerInstitution == 0 && len(c.Institutions) <= 1 {
		return -1
	}
	return c.Outbox.PerInstitution
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
}

// Product is a guarantee product of an institution.
type Product struct {
	Name string          `toml:"name"`
	Rate decimal.Decimal `toml:"rate"` // 0.005 for 千分之五
	// MinPremium is the smallest premium (元); 0 for none.
	MinPremium decimal.Decimal `toml:"min_premium"`
}

// LoadConfig reads the TOML file at path ("" for none) and applies the
// BAOHAN_PLATFORM_* environment variables.
func LoadConfig(path string) (Config, error) {
	var c Config
	if err := config.Load(path, EnvPrefix, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// DefaultOutboxWorkers is the number of concurrent deliveries when
// outbox.workers is not set: 4 on SQLite, whose single writer serializes
// each delivery's transactions anyway (16 workers made the restores of a
// bid opening slower there: docs/PERFORMANCE.md), 16 on PostgreSQL, where
// deliveries wait on the network and on fsync and a timing-out
// institution then holds a sixteenth of the outbox instead of a quarter.
func DefaultOutboxWorkers(d store.Dialect) int {
	if d == store.Postgres {
		return 16
	}
	return 4
}

// withDefaults fills the zero values (outbox.workers once the database
// is known: DefaultOutboxWorkers).
func (c Config) withDefaults() Config {
	if c.TimestampWindow.Duration <= 0 {
		c.TimestampWindow.Duration = DefaultTimestampWindow
	}
	if c.MaxFileSize <= 0 {
		c.MaxFileSize = DefaultMaxFileSize
	}
	if c.Outbox.PollInterval.Duration <= 0 {
		c.Outbox.PollInterval.Duration = time.Second
	}
	if c.Outbox.Lease.Duration <= 0 {
		c.Outbox.Lease.Duration = 2 * time.Minute
	}
	if c.Outbox.MaxAttempts == 0 {
		c.Outbox.MaxAttempts = -1
	}
	if c.Outbox.BackoffMax.Duration <= 0 {
		c.Outbox.BackoffMax.Duration = 5 * time.Minute
	}
	c.Institutions = append([]Institution(nil), c.Institutions...)
	for i := range c.Institutions {
		in := &c.Institutions[i]
		if in.TimestampWindow.Duration <= 0 {
			in.TimestampWindow = c.TimestampWindow
		}
		if in.Name == "" {
			in.Name = in.AppKey
		}
	}
	return c
}

// Validate checks the configuration and says what is wrong with which
// institution.
func (c Config) Validate() error {
	var errs []error
	if c.Storage.DataDir == "" {
		errs = append(errs, errors.New("storage.data_dir is required"))
	}
	if c.Blobs != "" && c.Blobs != "dir" && c.Blobs != "db" {
		errs = append(errs, fmt.Errorf("blobs must be \"dir\" or \"db\", got %q", c.Blobs))
	}
	if len(c.Institutions) == 0 {
		errs = append(errs, errors.New("no [[institution]] configured"))
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for i, in := range c.Institutions {
		where := fmt.Sprintf("institution %d (%q)", i+1, in.Name)
		if in.Name == "" && in.AppKey == "" {
			errs = append(errs, fmt.Errorf("institution %d: name or appkey is required", i+1))
			continue
		}
		if names[in.Name] {
			errs = append(errs, fmt.Errorf("%s: name used twice", where))
		}
		if keys[in.AppKey] {
			errs = append(errs, fmt.Errorf("%s: appkey %q used twice", where, in.AppKey))
		}
		names[in.Name], keys[in.AppKey] = true, true
		if _, err := in.Transport(); err != nil {
			errs = append(errs, err)
		}
		if in.BaseURL == "" {
			errs = append(errs, fmt.Errorf("%s: base_url is required (the platform calls the institution)", where))
		} else if u, err := url.Parse(in.BaseURL); err == nil && u.Scheme == "http" && !c.Listen.Plain {
			errs = append(errs, fmt.Errorf("%s: base_url %s is plain HTTP; use https, or set listen.plain_http = true for tests", where, in.BaseURL))
		}
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
// Validate, the listen settings, and trust root files that exist and
// hold certificates.
func (c Config) Check() error {
	c = c.withDefaults()
	errs := []error{c.Validate(), c.Listen.Validate()}
	if len(config.TrustRootFiles(c.TrustRoots, c.TrustRoot)) == 0 {
		errs = append(errs, ErrNoTrustRoots)
	}
	if _, _, err := loadTrustRoots(config.TrustRootFiles(c.TrustRoots, c.TrustRoot)); err != nil {
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

// peers builds the transport peers of the institutions, by name.
func (c Config) peers() (map[string]*transport.Peer, error) {
	out := make(map[string]*transport.Peer, len(c.Institutions))
	for _, in := range c.Institutions {
		p, err := in.Transport()
		if err != nil {
			return nil, err
		}
		out[in.Name] = p
	}
	return out, nil
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
