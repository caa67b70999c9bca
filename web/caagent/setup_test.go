package caagent

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/pki"
)

// TestSetupServe: the setup refuses what it cannot run with, naming the
// flag; a good one says whose key answers where, then serves until the
// context ends.
func TestSetupServe(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.IssueToDir(dir, "投标人", pki.Bidder, pki.WithCreditCode("91110000MA01ABCDEX")); err != nil {
		t.Fatal(err)
	}
	good := Setup{KeyFile: filepath.Join(dir, pki.KeyFile("投标人")), CertFile: filepath.Join(dir, pki.CertFile("投标人")),
		Addr: "127.0.0.1:0", Origins: []string{origin}, Layout: "c1c3c2", CreditCodeIn: "serialnumber", Unattended: true, ConfirmTimeout: time.Minute}
	for _, tt := range []struct {
		name   string
		change func(s *Setup)
		want   string
	}{
		{"no key", func(s *Setup) { s.KeyFile = "" }, "--key and --cert are required"},
		{"no timeout", func(s *Setup) { s.ConfirmTimeout = 0 }, "--confirm-timeout must be positive"},
		{"layout", func(s *Setup) { s.Layout = "pkcs7" }, "--layout: "},
		{"credit code place", func(s *Setup) { s.CreditCodeIn = "dn" }, "--credit-code-in: "},
		{"key file", func(s *Setup) { s.KeyFile = s.CertFile }, "投标人.cert.pem"},
		{"no origin", func(s *Setup) { s.Origins = nil }, "origin"},
		{"not loopback", func(s *Setup) { s.Addr = "0.0.0.0:0" }, "--addr 0.0.0.0:0: the CA agent answers on a loopback address only"},
		{"no port", func(s *Setup) { s.Addr = "127.0.0.1" }, "--addr: "},
	} {
		s := good
		tt.change(&s)
		if err := s.Serve(context.Background(), strings.NewReader(""), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- good.Serve(ctx, strings.NewReader(""), w, io.Discard); w.Close() }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "CA agent for 投标人 (91110000MA01ABCDEX) at http://127.0.0.1:") || !strings.HasSuffix(line, "for pages of "+origin+"\n") {
		t.Fatalf("first line %q (%v)", line, err)
	}
	go io.Copy(io.Discard, r)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
