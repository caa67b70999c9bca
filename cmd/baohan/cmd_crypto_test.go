package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
)

// cryptoRun runs baohan with args and stdin and returns the exit code,
// stdout and stderr.
func cryptoRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func cryptoOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := cryptoRun(t, stdin, args...)
	if code != 0 {
		t.Fatalf("baohan %v: exit %d: %s", args, code, errs)
	}
	return out
}

// cryptoFail runs a command that must fail with one line on stderr
// containing want.
func cryptoFail(t *testing.T, want string, args ...string) {
	t.Helper()
	code, _, errs := cryptoRun(t, "", args...)
	if code == 0 {
		t.Fatalf("baohan %v succeeded, want failure %q", args, want)
	}
	if strings.Count(strings.TrimRight(errs, "\n"), "\n") != 0 {
		t.Errorf("baohan %v: stderr has several lines: %q", args, errs)
	}
	if !strings.Contains(errs, want) {
		t.Errorf("baohan %v: stderr %q does not contain %q", args, errs, want)
	}
}

func cryptoCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	out := cryptoOK(t, "", "ca", "init", "--dir", dir)
	if !strings.Contains(out, "ca.cert.pem") {
		t.Fatalf("ca init output %q", out)
	}
	cryptoOK(t, "", "ca", "issue", "--dir", dir, "--name", "bidder1", "--role", "bidder", "--credit-code", "91350100M000100Y43")
	cryptoOK(t, "", "ca", "issue", "--dir", dir, "--name", "platform", "--role", "platform")
	cryptoOK(t, "", "ca", "issue", "--dir", dir, "--name", "bank", "--role", "institution")
	return dir
}

func TestCryptoCACommands(t *testing.T) {
	dir := cryptoCA(t)
	id, err := testca.LoadIdentity(dir, "bidder1")
	if err != nil {
		t.Fatal(err)
	}
	if id.CreditCode != "91350100M000100Y43" || id.Role != testca.Bidder {
		t.Fatalf("identity %+v", id)
	}
	ca, err := testca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"bidder1", "platform", "bank"} {
		id, err := testca.LoadIdentity(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.Verify(id.Cert); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		key, _ := os.ReadFile(filepath.Join(dir, n+".key.pem"))
		if !strings.HasPrefix(string(key), "-----BEGIN PRIVATE KEY-----") {
			t.Fatalf("%s key is not PKCS#8", n)
		}
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(openssl, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile",
			filepath.Join(dir, "ca.cert.pem"), filepath.Join(dir, "bank.cert.pem")).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl verify: %v %s", err, out)
		}
	}
	cryptoFail(t, "already initialised", "ca", "init", "--dir", dir)
	cryptoFail(t, "--dir is required", "ca", "init")
	cryptoFail(t, "unknown role", "ca", "issue", "--dir", dir, "--name", "x", "--role", "auditor")
	cryptoFail(t, "--name is required", "ca", "issue", "--dir", dir, "--role", "bidder")
	cryptoFail(t, "exists", "ca", "issue", "--dir", dir, "--name", "bidder1", "--role", "bidder")
	cryptoFail(t, "ca init", "ca", "issue", "--dir", t.TempDir(), "--name", "x", "--role", "bidder")
	cryptoFail(t, "unexpected argument", "ca", "init", "--dir", dir, "extra")
	cryptoFail(t, "check character", "ca", "issue", "--dir", dir, "--name", "x", "--role", "bidder", "--credit-code", "91350100M000100Y44")
	cryptoFail(t, "--credit-code-in", "ca", "issue", "--dir", dir, "--name", "x", "--role", "bidder", "--credit-code-in", "o")
	// A bidder certificate as CFCA writes them: the code in the CN.
	cryptoOK(t, "", "ca", "issue", "--dir", dir, "--name", "cfca", "--role", "bidder", "--credit-code", "91350100M000100Y43", "--credit-code-in", "cn")
	cfca, err := testca.LoadIdentity(dir, "cfca")
	if err != nil || cfca.CreditCode != "91350100M000100Y43" || cfca.Cert.Subject.CommonName != "041@N91350100M000100Y43@cfca@00000001" || cfca.Cert.Subject.SerialNumber != "" {
		t.Errorf("--credit-code-in cn: %+v, %v", cfca, err)
	}
}

