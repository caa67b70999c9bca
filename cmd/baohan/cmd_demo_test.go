package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestDemoCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb},
		[]string{"demo", "--data", dir, "--opening", "3s"})
	if code != 0 {
		t.Fatalf("baohan demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"interfaces used: 16/16 (14 + 2 optional)", "demo every step checked out", "baohanrestore", "claimsnotice"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "[27/27] ok") {
		t.Errorf("stderr lacks the step counter:\n%s", errb.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "*.ofd"))
	if len(files) != 2 {
		t.Errorf("OFD files written: %v", files)
	}
}

func TestDemoJSONAndKeep(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	errw := &watchWriter{want: "press Ctrl-C", fn: cancel}
	code := run(ctx, &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: errw}, []string{"demo", "--data", dir, "--opening", "3s", "--json", "--keep"})
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errw.String())
	}
	var res struct {
		OK         bool     `json:"ok"`
		Interfaces []string `json:"interfaces"`
		Exchanges  []struct {
			Interface string `json:"interface"`
			Code      int    `json:"code"`
		} `json:"exchanges"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, out.String())
	}
	if !res.OK || len(res.Interfaces) != 16 || len(res.Exchanges) < 30 {
		t.Errorf("result: ok %v, %d interfaces, %d exchanges", res.OK, len(res.Interfaces), len(res.Exchanges))
	}
	for _, want := range []string{"/console/", "admin", "password", "token"} {
		if !strings.Contains(errw.String(), want) {
			t.Errorf("--keep output lacks %q:\n%s", want, errw.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.log")); err != nil {
		t.Error(err)
	}
}

func TestDemoHelpAndFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), &Env{Stdout: &out, Stderr: &errb}, []string{"demo", "--help"}); code != 0 || !strings.Contains(errb.String(), "14 interfaces") {
		t.Errorf("--help: exit %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), &Env{Stdout: &out, Stderr: &errb}, []string{"demo", "--opening", "1s"}); code != 1 || !strings.Contains(errb.String(), "--opening") {
		t.Errorf("--opening 1s: exit %d %s", code, errb.String())
	}
}

// watchWriter calls fn once when want is written.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	fn   func()
	done bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		w.fn()
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
