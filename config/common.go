package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Common is the configuration both services have, with one spelling and
// one meaning: the top-level trust_roots and timestamp_window, and the
// [listen], [storage], [admin], [outbox] and [fetch] sections.
// platform.Config and institution.Config embed it; their peers
// ([[institution]], [[platform]]) embed Peer. docs/platform.example.toml
// and docs/institution.example.toml explain every key.
type Common struct {
	// TrustRoots are PEM files of the CAs whose certificates the service
	// accepts: the bidders' certificates, and on the platform the seals
	// on guarantee files.
	TrustRoots []string `toml:"trust_roots"`
	// TrustRoot are more trust roots, each with where its CAs put the
	// 统一社会信用代码 in the certificates they issue (TrustRoot).
	TrustRoot []TrustRoot `toml:"trust_root"`
	// TimestampWindow is the accepted clock skew of incoming requests,
	// and the replay window, of every peer that sets none of its own
	// (default DefaultTimestampWindow).
	TimestampWindow Duration `toml:"timestamp_window"`

	Listen  Listen  `toml:"listen"`
	Storage Storage `toml:"storage"`
	Admin   Admin   `toml:"admin"`
	Outbox  Outbox  `toml:"outbox"`
	Fetch   Fetch   `toml:"fetch"`

	// Warnings are what Load noted: old keys that still work and what to
	// write instead. The service logs them at start; check prints them.
	Warnings []string `toml:"-"`
}

// Warn implements Warner.
func (c *Common) Warn(msg string) { c.Warnings = append(c.Warnings, msg) }

// Admin protects the admin API under /api/.
type Admin struct {
	// Token is the bearer token of the admin API (Authorization: Bearer
	// <token>). Prefer the environment (<PREFIX>_ADMIN_TOKEN) or
	// TokenFile. With neither, the admin API answers 401; `baohan
	// <service> serve` then makes one in <data_dir>/admin.token.
	Token string `toml:"token"`
	// TokenFile holds the token (at least MinAdminToken characters) when
	// Token is empty.
	TokenFile string `toml:"token_file"`
}

// MinAdminToken is the shortest token a token_file may hold.
const MinAdminToken = 16

// Resolve returns the token in force: Token, or the one in TokenFile, or
// "" (the admin API disabled).
func (a Admin) Resolve() (string, error) {
	if a.Token != "" {
		return a.Token, nil
	}
	if a.TokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(a.TokenFile)
	if err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < MinAdminToken {
		return "", fmt.Errorf("admin.token_file %s: the token is shorter than %d characters", a.TokenFile, MinAdminToken)
	}
	return t, nil
}

// Outbox tunes the delivery of the service's outbound calls: they are
// kept in the database and sent by a pool of workers, retried with
// exponential backoff (retry_initial, doubling, up to retry_max, ±20%
// jitter) until the peer answers.
type Outbox struct {
	// Workers is the number of concurrent deliveries (0: 8 on SQLite,
	// 32 on PostgreSQL).
	Workers int `toml:"workers"`
	// Poll is the longest wait between looks for due messages when
	// nothing wakes the outbox (default 1s).
	Poll Duration `toml:"poll"`
	// Lease is how long a claimed delivery is this process's. After a
	// crash its claims in flight are taken up again only when their
	// lease runs out, so it is kept short: it must outlast one call (the
	// longest peer timeout) and the recording of its answer. Default:
	// one minute, or the longest timeout plus 30s when that is more.
	Lease Duration `toml:"lease"`
	// RetryInitial and RetryMax bound the backoff between attempts
	// (defaults 1s and 5m).
	RetryInitial Duration `toml:"retry_initial"`
	RetryMax     Duration `toml:"retry_max"`
	// MaxAttempts is how many attempts a message gets before it is dead
	// (kept, visible in /api/outbox, retryable by hand); 0 (the
	// default): retry until answered.
	MaxAttempts int `toml:"max_attempts"`
	// PerPeer is the most deliveries in flight to one peer, so that a
	// peer that times out holds at most that many workers while the
	// others are served. 0: half the workers, rounded up, or no limit
	// when only one peer is configured; -1 (or workers or more): no
	// limit. It counts this process's deliveries: replicas each allow as
	// many.
	PerPeer int `toml:"per_peer"`
}

