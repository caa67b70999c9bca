package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestConsoleClientIP: the address the login throttle and the audit
// trail see: the connection's, or behind a trusted proxy the browser's it
// names in X-Forwarded-For.
func TestConsoleClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.10/32")}
	for _, tt := range []struct {
		name    string
		proxies []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{"no proxies, header ignored", nil, "198.51.100.4:5555", "203.0.113.9", "198.51.100.4"},
		{"trusted proxy", trusted, "10.0.0.10:5555", "203.0.113.9", "203.0.113.9"},
		{"trusted proxy, two hops", trusted, "10.0.0.10:5555", "203.0.113.9, 10.0.0.10", "203.0.113.9"},
		{"untrusted sender, header ignored", trusted, "198.51.100.4:5555", "203.0.113.9", "198.51.100.4"},
		{"trusted proxy, malformed header", trusted, "10.0.0.10:5555", "not-an-ip", "unknown"},
	} {
		c := &console{proxies: tt.proxies}
		r := httptest.NewRequest("POST", "/console/login", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := c.clientIP(r); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
