package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/ofd"
)

// ofdFixture reads a file made by the ofdrw Java library, from
// $BAOHAN_OFD_FIXTURES or ../shared/fixtures/ofdrw beside the repository.
func ofdFixture(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("BAOHAN_OFD_FIXTURES")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "fixtures", "ofdrw")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("BAOHAN_REQUIRE_FIXTURES") == "1" {
			t.Fatalf("fixture %s missing", p)
		}
		t.Skipf("fixture %s missing (set BAOHAN_OFD_FIXTURES)", p)
	}
	return p
}

func runOFD(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestOFDVerifyOfdrwFixture(t *testing.T) {
	file := ofdFixture(t, "SESV4SignDoc.ofd")
	code, out, errs := runOFD(t, "ofd", "verify", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{`signature 1 (Seal) by "Test Certificate" at 2026-08-04 10:08:09 +0800: ok`, "chain not checked (untrusted root: no --roots)", "verified: 1 signature(s) hold"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// JSON.
	code, out, _ = runOFD(t, "ofd", "verify", file, "--json")
	var v struct {
		OK         bool
		Signatures []struct {
			Signer string
			Time   string
			Checks []struct{ Check, Status string }
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || !v.OK || len(v.Signatures) != 1 || v.Signatures[0].Time != "2026-08-04 10:08:09 +0800" {
		t.Fatalf("json: exit %d, %v, %s", code, err, out)
	}

	// With roots that did not issue it: the chain fails, exit 1.
	dir := t.TempDir()
	if code, out, errs := runOFD(t, "ca", "init", "--dir", dir); code != 0 {
		t.Fatalf("ca init: %s%s", out, errs)
	}
	code, out, _ = runOFD(t, "ofd", "verify", file, "--roots", filepath.Join(dir, "ca.cert.pem"))
	if code != 1 || !strings.Contains(out, "FAIL chain") || !strings.Contains(out, "untrusted root") {
		t.Errorf("with other roots: exit %d\n%s", code, out)
	}
}

func TestOFDVerifyNamesTheChangedEntry(t *testing.T) {
	raw, err := os.ReadFile(ofdFixture(t, "SESV4SignDoc.ofd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range []string{"Doc_0/Pages/Page_0/Content.xml", "Doc_0/Document.xml", "Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Signs/Sign_0/SignedValue.dat"} {
		pkg, err := ofd.Open(raw)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := pkg.File(entry)
		b := append([]byte(nil), data...)
		b[len(b)/2] ^= 0x01
		_ = pkg.Replace(entry, b, time.Time{})
		doc, _ := pkg.Bytes()
		file := filepath.Join(t.TempDir(), "tampered.ofd")
		os.WriteFile(file, doc, 0o644)
		code, out, errs := runOFD(t, "ofd", "verify", file)
		if code != 1 || !strings.Contains(out+errs, entry) || !strings.Contains(out, "FAIL") {
			t.Errorf("%s changed: exit %d\n%s%s", entry, code, out, errs)
		}
	}
}

func TestOFDVerifyUnsigned(t *testing.T) {
	code, out, _ := runOFD(t, "ofd", "verify", ofdFixture(t, "helloworld.ofd"))
	if code != 1 || !strings.Contains(out, "no signatures: the document is not signed") {
		t.Errorf("exit %d\n%s", code, out)
	}
	code, out, errs := runOFD(t, "ofd", "verify", filepath.Join(t.TempDir(), "missing.ofd"))
	if code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d %s%s", code, out, errs)
	}
}

func TestOFDInfo(t *testing.T) {
	code, out, errs := runOFD(t, "ofd", "info", ofdFixture(t, "AddAttachment.ofd"))
	if code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	for _, want := range []string{"pages: 1", "这是一个带有附件的OFD文件", "attachments: 1", "Gao (, 36494 bytes) /Doc_0/Res/eg_tulip.jpg", "signatures: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runOFD(t, "ofd", "info", ofdFixture(t, "SESV4SignDoc.ofd"), "--json")
	var v struct {
		Pages      []struct{ Text string }
		Signatures []struct{ Signer string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || len(v.Pages) != 1 || v.Pages[0].Text != "你好呀，OFD Reader&Writer！" || v.Signatures[0].Signer != "Test Certificate" {
		t.Errorf("info json: %v %s", err, out)
	}
}

func TestOFDSampleVerifiesAgainstItsCA(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := runOFD(t, "ca", "init", "--dir", dir); code != 0 {
		t.Fatalf("ca init: %s%s", out, errs)
	}
	roots := filepath.Join(dir, "ca.cert.pem")
	for _, plain := range []bool{false, true} {
		file := filepath.Join(dir, "sample.ofd")
		args := []string{"ofd", "sample", "--dir", dir, "--out", file}
		if plain {
			args = append(args, "--plaintext")
		}
		code, out, errs := runOFD(t, args...)
		if code != 0 {
			t.Fatalf("sample: exit %d %s%s", code, out, errs)
		}
		code, out, errs = runOFD(t, "ofd", "verify", file, "--roots", roots)
		if code != 0 || !strings.Contains(out, "certificates chain to the given roots") {
			t.Fatalf("verify sample (plaintext=%v): exit %d\n%s%s", plain, code, out, errs)
		}
		wantStamps := "on page 1"
		if plain {
			wantStamps = "on page 1, page 2"
		}
		if !strings.Contains(out, wantStamps) {
			t.Errorf("stamps: %s", out)
		}
		// The agreement inside is signed by the bidder.
		raw, _ := os.ReadFile(file)
		pkg, _ := ofd.Open(raw)
		d, err := ofd.Read(pkg)
		if err != nil {
			t.Fatal(err)
		}
		agr, ok := d.Attachment("保函委托协议.ofd")
		if !ok {
			t.Fatal("no agreement attached")
		}
		af := filepath.Join(dir, "agreement.ofd")
		os.WriteFile(af, agr.Data, 0o644)
		code, out, _ = runOFD(t, "ofd", "verify", af, "--roots", roots)
		if code != 0 || !strings.Contains(out, `by "示例建设工程有限公司"`) {
			t.Errorf("agreement: exit %d %s", code, out)
		}
	}
	// The identities were issued once and reused.
	for _, f := range []string{"示例融资担保有限公司.cert.pem", "示例建设工程有限公司.key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	code, _, errs := runOFD(t, "ofd", "sample", "--dir", t.TempDir(), "--out", filepath.Join(dir, "x.ofd"))
	if code != 1 || !strings.Contains(errs, "ca init") {
		t.Errorf("sample without a CA: exit %d %s", code, errs)
	}
}

func TestOFDRender(t *testing.T) {
	src := ofdFixture(t, "SESV4SignDoc.ofd")
	dir := t.TempDir()
	svg := filepath.Join(dir, "p.svg")
	if code, out, errs := runOFD(t, "ofd", "render", src, "--out", svg); code != 0 {
		t.Fatalf("svg: %s%s", out, errs)
	}
	b, _ := os.ReadFile(svg)
	if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("你好呀，OFD Reader&amp;Writer！")) || !bytes.Contains(b, []byte(`x="50" y="50" width="40" height="40"`)) {
		t.Errorf("svg lacks the text or the stamp:\n%s", b[:min(len(b), 1500)])
	}
	pngFile := filepath.Join(dir, "p.png")
	code, out, errs := runOFD(t, "ofd", "render", src, "--out", pngFile, "--dpi", "50")
	if code != 0 {
		if strings.Contains(errs, "no CJK font") {
			t.Skipf("no CJK font here: %s", errs)
		}
		t.Fatalf("png: %s%s", out, errs)
	}
	f, _ := os.Open(pngFile)
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 414 {
		t.Errorf("png: %v %v", err, img.Bounds())
	}
	if code, _, errs := runOFD(t, "ofd", "render", src, "--out", filepath.Join(dir, "p.gif")); code != 1 || !strings.Contains(errs, ".png or .svg") {
		t.Errorf("bad extension: %s", errs)
	}
	if code, _, errs := runOFD(t, "ofd", "render", src, "--out", svg, "--page", "2"); code != 1 || !strings.Contains(errs, "page 2 does not exist") {
		t.Errorf("bad page: %s", errs)
	}
}

func TestOFDHelp(t *testing.T) {
	for _, c := range []string{"verify", "info", "sample", "render"} {
		code, _, errs := runOFD(t, "ofd", c, "--help")
		if code != 0 || !strings.Contains(errs, "usage: baohan ofd "+c) {
			t.Errorf("ofd %s --help: exit %d %s", c, code, errs)
		}
	}
}
