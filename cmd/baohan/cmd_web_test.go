package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bidderFiles writes a bidder key and self-signed certificate to dir.
func bidderFiles(t *testing.T, dir string) (keyFile, certFile string) {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "某某建设有限公司", SerialNumber: "91110000MA01ABCDE1"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := gm.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile = filepath.Join(dir, "bidder.key.pem"), filepath.Join(dir, "bidder.cert.pem")
	os.WriteFile(keyFile, kp, 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return keyFile, certFile
}

func TestCAAgentCommand(t *testing.T) {
	keyFile, certFile := bidderFiles(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &Env{Stdout: &out, Stderr: &errb}, []string{"ca-agent", "--key", keyFile, "--cert", certFile,
			"--addr", "127.0.0.1:0", "--origin", "http://127.0.0.1:8080", "--origin", "https://fi.example.cn"})
	}()
	re := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)`)
	var base string
	for i := 0; i < 200 && base == ""; i++ {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if base == "" {
		t.Fatalf("no address printed; stdout %q stderr %q", out.String(), errb.String())
	}
	get := func(origin string) (*http.Response, map[string]string) {
		req, _ := http.NewRequest("GET", base+"/v1/cert", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	if resp, m := get("https://fi.example.cn"); resp.StatusCode != 200 || m["creditcode"] != "91110000MA01ABCDE1" {
		t.Errorf("allowed origin: %d %v", resp.StatusCode, m)
	}
	if resp, m := get("https://evil.example"); resp.StatusCode != 403 || m["error"] == "" {
		t.Errorf("other origin: %d %v", resp.StatusCode, m)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestCAAgentCommandRefuses(t *testing.T) {
	keyFile, certFile := bidderFiles(t, t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cert", certFile, "--origin", "http://a"}, "--key and --cert are required"},
		{[]string{"--key", keyFile, "--cert", certFile}, "--origin"},
		{[]string{"--key", keyFile, "--cert", certFile, "--origin", "http://a", "--addr", "0.0.0.0:0"}, "loopback"},
		{[]string{"--key", keyFile, "--cert", certFile, "--origin", "http://a/path"}, "not scheme://host"},
		{[]string{"--key", keyFile, "--cert", certFile, "--origin", "http://a", "--layout", "pkcs7"}, "--layout"},
		{[]string{"--key", certFile, "--cert", certFile, "--origin", "http://a"}, "bidder.cert.pem"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), &Env{Stdout: &out, Stderr: &errb}, append([]string{"ca-agent"}, tc.args...))
		if code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errb.String(), tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), &Env{Stdout: &out, Stderr: &errb}, []string{"ca-agent", "--help"}); code != 0 || !strings.Contains(errb.String(), "--origin") {
		t.Errorf("--help: exit %d %q", code, errb.String())
	}
}