func TestCryptoHelp(t *testing.T) {
	for _, c := range []string{"ca init", "ca issue", "envelope seal", "envelope open", "file encrypt", "file decrypt"} {
		code, _, errs := cryptoRun(t, "", append(strings.Fields(c), "--help")...)
		if code != 0 || !strings.Contains(errs, "usage: baohan "+c) {
			t.Errorf("%s --help: exit %d, %q", c, code, errs)
		}
	}
}

func TestCryptoEnvelope(t *testing.T) {
	dir := cryptoCA(t)
	cert := filepath.Join(dir, "bidder1.cert.pem")
	key := filepath.Join(dir, "bidder1.key.pem")
	applyData := `{"biddername":"某某建设有限公司","biddercode":"91350100M000100Y43","bzjamount":"20000.00"}`
	for _, layout := range []string{"c1c3c2", "c1c2c3", "asn1"} {
		// From stdin and from a file.
		out := cryptoOK(t, applyData, "envelope", "seal", "--cert", cert, "--layout", layout)
		file := filepath.Join(t.TempDir(), "ad.json")
		os.WriteFile(file, []byte(applyData+"\n"), 0o600)
		out2 := cryptoOK(t, "", "envelope", "seal", file, "--cert", cert, "--layout", layout)
		for _, o := range []string{out, out2} {
			var sealed struct{ ApplyData, DigitalEnvelope string }
			if err := json.Unmarshal([]byte(o), &sealed); err != nil {
				t.Fatalf("seal output %q: %v", o, err)
			}
			if layout != "asn1" && len(sealed.DigitalEnvelope) != 152 {
				t.Errorf("%s: digitalenvelope %d characters", layout, len(sealed.DigitalEnvelope))
			}
			got := cryptoOK(t, "", "envelope", "open", "--key", key, "--applydata", sealed.ApplyData,
				"--digitalenvelope", sealed.DigitalEnvelope, "--layout", layout)
			if strings.TrimSpace(got) != applyData {
				t.Fatalf("%s: opened %q", layout, got)
			}
		}
	}
	// The public key can be given as a hex value instead of a file.
	id, _ := testca.LoadIdentity(dir, "bidder1")
	out := cryptoOK(t, applyData, "envelope", "seal", "--cert", gm.PublicKeyHex(&id.Key.PublicKey))
	var sealed struct{ ApplyData, DigitalEnvelope string }
	json.Unmarshal([]byte(out), &sealed)
	if pt, err := gm.OpenEnvelope(id.Key, sealed.ApplyData, sealed.DigitalEnvelope, gm.C1C3C2); err != nil || string(pt) != applyData {
		t.Fatalf("hex public key: %v", err)
	}

	cryptoFail(t, "not valid JSON", "envelope", "seal", "--cert", cert, writeFile(t, "x", "not json"))
	cryptoFail(t, "no apply-data JSON", "envelope", "seal", "--cert", cert, writeFile(t, "x", "  "))
	cryptoFail(t, "--cert is required", "envelope", "seal", writeFile(t, "x", "{}"))
	cryptoFail(t, "no such file", "envelope", "seal", "--cert", "missing.pem", writeFile(t, "x", "{}"))
	cryptoFail(t, "--cert: gm: SM2 public key not recognised", "envelope", "seal", "--cert", "zzzz", writeFile(t, "x", "{}"))
	cryptoFail(t, "unknown SM2 ciphertext layout", "envelope", "seal", "--cert", cert, "--layout", "c3c2c1", writeFile(t, "x", "{}"))
	other := filepath.Join(dir, "platform.key.pem")
	cryptoFail(t, "wrong private key", "envelope", "open", "--key", other, "--applydata", sealed.ApplyData, "--digitalenvelope", sealed.DigitalEnvelope)
	cryptoFail(t, "it decrypts as c1c3c2", "envelope", "open", "--key", key, "--applydata", sealed.ApplyData, "--digitalenvelope", sealed.DigitalEnvelope, "--layout", "c1c2c3")
	cryptoFail(t, "applydata: ", "envelope", "open", "--key", key, "--applydata", "%%%", "--digitalenvelope", sealed.DigitalEnvelope)
	cryptoFail(t, "digitalenvelope: gm: SM2 ciphertext: not base64", "envelope", "open", "--key", key, "--applydata", sealed.ApplyData, "--digitalenvelope", "!!")
	cryptoFail(t, "--digitalenvelope is required", "envelope", "open", "--key", key, "--applydata", sealed.ApplyData)
	cryptoFail(t, "--key is required", "envelope", "open", "--applydata", "x", "--digitalenvelope", "y")
	cryptoFail(t, "SM2 private key not recognised", "envelope", "open", "--key", cert, "--applydata", "x", "--digitalenvelope", "y")
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCryptoFile(t *testing.T) {
	dir := cryptoCA(t)
	id, _ := testca.LoadIdentity(dir, "platform")
	key := filepath.Join(dir, "platform.key.pem")
	plain := make([]byte, 1<<20+123)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range plain {
		plain[i] = byte(r.Uint32())
	}
	work := t.TempDir()
	in := filepath.Join(work, "guarantee.ofd")
	os.WriteFile(in, plain, 0o600)
	spki, _ := gm.PublicKeyBase64(&id.Key.PublicKey)
	pubForms := map[string]string{
		"hex":    gm.PublicKeyHex(&id.Key.PublicKey),
		"base64": spki,
		"cert":   filepath.Join(dir, "platform.cert.pem"),
	}
	for name, pub := range pubForms {
		for _, digest := range []string{"sm3", "md5"} {
			for _, layout := range []string{"c1c3c2", "asn1"} {
				enc := filepath.Join(work, name+digest+layout+".enc")
				out := cryptoOK(t, "", "file", "encrypt", "--pubkey", pub, "--in", in, "--out", enc, "--digest", digest, "--layout", layout)
				var f struct {
					Key, IV       string
					BaohanFileMD5 string `json:"baohanfilemd5"`
				}
				if err := json.Unmarshal([]byte(out), &f); err != nil {
					t.Fatalf("encrypt output %q: %v", out, err)
				}
				if !strings.HasPrefix(out, "{\n  \"key\"") {
					t.Errorf("fields not in the order key, iv, baohanfilemd5: %s", out)
				}
				wantDigest, _ := gm.FileDigest(bytes.NewReader(plain), map[string]gm.DigestAlg{"sm3": gm.SM3, "md5": gm.MD5}[digest])
				if f.BaohanFileMD5 != wantDigest {
					t.Fatalf("digest %s, want %s", f.BaohanFileMD5, wantDigest)
				}
				ct, _ := os.ReadFile(enc)
				if len(ct) != (len(plain)/16+1)*16 {
					t.Fatalf("ciphertext %d bytes", len(ct))
				}
				dec := filepath.Join(work, "dec-"+name+digest+layout)
				cryptoOK(t, "", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--ivfield", f.IV,
					"--in", enc, "--out", dec, "--layout", layout, "--baohanfilemd5", f.BaohanFileMD5)
				got, _ := os.ReadFile(dec)
				if !bytes.Equal(got, plain) {
					t.Fatalf("%s %s %s: decrypted file differs", name, digest, layout)
				}
			}
		}
	}

	// Failures: one line each, and no output file left behind.
	enc := filepath.Join(work, "f.enc")
	out := cryptoOK(t, "", "file", "encrypt", "--pubkey", pubForms["hex"], "--in", in, "--out", enc)
	var f struct{ Key, IV, BaohanFileMD5 string }
	json.Unmarshal([]byte(out), &f)
	dec := filepath.Join(work, "never")
	truncated := writeFile(t, "trunc.enc", string(mustRead(t, enc)[:1000]))
	// Flipping the top bit of the second-to-last ciphertext block's last
	// byte makes the padding byte > 16: always a padding error.
	corrupt := mustRead(t, enc)
	corrupt[len(corrupt)-17] ^= 0x80
	cut := writeFile(t, "cut.enc", string(corrupt))
	cryptoFail(t, "not a multiple of 16", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--ivfield", f.IV, "--in", truncated, "--out", dec)
	cryptoFail(t, "bad PKCS#7 padding", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--ivfield", f.IV, "--in", cut, "--out", dec)
	cryptoFail(t, "empty ciphertext", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--ivfield", f.IV, "--in", writeFile(t, "empty", ""), "--out", dec)
	cryptoFail(t, "baohanfilemd5 mismatch", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--ivfield", f.Key, "--in", enc, "--out", dec, "--baohanfilemd5", f.BaohanFileMD5)
	cryptoFail(t, "--baohanfilemd5: gm: digest has 5 characters", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--ivfield", f.IV, "--in", enc, "--out", dec, "--baohanfilemd5", "abcde")
	cryptoFail(t, "key field: ", "file", "decrypt", "--key", filepath.Join(dir, "bidder1.key.pem"), "--keyfield", f.Key, "--ivfield", f.IV, "--in", enc, "--out", dec)
	cryptoFail(t, "iv field: gm: SM2 ciphertext: not base64", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--ivfield", "@@@", "--in", enc, "--out", dec)
	cryptoFail(t, "--ivfield is required", "file", "decrypt", "--key", key, "--keyfield", f.Key, "--in", enc, "--out", dec)
	if _, err := os.Stat(dec); !os.IsNotExist(err) {
		t.Fatal("a failed decrypt left its output file")
	}
	leftovers, _ := filepath.Glob(filepath.Join(work, ".*.tmp"))
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	cryptoFail(t, "is empty", "file", "encrypt", "--pubkey", pubForms["hex"], "--in", writeFile(t, "empty", ""), "--out", filepath.Join(work, "e.enc"))
	cryptoFail(t, "same file", "file", "encrypt", "--pubkey", pubForms["hex"], "--in", in, "--out", in)
	cryptoFail(t, "unknown digest algorithm", "file", "encrypt", "--pubkey", pubForms["hex"], "--in", in, "--out", enc, "--digest", "sha1")
	cryptoFail(t, "--pubkey: gm: SM2 public key not recognised (6 hex characters)", "file", "encrypt", "--pubkey", "04abcd", "--in", in, "--out", enc)
	cryptoFail(t, "--pubkey is required", "file", "encrypt", "--in", in, "--out", enc)
	cryptoFail(t, "--in: open", "file", "encrypt", "--pubkey", pubForms["hex"], "--in", filepath.Join(work, "nope"), "--out", enc)

	// A file encrypted by openssl with a key and iv wrapped by openssl
	// decrypts with the command.
	if openssl, err := exec.LookPath("openssl"); err == nil {
		k, iv := gm.NewKey(), gm.NewKey()
		osslEnc := filepath.Join(work, "openssl.enc")
		if out, err := exec.Command(openssl, "enc", "-sm4-cbc", "-K", hexOf(k), "-iv", hexOf(iv), "-in", in, "-out", osslEnc).CombinedOutput(); err != nil {
			t.Fatalf("openssl enc: %v %s", err, out)
		}
		pubPEM, _ := gm.MarshalPublicKeyPEM(&id.Key.PublicKey)
		pubFile := writeFile(t, "pub.pem", string(pubPEM))
		wrap := func(b []byte) string {
			cmd := exec.Command(openssl, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile)
			cmd.Stdin = bytes.NewReader(b)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			return base64.StdEncoding.EncodeToString(out)
		}
		dec := filepath.Join(work, "openssl.dec")
		cryptoOK(t, "", "file", "decrypt", "--key", key, "--keyfield", wrap(k), "--ivfield", wrap(iv), "--in", osslEnc, "--out", dec, "--layout", "asn1")
		if !bytes.Equal(mustRead(t, dec), plain) {
			t.Fatal("openssl-encrypted file decrypts to other bytes")
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
