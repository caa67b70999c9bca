package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
)

// bidderFiles writes a bidder key and self-signed certificate to dir.
func bidderFiles(t *testing.T, dir string) (keyFile, certFile string) {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "某某建设有限公司", SerialNumber: "91110000MA01ABCDEX"},
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

// startCAAgent runs baohan ca-agent with extra args, stdin in, until the
// test ends, and returns its URL and standard output.
func startCAAgent(t *testing.T, in io.Reader, extra ...string) (string, *syncBuffer) {
	t.Helper()
	keyFile, certFile := bidderFiles(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &Env{Stdin: in, Stdout: &out, Stderr: &errb}, append([]string{"ca-agent", "--key", keyFile, "--cert", certFile,
			"--addr", "127.0.0.1:0", "--origin", "http://127.0.0.1:8080", "--origin", "https://fi.example.cn"}, extra...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d: %s", code, errb.String())
		}
	})
	re := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], &out
		}
	}
	t.Fatalf("no address printed; stdout %q stderr %q", out.String(), errb.String())
	return "", nil
}

// caAgentCall calls the agent as a page of origin; body "" is a GET.
func caAgentCall(t *testing.T, method, url, origin, body string) (*http.Response, map[string]string) {
	t.Helper()
	resp, m, err := caAgentDo(method, url, origin, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, m
}

func caAgentDo(method, url, origin, body string) (*http.Response, map[string]string, error) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Origin", origin)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var m map[string]string
	json.NewDecoder(resp.Body).Decode(&m)
	return resp, m, nil
}

const agentChallenge = `{"challenge":"0123456789abcdef0123","purpose":"institution-quit","applyno":"BH2026000001"}`

func TestCAAgentCommand(t *testing.T) {
	base, out := startCAAgent(t, strings.NewReader(""), "--unattended")
	if resp, m := caAgentCall(t, "GET", base+"/v1/cert", "https://fi.example.cn", ""); resp.StatusCode != 200 || m["creditcode"] != "91110000MA01ABCDEX" {
		t.Errorf("allowed origin: %d %v", resp.StatusCode, m)
	}
	if resp, m := caAgentCall(t, "GET", base+"/v1/cert", "https://evil.example", ""); resp.StatusCode != 403 || m["error"] == "" {
		t.Errorf("other origin: %d %v", resp.StatusCode, m)
	}
	// --unattended signs without asking.
	if resp, m := caAgentCall(t, "POST", base+"/v1/challenge", "https://fi.example.cn", agentChallenge); resp.StatusCode != 200 || m["signature"] == "" {
		t.Errorf("unattended: %d %v", resp.StatusCode, m)
	}
	if !strings.Contains(out.String(), "unattended") {
		t.Errorf("stdout does not say the agent is unattended: %q", out.String())
	}
}

// TestCAAgentCommandAsks: by default the agent asks on its terminal and
// signs only with the code it shows typed back.
func TestCAAgentCommandAsks(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	base, out := startCAAgent(t, pr)
	code := regexp.MustCompile(`type (\d{4}) to allow`)
	for _, tc := range []struct {
		answer func(code string) string
		status int
	}{
		{func(string) string { return "no" }, 403},
		{func(c string) string { return c }, 200},
	} {
		before := len(code.FindAllString(out.String(), -1))
		type result struct {
			resp *http.Response
			m    map[string]string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, m, err := caAgentDo("POST", base+"/v1/challenge", "https://fi.example.cn", agentChallenge)
			done <- result{resp, m, err}
		}()
		var shown []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(shown) <= before; time.Sleep(5 * time.Millisecond) {
			shown = code.FindAllString(out.String(), -1)
		}
		if len(shown) <= before {
			t.Fatalf("no question shown: %q", out.String())
		}
		for _, want := range []string{"institution-quit", "https://fi.example.cn", "BH2026000001"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the question does not show %q: %q", want, out.String())
			}
		}
		io.WriteString(pw, tc.answer(code.FindStringSubmatch(shown[len(shown)-1])[1])+"\n")
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.resp.StatusCode != tc.status || (tc.status == 200) != (r.m["signature"] != "") {
			t.Errorf("answer %q: %d %v, want %d", tc.answer("<code>"), r.resp.StatusCode, r.m, tc.status)
		}
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
		{[]string{"--key", keyFile, "--cert", certFile, "--origin", "http://a", "--confirm-timeout", "0s"}, "--confirm-timeout"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), &Env{Stdout: &out, Stderr: &errb}, append([]string{"ca-agent"}, tc.args...))
		if code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errb.String(), tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), &Env{Stdout: &out, Stderr: &errb}, []string{"ca-agent", "--help"}); code != 0 ||
		!strings.Contains(errb.String(), "--origin") || !strings.Contains(errb.String(), "-unattended") || !strings.Contains(errb.String(), "--confirm-timeout") {
		t.Errorf("--help: exit %d %q", code, errb.String())
	}
}
