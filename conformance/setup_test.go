package conformance

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/protocol"
)

// TestSetupRefuses: each setup the kit cannot run with is refused before
// anything listens, naming the command's flags.
func TestSetupRefuses(t *testing.T) {
	t.Setenv("BAOHAN_APPSECRET", "")
	dir := t.TempDir()
	if _, err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	good := func(side protocol.Side) Setup {
		return Setup{Kit: Kit{Side: side, Config: Config{URL: "http://127.0.0.1:1", AppKey: "k", AppSecret: "s"}},
			SM2Layout: "c1c3c2", FileDigest: "sm3", IndexBase: 1, Listen: "127.0.0.1:0"}
	}
	tests := []struct {
		name   string
		side   protocol.Side
		change func(s *Setup)
		want   string
	}{
		{"nothing", protocol.Platform, func(s *Setup) { s.Config = Config{} }, "--appkey, --appsecret (or BAOHAN_APPSECRET), --url required"},
		{"layout", protocol.Institution, func(s *Setup) { s.SM2Layout = "c3c2c1" }, "--sm2-layout: "},
		{"digest", protocol.Institution, func(s *Setup) { s.FileDigest = "sha1" }, "--file-digest: "},
		{"sign", protocol.Institution, func(s *Setup) { s.Sign = "sha256" }, "--sign: "},
		{"encoding", protocol.Platform, func(s *Setup) { s.Encoding = "base32" }, "--encoding: "},
		{"index base", protocol.Platform, func(s *Setup) { s.IndexBase = 2 }, "--index-base must be 0 or 1, got 2"},
		{"admin token", protocol.Platform, func(s *Setup) { s.AdminURL = "http://x" }, "--admin-url and --admin-token go together"},
		{"bidder", protocol.Institution, func(s *Setup) { s.BidderDir = dir }, "--bidder-dir and --bidder go together"},
		{"seal", protocol.Platform, func(s *Setup) { s.Seal = "bank" }, "--seal-dir and --seal go together"},
		{"TLS", protocol.Platform, func(s *Setup) { s.TLSKey = "k.pem" }, "--tls-cert and --tls-key go together"},
		{"driver", protocol.Institution, func(s *Setup) { s.Driver = "robot" }, `--driver must be manual or baohan, got "robot"`},
		{"no bidder file", protocol.Institution, func(s *Setup) { s.BidderDir, s.Bidder = dir, "nobody" }, "--bidder: "},
		{"admin without bidder", protocol.Platform, func(s *Setup) { s.AdminURL, s.AdminToken = "http://x", "t" }, "--admin-url needs --bidder-dir and --bidder"},
		{"no seal file", protocol.Platform, func(s *Setup) { s.SealDir, s.Seal = dir, "nobody" }, "--seal: "},
		{"trust roots", protocol.Institution, func(s *Setup) { s.TrustRoots = filepath.Join(dir, "none.pem") }, "--trust-roots: "},
		{"listen", protocol.Institution, func(s *Setup) { s.Listen = "256.0.0.1:1" }, "--listen: "},
	}
	for _, tt := range tests {
		s := good(tt.side)
		tt.change(&s)
		if _, err := s.Run(context.Background(), io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// The secret from the environment gets past the required flags.
	t.Setenv("BAOHAN_APPSECRET", "from-env")
	s := good(protocol.Platform)
	s.Config.AppSecret, s.IndexBase = "", 2
	if _, err := s.Run(context.Background(), io.Discard); err == nil || !strings.Contains(err.Error(), "--index-base") || s.Config.AppSecret != "from-env" {
		t.Errorf("secret from BAOHAN_APPSECRET: %v, %q", err, s.Config.AppSecret)
	}
}
