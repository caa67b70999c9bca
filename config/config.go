// Package config loads the services' configuration: a TOML file, then
// environment variables, then command-line flags, each overriding the one
// before. The platform and the institution each define their own Config
// struct from the shared pieces here (Listen, Storage, Peer).
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/baohan-dev/baohan/transport"
)

// Duration is a time.Duration written as "10m" or "1h30m" in TOML and in
// environment variables.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("not a duration like \"10m\": %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Listen is where and how a service accepts HTTP requests.
type Listen struct {
	Addr      string `toml:"addr"`       // host:port
	TLSCert   string `toml:"tls_cert"`   // PEM certificate chain
	TLSKey    string `toml:"tls_key"`    // PEM private key
	Plain     bool   `toml:"plain_http"` // serve plain HTTP (tests, loopback, behind a TLS proxy)
	Prefix    string `toml:"prefix"`     // path prefix of the protocol endpoints, e.g. "/baohan"
	PublicURL string `toml:"public_url"` // how peers and browsers reach this service
	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed when a peer's allow_from is checked
	// and unauthenticated requests are counted per address: behind
	// nginx or a load balancer, the proxy's address. Empty: the TCP
	// peer's address is the client's, and the header is ignored.
	TrustedProxies []string `toml:"trusted_proxies"`
	// UnauthenticatedLogPerAddress and UnauthenticatedLogTotal bound, in
	// bytes a day, what requests that did not authenticate (unknown
	// appkey, wrong sign, an address outside allow_from, a body that is
	// not JSON, no such interface) or that a peer's rate limit refused
	// may make the service write to its message log and its log: per
	// client address (an IPv6 client: per /64) and for all addresses
	// together. An hour's worth can be spent at once. Past it they are
	// dropped, and the log says so once a minute at most; the answers do
	// not change. 0: the default (16 MiB and 256 MiB); -1: no bound.
	UnauthenticatedLogPerAddress int64 `toml:"unauthenticated_log_per_address"`
	UnauthenticatedLogTotal      int64 `toml:"unauthenticated_log_total"`
}

// UnauthenticatedBudget is the transport's budget of the
// unauthenticated_log_* settings.
func (l Listen) UnauthenticatedBudget() (transport.UnauthenticatedBudget, error) {
	for _, s := range []struct {
		name string
		v    int64
	}{{"unauthenticated_log_per_address", l.UnauthenticatedLogPerAddress}, {"unauthenticated_log_total", l.UnauthenticatedLogTotal}} {
		if s.v < -1 {
			return transport.UnauthenticatedBudget{}, fmt.Errorf("listen.%s must be bytes a day, 0 for the default or -1 for no bound, got %d", s.name, s.v)
		}
	}
	return transport.UnauthenticatedBudget{PerAddress: l.UnauthenticatedLogPerAddress, Total: l.UnauthenticatedLogTotal}, nil
}

// Proxies parses TrustedProxies.
func (l Listen) Proxies() ([]netip.Prefix, error) {
	p, err := transport.ParseCIDRs(l.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("listen.trusted_proxies: %w", err)
	}
	return p, nil
}

// Validate checks that TLS is configured unless plain HTTP was asked for.
func (l Listen) Validate() error {
	if l.Addr == "" {
		return errors.New("listen.addr is required")
	}
	if _, err := l.Proxies(); err != nil {
		return err
	}
	if _, err := l.UnauthenticatedBudget(); err != nil {
		return err
	}
	if l.Plain {
		return nil
	}
	if l.TLSCert == "" || l.TLSKey == "" {
		return errors.New("listen.tls_cert and listen.tls_key are required unless listen.plain_http = true")
	}
	return nil
}

// Storage is where a service keeps its state.
type Storage struct {
	DB            string `toml:"db"`              // "" = SQLite in DataDir; postgres://... for PostgreSQL
	DataDir       string `toml:"data_dir"`        // SQLite file, blobs, generated keys
	MasterKeyFile string `toml:"master_key_file"` // sealing key for secrets at rest; BAOHAN_MASTER_KEY wins
}

// Load reads the TOML file at path (when path is not empty) into v, then
// applies environment overrides with ApplyEnv(prefix, v). Unknown keys in
// the file are an error naming them, so a typo never passes silently.
func Load(path, envPrefix string, v any) error {
	if path != "" {
		md, err := toml.DecodeFile(path, v)
		if err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
		}
	}
	return ApplyEnv(envPrefix, v)
}

// ApplyEnv overrides the scalar fields of the struct v from environment
// variables named PREFIX_SECTION_KEY after the TOML tags, upper-cased:
// with prefix "BAOHAN_PLATFORM", listen.addr is BAOHAN_PLATFORM_LISTEN_ADDR.
// Slices (the peer lists) are not overridable from the environment.
func ApplyEnv(prefix string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return errors.New("config: ApplyEnv needs a pointer to a struct")
	}
	return applyEnv(prefix, rv.Elem(), os.LookupEnv)
}

func applyEnv(prefix string, rv reflect.Value, lookup func(string) (string, bool)) error {
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := rv.Field(i)
		if fv.Type() == reflect.TypeOf(Duration{}) {
			if s, ok := lookup(name); ok {
				var d Duration
				if err := d.UnmarshalText([]byte(s)); err != nil {
					return fmt.Errorf("environment %s: %w", name, err)
				}
				fv.Set(reflect.ValueOf(d))
			}
			continue
		}
		switch fv.Kind() {
		case reflect.Struct:
			if err := applyEnv(name, fv, lookup); err != nil {
				return err
			}
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
			s, ok := lookup(name)
			if !ok {
				continue
			}
			if err := setScalar(fv, s); err != nil {
				return fmt.Errorf("environment %s: %w", name, err)
			}
		}
	}
	return nil
}

func setScalar(fv reflect.Value, s string) error {
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", s)
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		fv.SetInt(n)
	}
	return nil
}
