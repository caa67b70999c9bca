package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/protocol"
)

const protoSecret = "9f2c7a4e1b8d3f6a0c5e7b9d2f4a6c8e"

func protoRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// The valid golden requests of the protocol package, signed with protoSecret.
func protoGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "protocol", "testdata", "valid", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func opensslSM3(t *testing.T, s string) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	cmd := exec.Command(path, "dgst", "-sm3", "-r")
	cmd.Stdin = strings.NewReader(s)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := strings.Cut(string(out), " ")
	return h
}

func TestCmdSign(t *testing.T) {
	body := `{"timestamp":"2024-03-15 09:30:00","appkey":"k","applyno":"JS1","bak1":"","sign":"x","name":"王小明"}`
	str := "appkey=k&applyno=JS1&name=王小明&timestamp=2024-03-15 09:30:00&appsecret=S"
	code, out, errs := protoRun(t, body, "sign", "--secret", "S")
	if code != 0 || out != opensslSM3(t, str)+"\n" || errs != "" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	code, out, _ = protoRun(t, body, "sign", "--string", "--secret", "S")
	if code != 0 || out != str+"\n" {
		t.Fatalf("--string: %d %q", code, out)
	}
	// FILE, flags after it.
	file := filepath.Join(t.TempDir(), "req.json")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out2, _ := protoRun(t, "", "sign", file, "--secret", "S"); code != 0 || out2 != opensslSM3(t, str)+"\n" {
		t.Fatalf("FILE: %d %q", code, out2)
	}
	// The secret from the environment.
	t.Setenv("BAOHAN_APPSECRET", "S")
	if code, out2, _ := protoRun(t, body, "sign"); code != 0 || out2 != opensslSM3(t, str)+"\n" {
		t.Fatalf("env secret: %d %q", code, out2)
	}
	t.Setenv("BAOHAN_APPSECRET", "")
	for _, tt := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{body, []string{"sign"}, "baohan sign: --secret is required (or set BAOHAN_APPSECRET)\n"},
		{`[1]`, []string{"sign", "--secret", "S"}, "baohan sign: body is a JSON array, expected one flat JSON object\n"},
		{``, []string{"sign", "--secret", "S"}, "baohan sign: empty body: expected one flat JSON object\n"},
		{body, []string{"sign", "--secret", "S", "a", "b"}, "baohan sign: expected at most one FILE, got 2 arguments\n"},
	} {
		code, out, errs := protoRun(t, tt.stdin, tt.args...)
		if code != 1 || out != "" || errs != tt.want {
			t.Errorf("%v: exit %d, out %q, err %q, want %q", tt.args, code, out, errs, tt.want)
		}
	}
}

