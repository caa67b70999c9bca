package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/transport"
)

func TestPeerSecurityControls(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte(`
[[peer]]
name = "bank"
appkey = "k"
appsecret = "s"
rate_limit = 5
rate_burst = 10
allow_from = ["10.0.0.0/8", "192.0.2.7"]

[[peer]]
name = "open"
appkey = "k2"
appsecret = "s2"
rate_limit = -1
`), 0o600)
	var c testConfig
	if err := Load(path, "T", &c); err != nil {
		t.Fatal(err)
	}
	p, err := c.Peers[0].Transport()
	if err != nil {
		t.Fatal(err)
	}
	if p.RateLimit != (transport.RateLimit{Rate: 5, Burst: 10}) || len(p.AllowFrom) != 2 || p.AllowFrom[1].String() != "192.0.2.7/32" {
		t.Fatalf("%+v %v", p.RateLimit, p.AllowFrom)
	}
	p2, err := c.Peers[1].Transport()
	if err != nil {
		t.Fatal(err)
	}
	if !p2.RateLimit.Off() || len(p2.AllowFrom) != 0 {
		t.Fatalf("%+v %v", p2.RateLimit, p2.AllowFrom)
	}
	for _, tc := range []struct {
		p    Peer
		want string
	}{
		{Peer{Name: "b", AppKey: "k", AppSecret: "s", AllowFrom: []string{"10.0.0.0/40"}}, `peer "b": allow_from entry "10.0.0.0/40"`},
		{Peer{Name: "b", AppKey: "k", AppSecret: "s", RateLimit: -2}, `peer "b": rate_limit must be positive`},
		{Peer{Name: "b", AppKey: "k", AppSecret: "s", RateBurst: -1}, `peer "b": rate_burst must not be negative`},
	} {
		if _, err := tc.p.Transport(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
}

func TestPeerExtensions(t *testing.T) {
	base := Peer{Name: "p", AppKey: "k", AppSecret: "s"}
	for _, c := range []struct {
		ext  []string
		want string // error text, "" for none
	}{
		{nil, ""},
		{[]string{"claimsresultnotice", "claimsrepaynotice"}, ""},
		{[]string{"claimsnotice"}, `peer "p": extensions: "claimsnotice" is not an optional interface (known: "claimsresultnotice", "claimsrepaynotice")`},
		{[]string{"claimsresult"}, `peer "p": extensions: "claimsresult" is not an optional interface (known: "claimsresultnotice", "claimsrepaynotice")`},
		{[]string{"claimsrepaynotice", "claimsrepaynotice"}, `peer "p": extensions: "claimsrepaynotice" is listed twice`},
	} {
		p := base
		p.Extensions = c.ext
		tp, err := p.Transport()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%v: error %q, want %q", c.ext, got, c.want)
			continue
		}
		if err == nil && len(tp.Extensions) != len(c.ext) {
			t.Errorf("%v: %d extensions", c.ext, len(tp.Extensions))
		}
	}
}