// Fetch bounds the fetching of the files peers name by URL (a claim's
// filelist at the institution, a claim outcome's transferfilelist at the
// platform; transport.FileFetcher).
type Fetch struct {
	// AllowPrivateAddresses lets the service fetch from addresses that
	// are not public: loopback, private (RFC 1918, fc00::/7), CGNAT
	// (100.64.0.0/10) and the other special-purpose ranges
	// (transport.NotPublic), for peers that host their files on a private
	// network (an extranet, a VPN link). Default false: a URL a peer
	// chose must not reach the service's own network. Link-local
	// addresses (169.254.0.0/16, where cloud metadata services answer,
	// and fe80::/10), unspecified, multicast and broadcast addresses stay
	// refused.
	AllowPrivateAddresses bool `toml:"allow_private_addresses"`
}

// Defaults of the outbox.
const (
	DefaultPoll         = time.Second
	DefaultRetryInitial = time.Second
	DefaultRetryMax     = 5 * time.Minute
	DefaultLease        = time.Minute
	// MinLeaseMargin is the least a lease must outlast the longest call.
	MinLeaseMargin = 5 * time.Second
)

// Blob stores (Storage.Blobs).
const (
	BlobsDir = "dir" // files under <data_dir>/blobs
	BlobsDB  = "db"  // in the database
)

// Normalize maps the values an older version wrote with another meaning
// to this one, with a warning: outbox.max_attempts = -1 ("never give
// up" on the platform) is 0 now.
func (c *Common) Normalize() {
	if c.Outbox.MaxAttempts == -1 {
		c.Outbox.MaxAttempts = 0
		c.Warn("[outbox] max_attempts = -1 is the old spelling of \"retry until answered\": write max_attempts = 0")
	}
}

// Check validates the common settings and the peers (of kind
// "institution" or "platform", for the messages), and says which key is
// wrong: every problem, not the first.
func (c *Common) Check(kind string, peers []Peer) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Storage.DataDir == "" {
		add("storage.data_dir is required")
	}
	switch c.Storage.Blobs {
	case "", BlobsDir, BlobsDB:
	default:
		add("storage.blobs must be %q or %q, got %q", BlobsDir, BlobsDB, c.Storage.Blobs)
	}
	if c.Storage.Blobs == BlobsDir && c.Storage.DataDir == "" {
		add("storage.blobs = %q needs storage.data_dir", BlobsDir)
	}
	if c.TimestampWindow.Duration < 0 {
		add("timestamp_window must be positive, got %s", c.TimestampWindow.Duration)
	}
	if _, err := c.Listen.Proxies(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Listen.UnauthenticatedBudget(); err != nil {
		errs = append(errs, err)
	}
	if c.Listen.MaxBody < 0 {
		add("listen.max_body must be bytes, 0 for the default, got %d", c.Listen.MaxBody)
	}
	if c.Admin.Token != "" && c.Admin.TokenFile != "" {
		add("admin.token and admin.token_file are both set: keep one")
	}
	o := c.Outbox
	if o.Workers < 0 {
		add("outbox.workers must not be negative, got %d", o.Workers)
	}
	if o.MaxAttempts < 0 {
		add("outbox.max_attempts must be 0 (retry until answered) or a number of attempts, got %d", o.MaxAttempts)
	}
	if o.PerPeer < -1 {
		add("outbox.per_peer must be a number of deliveries, 0 for the default or -1 for no limit, got %d", o.PerPeer)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"poll", o.Poll.Duration}, {"retry_initial", o.RetryInitial.Duration}, {"retry_max", o.RetryMax.Duration}, {"lease", o.Lease.Duration}} {
		if d.v < 0 {
			add("outbox.%s must be positive, got %s", d.key, d.v)
		}
	}
	if o.RetryInitial.Duration > 0 && o.RetryMax.Duration > 0 && o.RetryMax.Duration < o.RetryInitial.Duration {
		add("outbox.retry_max %s is shorter than outbox.retry_initial %s", o.RetryMax.Duration, o.RetryInitial.Duration)
	}
	longest := LongestTimeout(peers)
	if l := o.Lease.Duration; l > 0 && l < longest+MinLeaseMargin {
		add("outbox.lease %s must outlast the longest %s call (timeout %s) by at least %s", l, kind, longest, MinLeaseMargin)
	}
	errs = append(errs, checkPeers(kind, peers, c.Listen.Plain)...)
	return errors.Join(errs...)
}