func TestCmdVerify(t *testing.T) {
	for _, i := range protocol.All {
		code, out, errs := protoRun(t, protoGolden(t, string(i)), "verify", "--secret", protoSecret)
		if code != 0 || out != "ok\n" || errs != "" {
			t.Errorf("%s: exit %d, out %q, err %q", i, code, out, errs)
		}
	}
	good := protoGolden(t, "baohannotice")
	r, err := protocol.ParseRequest([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	sign := r.Get("sign")
	// Uppercase: accepted, with a note.
	code, out, errs := protoRun(t, strings.Replace(good, sign, strings.ToUpper(sign), 1), "verify", "--secret", protoSecret)
	if code != 0 || out != "ok\n" || errs != "note: sent in uppercase hex; accepted, signs are compared case-insensitively\n" {
		t.Errorf("uppercase: exit %d, out %q, err %q", code, out, errs)
	}
	// Wrong secret.
	code, out, _ = protoRun(t, good, "verify", "--secret", "wrong")
	want := "expected " + protocol.Sign(r.Fields, "wrong") + "\ngot      " + sign + "\n" +
		"none of the known variants matched (check the appsecret; " + protocol.SignRule + ")\n"
	if code != 1 || out != want {
		t.Errorf("wrong secret: exit %d\n got %q\nwant %q", code, out, want)
	}
	// A known variant: the diagnosis golden of the protocol package.
	b, err := os.ReadFile(filepath.Join("..", "..", "protocol", "testdata", "diagnose", "key.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = protoRun(t, string(b), "verify", "--secret", protoSecret)
	if code != 1 || !strings.Contains(out, `it matches a known variant: "&key=<appsecret>" appended instead of "&appsecret=<appsecret>"`) {
		t.Errorf("&key= variant: exit %d, out %q", code, out)
	}
	// No sign.
	code, out, _ = protoRun(t, `{"appkey":"k"}`, "verify", "--secret", "S")
	if code != 1 || !strings.HasSuffix(out, "got      (none)\nfield \"sign\" is missing or empty\n") {
		t.Errorf("no sign: exit %d, out %q", code, out)
	}
	code, _, errs = protoRun(t, `{"a":{}}`, "verify", "--secret", "S")
	if code != 1 || errs != "baohan verify: field \"a\" is a nested JSON object; values must be strings (a list is sent as a JSON string)\n" {
		t.Errorf("nested: exit %d, err %q", code, errs)
	}
}

func TestCmdValidate(t *testing.T) {
	for _, i := range protocol.All {
		code, out, errs := protoRun(t, protoGolden(t, string(i)), "validate", "--interface", string(i))
		if code != 0 || out != "ok\n" || errs != "" {
			t.Errorf("%s: exit %d, out %q, err %q", i, code, out, errs)
		}
	}
	bad := strings.Replace(strings.Replace(protoGolden(t, "baohannotice"), `"0.005"`, `"5‰"`, 1), `"applystatus": "1"`, `"applystatus": 2`, 1)
	code, out, _ := protoRun(t, bad, "validate", "--interface", "baohannotice")
	want := "field \"rate\" must be a decimal string like \"0.005\", got \"5‰\"\n" +
		"field \"applystatus\" must be \"1\" (审核通过) or \"0\" (审核未通过), got \"2\"\n"
	if code != 1 || out != want {
		t.Errorf("violations: exit %d\n got %q\nwant %q", code, out, want)
	}
	// A request valid for one interface, checked against another.
	code, out, _ = protoRun(t, protoGolden(t, "giveupnotice"), "validate", "--interface", "giveupapply")
	if code != 1 || out != "field \"platformcode\" is required\n" {
		t.Errorf("other interface: exit %d, out %q", code, out)
	}
	// applydata.
	ad := `{"biddername":"南京金陵路桥建设工程有限公司","biddercode":"91320104MA1N2X3Y4K","biaoduanno":"a","biaoduanname":"b","bzjamount":"20000.00","zbr":"c"}`
	if code, out, _ := protoRun(t, ad, "validate", "--interface", "applydata"); code != 0 || out != "ok\n" {
		t.Errorf("applydata: exit %d, out %q", code, out)
	}
	if code, out, _ := protoRun(t, strings.Replace(ad, "20000.00", "2万", 1), "validate", "--interface", "applydata"); code != 1 ||
		out != "field \"bzjamount\" must be a decimal string like \"20000.00\", got \"2万\"\n" {
		t.Errorf("bad applydata: exit %d, out %q", code, out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"validate"}, "baohan validate: --interface is required\n"},
		{[]string{"validate", "--interface", "cancelnotice"}, "baohan validate: unknown interface \"cancelnotice\" (did you mean \"canclenotice\"?); one of " + interfaceNames() + ", or applydata\n"},
	} {
		code, _, errs := protoRun(t, "{}", tt.args...)
		if code != 1 || errs != tt.want {
			t.Errorf("%v: exit %d, err %q", tt.args, code, errs)
		}
	}
}

func TestCmdProtocolHelp(t *testing.T) {
	for _, name := range []string{"sign", "verify", "validate"} {
		code, out, errs := protoRun(t, "", name, "--help")
		if code != 0 || out != "" || !strings.HasPrefix(errs, "usage: baohan "+name+" ") || !strings.Contains(errs, "flags:") {
			t.Errorf("%s --help: exit %d, out %q, err %q", name, code, out, errs)
		}
	}
}
