package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/protocol"
)

func TestPlatformServeHelp(t *testing.T) {
	var out, errb syncBuffer
	if code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, []string{"platform", "serve", "--help"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"usage: baohan platform serve", "--config", "--data", "--db", "--tls-cert", "--plain", "--prefix", "demo-inst", "http://127.0.0.1:8082/"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, errb.String())
		}
	}
	errb = syncBuffer{}
	if code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, []string{"platform", "check", "--help"}); code != 0 {
		t.Fatalf("check --help: exit %d", code)
	}
}

// startPlatform runs `platform serve` with args and returns the URL it
// serves at and what it printed.
func startPlatform(t *testing.T, args ...string) (url string, out *syncBuffer, stop func()) {
	t.Helper()
	return startServing(t, regexp.MustCompile(`platform serving at (http://127\.0\.0\.1:[0-9]+)`),
		append([]string{"platform", "serve"}, args...)...)
}

func TestPlatformServeEmbedded(t *testing.T) {
	dir := t.TempDir()
	url, out, stop := startPlatform(t, "--addr", "127.0.0.1:0", "--data", dir)
	printed := out.String()
	for _, want := range []string{"made a test CA in ", "demo institution: appkey demo-inst appsecret ", "admin API bearer token ", "for institutions: demo"} {
		if !strings.Contains(printed, want) {
			t.Errorf("first start did not print %q:\n%s", want, printed)
		}
	}
	secret := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "demo-inst.appsecret")))))
	token := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "admin.token")))))
	if !strings.Contains(printed, secret) || !strings.Contains(printed, token) {
		t.Error("the generated secrets were not printed")
	}
	for _, f := range []string{"platform.db", "master.key", "ca/ca.cert.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	get := func(path, auth string) (int, string) {
		req, _ := http.NewRequest("GET", url+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("/healthz", ""); st != 200 || !strings.Contains(body, "ok") {
		t.Errorf("healthz: %d %s", st, body)
	}
	if st, body := get("/api/institutions", token); st != 200 || !strings.Contains(body, `"appkey": "demo-inst"`) || strings.Contains(body, secret) {
		t.Errorf("admin API: %d %s", st, body)
	}
	if st, _ := get("/api/applications", "wrong"); st != 401 {
		t.Errorf("admin API with a wrong token: %d", st)
	}
	// A signed request as the demo institution reaches the business.
	f := map[string]string{"appkey": "demo-inst", "timestamp": protocol.FormatTime(time.Now()), "applyno": "BH20260101ZZZZZZZZZZZZ"}
	f["sign"] = protocol.Sign(f, secret)
	resp, err := http.Post(url+"/giveupnotice", "application/json", bytes.NewReader(protocol.MarshalFields(f)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"code":0,"message":"applyno BH20260101ZZZZZZZZZZZZ is unknown","data":{}}` {
		t.Errorf("signed giveupnotice: %s", b)
	}
	stop()

	// The second start reuses the secrets and prints none.
	_, out2, stop2 := startPlatform(t, "--addr", "127.0.0.1:0", "--data", dir)
	if strings.Contains(out2.String(), "appsecret") || strings.Contains(out2.String(), "bearer token") || strings.Contains(out2.String(), "test CA") {
		t.Errorf("secrets printed again:\n%s", out2.String())
	}
	stop2()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPlatformServeConfig(t *testing.T) {
	dir := t.TempDir()
	ca, err := testca.Init(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	_ = ca
	cfg := fmt.Sprintf(`
trust_roots = [%q]
admin_token = "config-token-0123456789"
[listen]
addr = "127.0.0.1:1"
plain_http = true
prefix = "/baohan"
[storage]
data_dir = %q
[[institution]]
name = "bank"
appkey = "bank-key"
appsecret = "bank-secret"
base_url = "http://127.0.0.1:1/bank"
platformcode = "P1"
  [[institution.product]]
  name = "投标保函"
  rate = "0.005"
`, filepath.Join(dir, "ca", "ca.cert.pem"), filepath.Join(dir, "data"))
	path := filepath.Join(dir, "platform.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	if code := run(context.Background(), env, []string{"platform", "check", path}); code != 0 || !strings.Contains(out.String(), "(1 institutions)") {
		t.Fatalf("check: exit %d: %s %s", code, out.String(), errb.String())
	}
	// The flag overrides the file's address; the prefix applies.
	url, out2, stop := startPlatform(t, "--config", path, "--addr", "127.0.0.1:0")
	if strings.Contains(out2.String(), "bearer token") {
		t.Errorf("a configured token was replaced: %s", out2.String())
	}
	resp, err := http.Post(url+"/baohan/giveupnotice", "application/json", strings.NewReader(`{"appkey":"nope"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"code":0`) || !strings.Contains(string(b), `sign`) && !strings.Contains(string(b), "appkey") {
		t.Errorf("prefixed endpoint: %s", b)
	}
	req, _ := http.NewRequest("GET", url+"/api/applications", nil)
	req.Header.Set("Authorization", "Bearer config-token-0123456789")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin API with the configured token: %v %v", resp, err)
	}
	resp.Body.Close()
	stop()

	// Errors are one line, exit 1.
	bad := strings.Replace(cfg, `rate = "0.005"`, `rate = "2"`, 1)
	os.WriteFile(path, []byte(bad), 0o600)
	out, errb = syncBuffer{}, syncBuffer{}
	if code := run(context.Background(), env, []string{"platform", "check", "--config", path}); code != 1 || !strings.Contains(errb.String(), "rate must be between 0 and 1") {
		t.Errorf("bad config: exit %d: %s", code, errb.String())
	}
	if code := run(context.Background(), env, []string{"platform", "serve", "--config", path, "--institution-url", "http://x"}); code != 1 {
		t.Errorf("--institution-url with --config: exit %d", code)
	}
	errb = syncBuffer{}
	if code := run(context.Background(), env, []string{"platform", "serve", "--config", path, "--trust-roots", filepath.Join(dir, "missing.pem")}); code != 1 ||
		!strings.Contains(errb.String(), "missing.pem") {
		t.Errorf("--trust-roots with a missing file: exit %d: %s", code, errb.String())
	}
	errb = syncBuffer{}
	if code := run(context.Background(), env, []string{"platform", "serve", "--addr", "0.0.0.0:0", "--data", filepath.Join(dir, "emb")}); code != 1 ||
		!strings.Contains(errb.String(), "the embedded defaults serve plain HTTP on loopback only") {
		t.Errorf("embedded defaults on a public address: exit %d: %s", code, errb.String())
	}
}
