package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/transport"
)

type testConfig struct {
	Listen  Listen   `toml:"listen"`
	Storage Storage  `toml:"storage"`
	Window  Duration `toml:"window"`
	Peers   []Peer   `toml:"peer"`
}

func TestLoadFileThenEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	err := os.WriteFile(path, []byte(`
window = "5m"
[listen]
addr = "127.0.0.1:1"
plain_http = true
[storage]
data_dir = "/var/lib/baohan"
[[peer]]
name = "bank"
appkey = "k"
appsecret = "s"
index_base = 0
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BAOHAN_T_LISTEN_ADDR", "127.0.0.1:2")
	t.Setenv("BAOHAN_T_STORAGE_DB", "postgres://x")
	var c testConfig
	if err := Load(path, "BAOHAN_T", &c); err != nil {
		t.Fatal(err)
	}
	if c.Listen.Addr != "127.0.0.1:2" || !c.Listen.Plain {
		t.Errorf("listen = %+v", c.Listen)
	}
	if c.Storage.DB != "postgres://x" || c.Storage.DataDir != "/var/lib/baohan" {
		t.Errorf("storage = %+v", c.Storage)
	}
	if c.Window.Duration != 5*time.Minute {
		t.Errorf("window = %v", c.Window)
	}
	if len(c.Peers) != 1 || c.Peers[0].IndexBase == nil || *c.Peers[0].IndexBase != 0 {
		t.Fatalf("peers = %+v", c.Peers)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, file, env, want string }{
		{"unknown key", "[listen]\nadress = \"x\"\n", "", "unknown keys: listen.adress"},
		{"bad duration", "window = \"ten minutes\"\n", "", "not a duration"},
		{"bad env bool", "", "BAOHAN_T_LISTEN_PLAIN_HTTP=maybe", "BAOHAN_T_LISTEN_PLAIN_HTTP: not a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.env != "" {
				k, v, _ := strings.Cut(tc.env, "=")
				t.Setenv(k, v)
			}
			var c testConfig
			err := Load(path, "BAOHAN_T", &c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestListenValidate(t *testing.T) {
	if err := (Listen{Addr: ":1"}).Validate(); err == nil || !strings.Contains(err.Error(), "plain_http") {
		t.Errorf("TLS-less listen accepted: %v", err)
	}
	if err := (Listen{Addr: ":1", Plain: true}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (Listen{Addr: ":1", TLSCert: "c", TLSKey: "k"}).Validate(); err != nil {
		t.Error(err)
	}
	l := Listen{Addr: ":1", Plain: true, TrustedProxies: []string{"10.0.0.0/8", "192.0.2.7"}}
	if p, err := l.Proxies(); err != nil || len(p) != 2 || !p[1].Contains(netip.MustParseAddr("192.0.2.7")) || p[1].Bits() != 32 {
		t.Errorf("trusted proxies %v: %v", p, err)
	}
	l.TrustedProxies = []string{"10.0.0.0/8", "nginx"}
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "listen.trusted_proxies") {
		t.Errorf("a bad trusted proxy accepted: %v", err)
	}
}

func TestListenUnauthenticatedBudget(t *testing.T) {
	for _, tc := range []struct {
		name            string
		perAddr, total  int64
		want            transport.UnauthenticatedBudget
		wantErrContains string
	}{
		{"defaults", 0, 0, transport.UnauthenticatedBudget{}, ""},
		{"set", 1 << 20, 64 << 20, transport.UnauthenticatedBudget{PerAddress: 1 << 20, Total: 64 << 20}, ""},
		{"unbounded", -1, -1, transport.UnauthenticatedBudget{PerAddress: -1, Total: -1}, ""},
		{"bad per address", -2, 0, transport.UnauthenticatedBudget{}, "listen.unauthenticated_log_per_address must be bytes a day"},
		{"bad total", 0, -5, transport.UnauthenticatedBudget{}, "listen.unauthenticated_log_total must be bytes a day"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Listen{Addr: ":1", Plain: true, UnauthenticatedLogPerAddress: tc.perAddr, UnauthenticatedLogTotal: tc.total}
			b, err := l.UnauthenticatedBudget()
			verr := l.Validate()
			if tc.wantErrContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrContains) || verr == nil || verr.Error() != err.Error() {
					t.Fatalf("err %v, Validate %v; want %q", err, verr, tc.wantErrContains)
				}
				return
			}
			if err != nil || verr != nil || b != tc.want {
				t.Fatalf("budget %+v (%v, Validate %v), want %+v", b, err, verr, tc.want)
			}
		})
	}
	// From TOML and from the environment.
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte("[listen]\naddr = \":1\"\nunauthenticated_log_per_address = 1048576\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BAOHAN_T_LISTEN_UNAUTHENTICATED_LOG_TOTAL", "-1")
	var c testConfig
	if err := Load(path, "BAOHAN_T", &c); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Listen.UnauthenticatedBudget(); err != nil || b != (transport.UnauthenticatedBudget{PerAddress: 1 << 20, Total: -1}) {
		t.Errorf("loaded budget %+v, %v", b, err)
	}
}
