package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/conformance/faults"
	"github.com/baohan-dev/baohan/demo"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/pki"
)

const (
	confKey    = "conf-cli-appkey"
	confSecret = "conf-cli-appsecret-0123456789abcdef"
	confCode   = "CONFCLI"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// side is one of baohan's services started alone against the kit.
type side struct {
	URL, AdminToken, CAFile string
	CA                      *pki.CA
}

func startSide(t *testing.T, platform bool, kitAddr string, wrap func(http.Handler) http.Handler) *side {
	t.Helper()
	p := demo.Parties
	p.AppKey, p.AppSecret, p.PlatformCode = confKey, confSecret, confCode
	opts := append(demo.Setup(0), harness.WithParties(p), harness.WithDir(t.TempDir()), harness.WithWrap(wrap, wrap))
	which := harness.InstitutionSide
	if platform {
		which = harness.PlatformSide
	}
	s, err := harness.NewSide(context.Background(), which, "http://"+kitAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if platform {
		return &side{URL: s.PlatformURL(), AdminToken: s.Parties.PlatformAdmin, CAFile: s.PKI.CAFile, CA: s.PKI.CA}
	}
	return &side{URL: s.InstitutionURL(), AdminToken: s.Parties.InstitutionAdmin, CAFile: s.PKI.CAFile, CA: s.PKI.CA}
}

func TestConformanceInstitutionCommand(t *testing.T) {
	kit := freeAddr(t)
	inst := startSide(t, false, kit, nil)
	dir := t.TempDir()
	if _, err := inst.CA.IssueToDir(dir, "bidder", testca.Bidder); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("conformance", "institution", "--url", inst.URL, "--appkey", confKey, "--appsecret", confSecret,
		"--platformcode", confCode, "--listen", kit, "--driver", "baohan", "--bidder-dir", dir, "--bidder", "bidder",
		"--trust-roots", inst.CAFile, "--wait", "20s")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "interfaces exchanged: 14/14") || !strings.Contains(out, "0 failed") {
		t.Errorf("report:\n%s", out)
	}
	if !strings.Contains(errs, "http://"+kit) || !strings.Contains(errs, "PASS baohanapply") {
		t.Errorf("progress:\n%s", errs)
	}
}

func TestConformancePlatformCommandJSON(t *testing.T) {
	kit := freeAddr(t)
	plat := startSide(t, true, kit, nil)
	dir := t.TempDir()
	if _, err := plat.CA.IssueToDir(dir, "bidder", testca.Bidder); err != nil {
		t.Fatal(err)
	}
	// The demo platform pins its institution's seal by credit code.
	if _, err := plat.CA.IssueToDir(dir, "seal", testca.Institution, testca.WithCreditCode(demo.InstitutionCode)); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("conformance", "platform", "--url", plat.URL, "--appkey", confKey, "--appsecret", confSecret,
		"--platformcode", confCode, "--listen", kit, "--admin-url", plat.URL, "--admin-token", plat.AdminToken,
		"--bidder-dir", dir, "--bidder", "bidder", "--seal-dir", dir, "--seal", "seal", "--json", "--wait", "20s",
		"--extensions", "claimsresultnotice,claimsrepaynotice")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Side       string   `json:"side"`
		Interfaces []string `json:"interfaces"`
		Results    []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Side != "platform" || len(rep.Interfaces) != 16 || len(rep.Results) < 50 {
		t.Errorf("report: side %s, %d interfaces, %d results", rep.Side, len(rep.Interfaces), len(rep.Results))
	}
}

func TestConformanceCommandFailsOnFault(t *testing.T) {
	kit := freeAddr(t)
	inst := startSide(t, false, kit, faults.NonJSONErrors())
	dir := t.TempDir()
	if _, err := inst.CA.IssueToDir(dir, "bidder", testca.Bidder); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("conformance", "institution", "--url", inst.URL, "--appkey", confKey, "--appsecret", confSecret,
		"--platformcode", confCode, "--listen", kit, "--driver", "baohan", "--bidder-dir", dir, "--bidder", "bidder", "--wait", "20s")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"--- FAIL answers.not-json", "<html>", "2 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestConformanceCommandErrors(t *testing.T) {
	t.Setenv("BAOHAN_APPSECRET", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"conformance", "platform"}, "--appkey, --appsecret (or BAOHAN_APPSECRET), --url required"},
		{[]string{"conformance", "institution", "--url", "http://x", "--appkey", "k", "--appsecret", "s", "--sm2-layout", "c3c2c1"}, "--sm2-layout"},
		{[]string{"conformance", "institution", "--url", "http://x", "--appkey", "k", "--appsecret", "s", "--driver", "robot"}, "--driver must be manual or baohan"},
		{[]string{"conformance", "platform", "--url", "http://x", "--appkey", "k", "--appsecret", "s", "--admin-url", "http://x", "--admin-token", "t"}, "--admin-url needs --bidder-dir"},
		{[]string{"conformance", "platform", "--url", "http://x", "--appkey", "k", "--appsecret", "s", "--index-base", "2"}, "--index-base must be 0 or 1"},
	} {
		code, _, errs := runCLI(c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", c.args, code, errs, c.want)
		}
	}
	// The secret from the environment (out of the process list): the
	// command gets past the required flags to the next check.
	t.Setenv("BAOHAN_APPSECRET", "s")
	if code, _, errs := runCLI("conformance", "platform", "--url", "http://x", "--appkey", "k", "--index-base", "2"); code != 1 || !strings.Contains(errs, "--index-base must be 0 or 1") {
		t.Errorf("appsecret from BAOHAN_APPSECRET: exit %d, stderr %q", code, errs)
	}
	for _, side := range []string{"platform", "institution"} {
		code, _, errs := runCLI("conformance", side, "--help")
		if code != 0 || !strings.Contains(errs, "--url") {
			t.Errorf("%s --help: exit %d %s", side, code, errs)
		}
	}
}

var _ = filepath.Join
