// Package config loads the services' configuration: a TOML file, then
// environment variables, then command-line flags, each overriding the one
// before. The platform and the institution each define their own Config
// struct: Common, the settings both have with one spelling and one
// meaning, and their own peers (embedding Peer) and domain settings.
// Keys an older version spelled otherwise keep working with a warning
// (Renamed).
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
	// MaxBody bounds the body of a request to a served interface, in
	// bytes (0: transport.DefaultMaxBody, 1 MiB); uploadbaohanfile has
	// room for its chunks beyond it.
	MaxBody int64 `toml:"max_body"`
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
	// Blobs is where guarantee files and chunks are kept: "dir" (files
	// under DataDir/blobs; replicas must share the directory) or "db"
	// (in the database, seen by every replica). Default: BlobsIn.
	Blobs string `toml:"blobs"`
}

// Renamed is a key that an older version spelled otherwise (dotted:
// "admin_token", "outbox.poll_interval"). The old key keeps working, in
// the file and in the environment, with a warning naming the new one;
// both set is an error. A rename keeps the meaning: a key whose meaning
// changed is mapped by the service (Common.Normalize), never here.
type Renamed struct{ Old, New string }

// Warner is a configuration that keeps Load's warnings (Common is one).
type Warner interface{ Warn(msg string) }

// Normalizer is a configuration that maps values of older versions once
// loaded (Common is one).
type Normalizer interface{ Normalize() }

// Load reads the TOML file at path (when path is not empty) into v, then
// applies environment overrides with ApplyEnv(prefix, v). Unknown keys in
// the file are an error naming them, so a typo never passes silently.
// The renamed keys are read under their old names too; the warnings go
// to v when it is a Warner; a Normalizer is normalized last.
func Load(path, envPrefix string, v any, renamed ...Renamed) error {
	warn := func(string) {}
	if w, ok := v.(Warner); ok {
		warn = w.Warn
	}
	if path != "" {
		md, err := toml.DecodeFile(path, v)
		if err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
		var unknown []string
		var raw map[string]any
		for _, k := range md.Undecoded() {
			r, ok := findRenamed(renamed, k.String())
			if !ok {
				unknown = append(unknown, k.String())
				continue
			}
			if md.IsDefined(strings.Split(r.New, ".")...) {
				return fmt.Errorf("config %s: %s and %s are both set: %s is the old name of %s, remove it", path, r.Old, KeyName(r.New), r.Old, KeyName(r.New))
			}
			if raw == nil {
				if _, err := toml.DecodeFile(path, &raw); err != nil {
					return fmt.Errorf("config %s: %w", path, err)
				}
			}
			val, _ := lookupKey(raw, k)
			if err := setKey(reflect.ValueOf(v).Elem(), strings.Split(r.New, "."), val); err != nil {
				return fmt.Errorf("config %s: %s: %w", path, r.Old, err)
			}
			warn(fmt.Sprintf("%s: %s is the old name of %s; it still works, but write %s", path, r.Old, KeyName(r.New), KeyName(r.New)))
		}
		if len(unknown) > 0 {
			return fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(unknown, ", "))
		}
	}
	for _, r := range renamed {
		oldName, newName := EnvName(envPrefix, r.Old), EnvName(envPrefix, r.New)
		s, ok := os.LookupEnv(oldName)
		if !ok || oldName == newName {
			continue
		}
		if _, both := os.LookupEnv(newName); both {
			return fmt.Errorf("environment %s and %s are both set: %s is the old name of %s, unset it", oldName, newName, oldName, newName)
		}
		if err := setKey(reflect.ValueOf(v).Elem(), strings.Split(r.New, "."), s); err != nil {
			return fmt.Errorf("environment %s: %w", oldName, err)
		}
		warn(fmt.Sprintf("environment %s is the old name of %s; it still works, but set %s", oldName, newName, newName))
	}
	if err := ApplyEnv(envPrefix, v); err != nil {
		return err
	}
	if n, ok := v.(Normalizer); ok {
		n.Normalize()
	}
	return nil
}

// KeyName writes a dotted key as an operator finds it in the file:
// "admin.token" is "[admin] token".
func KeyName(dotted string) string {
	if sec, key, ok := strings.Cut(dotted, "."); ok {
		return "[" + sec + "] " + key
	}
	return dotted
}

// EnvName is the environment variable that overrides a dotted key:
// prefix_SECTION_KEY, upper-cased.
func EnvName(prefix, dotted string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(dotted, ".", "_"))
}

func findRenamed(renamed []Renamed, key string) (Renamed, bool) {
	for _, r := range renamed {
		if r.Old == key {
			return r, true
		}
	}
	return Renamed{}, false
}

// lookupKey finds the value of a key in the file decoded as maps.
func lookupKey(m map[string]any, k toml.Key) (any, bool) {
	var cur any = m
	for _, part := range k {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setKey sets the field of the struct rv that the dotted key path names
// (by TOML tags, through embedded structs) to val: a string parsed as the
// environment is, or a TOML value of a convertible type.
func setKey(rv reflect.Value, path []string, val any) error {
	fv, ok := fieldByKey(rv, path[0])
	if !ok {
		return fmt.Errorf("no key %s", strings.Join(path, "."))
	}
	if len(path) > 1 {
		if fv.Kind() != reflect.Struct {
			return fmt.Errorf("%s is not a section", path[0])
		}
		return setKey(fv, path[1:], val)
	}
	if s, ok := val.(string); ok {
		if u, ok := fv.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
			return u.UnmarshalText([]byte(s))
		}
		return setScalar(fv, s)
	}
	v := reflect.ValueOf(val)
	if !v.IsValid() || !v.Type().ConvertibleTo(fv.Type()) || fv.Kind() == reflect.String {
		return fmt.Errorf("want a value like %v, got %v", fv.Interface(), val)
	}
	fv.Set(v.Convert(fv.Type()))
	return nil
}

// fieldByKey finds the field tagged key in rv or in a struct it embeds.
func fieldByKey(rv reflect.Value, key string) (reflect.Value, bool) {
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := tomlName(f)
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			if fv, ok := fieldByKey(rv.Field(i), key); ok {
				return fv, true
			}
			continue
		}
		if tag == key {
			return rv.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// tomlName is the TOML key of a field ("" for an untagged embedded struct).
func tomlName(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("toml"), ",")[0]
	if tag == "" && !f.Anonymous {
		tag = strings.ToLower(f.Name)
	}
	return tag
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
		tag := tomlName(f)
		if tag == "-" {
			continue
		}
		fv := rv.Field(i)
		if tag == "" { // an embedded struct: its keys are the outer struct's
			if fv.Kind() == reflect.Struct {
				if err := applyEnv(prefix, fv, lookup); err != nil {
					return err
				}
			}
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
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
	default:
		return fmt.Errorf("cannot set a %s from %q", fv.Type(), s)
	}
	return nil
}