// checkPeers checks what every peer needs: an appkey and a secret, a
// base URL (HTTPS unless listen.plain_http), names and appkeys used once.
func checkPeers(kind string, peers []Peer, plain bool) []error {
	var errs []error
	if len(peers) == 0 {
		errs = append(errs, fmt.Errorf("no [[%s]] configured", kind))
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for i, p := range peers {
		where := fmt.Sprintf("%s %d (%q)", kind, i+1, p.Name)
		if p.Name == "" && p.AppKey == "" {
			errs = append(errs, fmt.Errorf("%s %d: name or appkey is required", kind, i+1))
			continue
		}
		name := p.DisplayName()
		if names[name] {
			errs = append(errs, fmt.Errorf("%s: name used twice", where))
		}
		if keys[p.AppKey] {
			errs = append(errs, fmt.Errorf("%s: appkey %q used twice", where, p.AppKey))
		}
		names[name], keys[p.AppKey] = true, true
		if _, err := p.Transport(); err != nil {
			errs = append(errs, err)
		}
		if p.BaseURL == "" {
			errs = append(errs, fmt.Errorf("%s: base_url is required (the service calls the %s there)", where, kind))
		} else if u, err := url.Parse(p.BaseURL); err == nil && u.Scheme == "http" && !plain {
			errs = append(errs, fmt.Errorf("%s: base_url %s is plain HTTP; use https, or set listen.plain_http = true for tests", where, p.BaseURL))
		}
	}
	return errs
}

// DisplayName is the peer's name, or its appkey when it has none.
func (p Peer) DisplayName() string {
	if p.Name != "" {
		return p.Name
	}
	return p.AppKey
}

// LongestTimeout is the longest call timeout of the peers.
func LongestTimeout(peers []Peer) time.Duration {
	var d time.Duration
	for _, p := range peers {
		d = max(d, p.CallTimeout())
	}
	return d
}

// LeaseFor is the outbox lease in force with these peers: outbox.lease,
// or DefaultLease, or the longest peer timeout plus 30s when that is more.
func (o Outbox) LeaseFor(peers []Peer) time.Duration {
	if o.Lease.Duration > 0 {
		return o.Lease.Duration
	}
	return max(DefaultLease, LongestTimeout(peers)+30*time.Second)
}

// PerPeerFor is the limit of deliveries in flight to one peer with this
// many peers configured (store.Dispatcher.PerPeer): unset with a single
// peer, no limit.
func (o Outbox) PerPeerFor(peers int) int {
	if o.PerPeer == 0 && peers <= 1 {
		return -1
	}
	return o.PerPeer
}

// BlobsIn is the blob store in force on a database of the dialect named
// ("sqlite" or "postgres"): storage.blobs, or by default "db" on
// PostgreSQL (every replica sees it) or without a data directory, and
// "dir" otherwise.
func (s Storage) BlobsIn(dialect string) string {
	if s.Blobs != "" {
		return s.Blobs
	}
	if dialect == "postgres" || s.DataDir == "" {
		return BlobsDB
	}
	return BlobsDir
}
