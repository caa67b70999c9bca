package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
