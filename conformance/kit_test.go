package conformance

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

func TestKitRefusesIncompleteSetups(t *testing.T) {
	cfg := Config{URL: "http://127.0.0.1:1", AppKey: "k", AppSecret: "s", ListenURL: "http://127.0.0.1:2"}
	noListen := cfg
	noListen.ListenURL = ""
	for _, tt := range []struct {
		name string
		kit  Kit
		want string
	}{
		{"no listen URL", Kit{Side: protocol.Institution, Config: noListen}, "listen URL is required"},
		{"admin API without a bidder", Kit{Side: protocol.Platform, Config: cfg, AdminURL: "http://x", AdminToken: "t"}, "needs a bidder"},
		{"unknown driver", Kit{Side: protocol.Institution, Config: cfg, Driver: "robot"}, `driver must be manual or baohan, got "robot"`},
		{"bad config", Kit{Side: protocol.Institution, Config: Config{ListenURL: "http://x"}, Driver: "baohan"}, "URL of the implementation under test is required"},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, err = tt.kit.Run(context.Background(), ln)
		ln.Close()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestKitWaitAndDriver(t *testing.T) {
	for _, tt := range []struct {
		kit    Kit
		manual bool
		want   time.Duration
	}{
		{Kit{}, false, 2 * time.Minute},
		{Kit{}, true, 15 * time.Minute},
		{Kit{Wait: 20 * time.Second}, true, 20 * time.Second},
	} {
		if got := tt.kit.wait(tt.manual); got != tt.want {
			t.Errorf("%+v manual=%v: wait %v, want %v", tt.kit, tt.manual, got, tt.want)
		}
	}
	// Without an admin API the institution's bidder steps are manual: the
	// instructions name a directory holding the bidder's key and
	// certificate, and the waits are a person's.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out bytes.Buffer
	cfg := Config{URL: "http://127.0.0.1:1", AppKey: "k", AppSecret: "s", ListenURL: "http://127.0.0.1:2", Out: &out}
	s, err := Kit{Side: protocol.Institution, Config: cfg}.suite(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Side() != protocol.Institution || cfg.Wait != 15*time.Minute {
		t.Errorf("side %s, wait %v", s.Side(), cfg.Wait)
	}
	if dirs, _ := filepath.Glob(filepath.Join(tmp, "baohan-conformance-bidder-*", "bidder.cert.pem")); len(dirs) != 1 {
		t.Errorf("bidder written for the person: %v", dirs)
	}
}

func TestWriteBidder(t *testing.T) {
	b, err := NewTestBidder("一致性测试投标人有限公司")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := writeBidder(b)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	keyPEM, err := os.ReadFile(filepath.Join(dir, "bidder.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := gm.ParsePrivateKey(keyPEM)
	if err != nil || !key.Equal(b.Key) {
		t.Fatalf("key file: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "bidder.key.pem")); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, "bidder.cert.pem"))
	if cert, err := gm.ParseCertificate(certPEM); err != nil || !cert.Equal(b.Cert) {
		t.Errorf("certificate file: %v", err)
	}
}

func TestClipLine(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"two\n  lines\tand tabs", 100, "two lines and tabs"},
		{"投标保函投标保函", 5, "投标保函…"},
		{"abcdef", 6, "abcdef"},
	} {
		if got := clipLine(tt.in, tt.n); got != tt.want {
			t.Errorf("clipLine(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
