package service

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/config"
)

// TestOverrides: each given setting replaces the configuration's, the
// trust roots as a list; a certificate and key without Plain turn plain
// HTTP off.
func TestOverrides(t *testing.T) {
	base := config.Common{TrustRoots: []string{"old.pem"}, Listen: config.Listen{Addr: "0.0.0.0:8443", Plain: true, Prefix: "/x"},
		Storage: config.Storage{DataDir: "d"}}
	tests := []struct {
		name string
		o    Overrides
		want func(c *config.Common) bool
	}{
		{"none", Overrides{}, func(c *config.Common) bool {
			return c.Listen.Addr == "0.0.0.0:8443" && c.Listen.Plain && c.TrustRoots[0] == "old.pem" && c.Storage.DataDir == "d"
		}},
		{"each", Overrides{Addr: "127.0.0.1:1", DataDir: "e", DB: "postgres://x", Prefix: "/y", PublicURL: "https://p"}, func(c *config.Common) bool {
			return c.Listen.Addr == "127.0.0.1:1" && c.Storage.DataDir == "e" && c.Storage.DB == "postgres://x" && c.Listen.Prefix == "/y" && c.Listen.PublicURL == "https://p"
		}},
		{"trust roots", Overrides{TrustRoots: " a.pem, ,b.pem"}, func(c *config.Common) bool {
			return strings.Join(c.TrustRoots, "|") == "a.pem|b.pem"
		}},
		{"TLS", Overrides{TLSCert: "c.pem", TLSKey: "k.pem"}, func(c *config.Common) bool {
			return !c.Listen.Plain && c.Listen.TLSCert == "c.pem" && c.Listen.TLSKey == "k.pem"
		}},
		{"TLS files, plain anyway", Overrides{TLSCert: "c.pem", TLSKey: "k.pem", Plain: true}, func(c *config.Common) bool { return c.Listen.Plain }},
	}
	for _, tt := range tests {
		c := base
		c.TrustRoots = append([]string(nil), base.TrustRoots...)
		tt.o.Apply(&c)
		if !tt.want(&c) {
			t.Errorf("%s: %+v", tt.name, c)
		}
	}
}

func TestEmbeddedAndLoopback(t *testing.T) {
	for _, tt := range []struct {
		o        Overrides
		addr     string
		loopback bool
		err      string
	}{
		{Overrides{}, "127.0.0.1:8080", true, ""},
		{Overrides{Addr: "localhost:1"}, "localhost:1", true, ""},
		{Overrides{Addr: "[::1]:1"}, "[::1]:1", true, ""},
		{Overrides{Addr: "0.0.0.0:1"}, "0.0.0.0:1", false, "the embedded defaults serve plain HTTP on loopback only; 0.0.0.0:1 is not loopback"},
		{Overrides{Addr: "0.0.0.0:1", Plain: true}, "0.0.0.0:1", false, ""},
		{Overrides{Addr: "0.0.0.0:1", TLSCert: "c.pem"}, "0.0.0.0:1", false, ""},
		{Overrides{Addr: "no-port"}, "no-port", false, "is not loopback"},
	} {
		o := tt.o
		err := o.Embedded("platform", "127.0.0.1:8080")
		if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) || o.Addr != tt.addr || o.DataDir != "baohan-platform" {
			t.Errorf("%+v: %+v %v, want %q", tt.o, o, err, tt.err)
		}
		if Loopback(tt.addr) != tt.loopback {
			t.Errorf("Loopback(%s) != %v", tt.addr, tt.loopback)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var b strings.Builder
	l, err := NewLogger(&b, "warn", true)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.HasPrefix(s, `{"time"`) || !strings.Contains(s, "shown") {
		t.Errorf("logged %q", s)
	}
	if _, err := NewLogger(io.Discard, "loud", false); err == nil {
		t.Error("an unknown level is no error")
	}
}

// fakeRunner runs until its context ends.
type fakeRunner struct{ ran, closed bool }

func (f *fakeRunner) Run(ctx context.Context) error {
	f.ran = true
	<-ctx.Done()
	return nil
}

func (f *fakeRunner) Close() error { f.closed = true; return nil }

// TestRunUntilDone: the admin token is made, the listener's URL becomes
// the public URL, the banner names the routes, the handler answers until
// the context ends, and the service is closed; a start that fails closes
// what it made.
func TestRunUntilDone(t *testing.T) {
	dir := t.TempDir()
	c := config.Common{Listen: config.Listen{Addr: "127.0.0.1:0", Plain: true, Prefix: "/bh/"}, Storage: config.Storage{DataDir: dir}}
	ctx, cancel := context.WithCancel(context.Background())
	r := &fakeRunner{}
	pr, out := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- RunUntilDone(ctx, Starting{Name: "platform", Config: &c, Logger: slog.New(slog.DiscardHandler), Out: out, ListenerURL: true,
			Start: func(ctx context.Context, url string) (Runner, http.Handler, string, error) {
				return r, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up") }), " for institutions: bank", nil
			}})
		out.Close()
	}()
	// The admin token's line, then the banner.
	lines := bufio.NewReader(pr)
	token, _ := lines.ReadString('\n')
	banner, err := lines.ReadString('\n')
	go io.Copy(io.Discard, pr)
	if err != nil || !strings.HasPrefix(token, "admin API bearer token ") || !strings.HasPrefix(banner, "platform serving at http://127.0.0.1:") {
		t.Fatalf("printed %q %q (%v)", token, banner, err)
	}
	url := strings.Fields(banner)[3]
	for _, want := range []string{" (interfaces at " + url + "/bh/<name>, console at " + url + "/console/", "metrics at " + url + "/metrics) for institutions: bank\n"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q: %s", want, banner)
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "up" || c.Listen.PublicURL != url {
		t.Errorf("answer %q, public URL %q", b, c.Listen.PublicURL)
	}
	if _, err := os.Stat(filepath.Join(dir, AdminTokenFile)); err != nil {
		t.Error(err)
	}
	cancel()
	if err := <-done; err != nil || !r.ran || !r.closed {
		t.Errorf("stopped: %v, ran %v, closed %v", err, r.ran, r.closed)
	}

	failed := &fakeRunner{}
	c2 := config.Common{Listen: config.Listen{Addr: "127.0.0.1:0", Plain: true}, Storage: config.Storage{DataDir: dir}}
	err = RunUntilDone(context.Background(), Starting{Name: "institution", Config: &c2, Logger: slog.New(slog.DiscardHandler), Out: io.Discard,
		Start: func(context.Context, string) (Runner, http.Handler, string, error) {
			return failed, nil, "", errors.New("console: no")
		}})
	if err == nil || err.Error() != "console: no" || !failed.closed || c2.Listen.PublicURL != "" {
		t.Errorf("a failed start: %v, closed %v, public URL %q", err, failed.closed, c2.Listen.PublicURL)
	}
}
