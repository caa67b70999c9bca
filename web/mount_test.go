package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm/testca"
)

// TestMountPlatform: the platform's handler with its console in front,
// as baohan platform serve mounts it: the first admin account is made
// and its password printed once, the console and the service's routes
// answer, and the printed password logs in.
func TestMountPlatform(t *testing.T) {
	t.Setenv(EnvAdminUser, "")
	t.Setenv(EnvAdminPassword, "")
	ca, err := testca.New("console test CA")
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := loginPlatformOn(t, "", "", ca)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	var out bytes.Buffer
	h, err := MountPlatform(ctx, svc, logger, &out)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`admin account "admin" with password (\S+) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no admin account printed: %q", out.String())
	}
	// Printed once: a second start finds the account.
	out.Reset()
	if _, err := MountPlatform(ctx, svc, logger, &out); err != nil || out.Len() != 0 {
		t.Fatalf("second start printed %q (%v)", out.String(), err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]int{"/console/login": 200, "/console/": 303, "/healthz": 200, "/api/applications": 401} {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	form := url.Values{"username": {"admin"}, "password": {m[1]}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(srv.URL+"/console/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 {
		t.Errorf("admin login with the printed password: %d", resp.StatusCode)
	}
}

// TestOptionsFromEnv: secure cookies behind an https public URL, the
// lockout from the environment, refused when it is no count from 1 to
// 100.
func TestOptionsFromEnv(t *testing.T) {
	for _, tt := range []struct {
		lockout, publicURL, agent string
		auth                      int // login settings
		err                       string
	}{
		{"", "http://127.0.0.1:8080", "", 0, ""},
		{"3", "https://console.example.cn", "http://127.0.0.1:9999", 2, ""},
		{"0", "", "", 0, `BAOHAN_CONSOLE_LOCKOUT="0": want a number of failed logins from 1 to 100`},
		{"many", "", "", 0, "want a number"},
	} {
		t.Setenv(EnvLockout, tt.lockout)
		t.Setenv(EnvAgentURL, tt.agent)
		o, ao, err := OptionsFromEnv(slog.New(slog.DiscardHandler), config.Listen{PublicURL: tt.publicURL})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("lockout %q: %v, want %q", tt.lockout, err, tt.err)
			}
			continue
		}
		if err != nil || len(ao) != tt.auth || o.AgentURL != tt.agent || o.Logger == nil {
			t.Errorf("lockout %q, %s: %v, %d login settings, agent %q", tt.lockout, tt.publicURL, err, len(ao), o.AgentURL)
		}
	}
}
