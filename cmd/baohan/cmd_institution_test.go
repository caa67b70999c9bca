package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/gm/testca"
)

func TestInstitutionServeHelp(t *testing.T) {
	var out, errb syncBuffer
	if code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, []string{"institution", "serve", "--help"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"usage: baohan institution serve", "--config", "--data", "demo-inst"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, errb.String())
		}
	}
}

// startInstitution runs the embedded defaults on a free port and returns
// the URL it serves at and what it printed.
func startInstitution(t *testing.T, dir string) (url string, out *syncBuffer, stop func()) {
	t.Helper()
	return startServing(t, regexp.MustCompile(`serving at (http://127\.0\.0\.1:[0-9]+)`),
		"institution", "serve", "--addr", "127.0.0.1:0", "--data", dir)
}

func TestInstitutionServeEmbedded(t *testing.T) {
	dir := t.TempDir()
	url, out, stop := startInstitution(t, dir)
	for _, want := range []string{"made a test CA", "demo platform peer: appkey demo-inst appsecret ", "admin API bearer token "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("first start did not print %q:\n%s", want, out.String())
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
	token, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if st, body := get("/api/applications", strings.TrimSpace(string(token))); st != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("admin API: %d %s", st, body)
	}
	if st, _ := get("/api/applications", "wrong"); st != 401 {
		t.Errorf("admin API with a wrong token: %d", st)
	}
	resp, err := http.Post(url+"/baohanapply", "application/json", strings.NewReader(`{"appkey":"demo-inst"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), `{"code":0,"message":`) {
		t.Errorf("protocol answer: %s", b)
	}
	stop()

	// The second start reuses the secrets and prints none.
	_, out2, stop2 := startInstitution(t, dir)
	if strings.Contains(out2.String(), "appsecret") || strings.Contains(out2.String(), "bearer token") {
		t.Errorf("secrets printed again:\n%s", out2.String())
	}
	stop2()
}

func TestInstitutionServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "i.toml")
	os.WriteFile(path, []byte("[listen]\naddr = \"127.0.0.1:0\"\nplain_http = true\n[institution]\nnme = \"x\"\n"), 0o600)
	var out, errb syncBuffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, []string{"institution", "serve", "--config", path})
	if code != 1 || !strings.Contains(errb.String(), "unknown keys: institution.nme") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	os.WriteFile(path, []byte("[listen]\naddr = \"127.0.0.1:0\"\nplain_http = true\npublic_url = \"http://x\"\n"), 0o600)
	errb = syncBuffer{}
	code = run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, []string{"institution", "serve", "--config", path, "--data", dir})
	if code != 1 || !strings.Contains(errb.String(), "institution.name is required") || !strings.Contains(errb.String(), "no [[platform]] configured") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

func TestInstitutionExampleConfigLoads(t *testing.T) {
	// The documented example must at least parse and pass the checks that
	// need no files.
	var out, errb syncBuffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb},
		[]string{"institution", "serve", "--config", "../../docs/institution.example.toml", "--addr", "127.0.0.1:0", "--data", t.TempDir()})
	// It refers to /etc files that do not exist here: the error must be about them, not the TOML.
	if code != 1 || strings.Contains(errb.String(), "unknown keys") || strings.Contains(errb.String(), "toml") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

// TestInstitutionCheck: `institution check` checks like `platform check`:
// the configuration, the files it names, the database (without making
// it, then migrated once served) and, with --reach, the platforms.
func TestInstitutionCheck(t *testing.T) {
	dir := t.TempDir()
	ca, err := testca.Init(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.IssueToDir(filepath.Join(dir, "ca"), "inst", testca.Institution); err != nil {
		t.Fatal(err)
	}
	platform := httptest.NewServer(http.NotFoundHandler())
	defer platform.Close()
	data := filepath.Join(dir, "data")
	cfg := fmt.Sprintf(`
trust_roots = [%q]
max_body = 2097152
[listen]
addr = "127.0.0.1:0"
plain_http = true
public_url = "http://127.0.0.1:1"
[storage]
data_dir = %q
[admin]
token = "check-token-0123456789"
[institution]
name = "某某融资担保有限公司"
seal_cert = %q
seal_key = %q
[[product]]
name = "投标保函"
rate = "0.005"
[[platform]]
name = "ggzy"
appkey = "k"
appsecret = "s"
base_url = %q
`, filepath.Join(dir, "ca", testca.CACertFile), data, filepath.Join(dir, "ca", testca.CertFile("inst")),
		filepath.Join(dir, "ca", testca.KeyFile("inst")), platform.URL)
	path := filepath.Join(dir, "institution.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(args ...string) (int, string, string) {
		var out, errb syncBuffer
		code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, append([]string{"institution", "check"}, args...))
		return code, out.String(), errb.String()
	}
	code, out, errs := check("--config", path, "--reach")
	for _, want := range []string{
		"config    ok      " + path + " (1 platforms, 1 products)",
		"warning   warning " + path + ": max_body is the old name of [listen] max_body",
		"files     ok      readable: trust_roots (1 certificates), institution.seal_cert, institution.seal_key",
		"database  warning no master key yet: serve makes " + filepath.Join(data, "master.key"),
		"database  ok      SQLite " + filepath.Join(data, "institution.db") + " not made yet: serve makes it",
		"peer      ok      ggzy " + platform.URL + " answered HTTP 404",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("check made the data directory")
	}
	if strings.Contains(out, "allow_private_addresses") {
		t.Errorf("a warning about [fetch] by default:\n%s", out)
	}
	// Files fetched from private addresses: said, from the environment too.
	t.Setenv("BAOHAN_INSTITUTION_FETCH_ALLOW_PRIVATE_ADDRESSES", "true")
	if code, out, _ := check("--config", path); code != 0 || !strings.Contains(out, "fetch     warning [fetch] allow_private_addresses = true: ") {
		t.Errorf("allow_private_addresses: exit %d\n%s", code, out)
	}
	os.Unsetenv("BAOHAN_INSTITUTION_FETCH_ALLOW_PRIVATE_ADDRESSES")

	// Once served, the database is there and migrated.
	_, _, stop := startServing(t, regexp.MustCompile(`serving at (http://127\.0\.0\.1:[0-9]+)`), "institution", "serve", "--config", path)
	stop()
	if code, out, _ := check(path); code != 0 || !strings.Contains(out, "database  ok      sqlite reachable, every migration applied") {
		t.Errorf("after serve: exit %d\n%s", code, out)
	}

	// A seal key that is not one, a platform that does not answer: exit
	// 1, each named.
	os.WriteFile(filepath.Join(dir, "ca", testca.KeyFile("inst")), []byte("not a key"), 0o600)
	platform.Close()
	code, _, errs = check("--config", path, "--reach")
	if code != 1 || !strings.Contains(errs, "institution.seal_key "+filepath.Join(dir, "ca", testca.KeyFile("inst"))+": ") ||
		!strings.Contains(errs, "peer: ggzy "+platform.URL+" unreachable") {
		t.Errorf("broken: exit %d: %s", code, errs)
	}
	if code, _, errs := check(); code != 1 || !strings.Contains(errs, "--config FILE is required") {
		t.Errorf("no file: exit %d: %s", code, errs)
	}
}
