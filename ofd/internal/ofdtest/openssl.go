package ofdtest

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/emmansun/gmsm/smx509"
)

// CrossCheckWithOpenSSL checks a signed document with openssl alone.
func CrossCheckWithOpenSSL(t *testing.T, openssl string, doc []byte, wantSigs int) {
	dir := t.TempDir()
	pkg, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ses.Verify(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != wantSigs {
		t.Fatalf("%d signatures, want %d", len(rep.Signatures), wantSigs)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) []byte {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	pubPEM := func(c *smx509.Certificate) []byte {
		der, err := smx509.MarshalPKIXPublicKey(c.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	for i, r := range rep.Signatures {
		sigXML, _ := pkg.File(r.Path)
		sig, err := ofd.ParseSignature(sigXML)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range sig.References {
			data, _ := pkg.File(ref.FileRef)
			f := write("entry", data)
			sum := run("dgst", "-sm3", "-binary", f)
			if got := base64.StdEncoding.EncodeToString(sum); got != ref.CheckValue {
				t.Errorf("signature %s: %s: openssl SM3 %s, CheckValue %s", r.ID, ref.FileRef, got, ref.CheckValue)
			}
		}
		// The document signature over DER(TBS_Sign).
		pub := write("pub"+strconv.Itoa(i)+".pem", pubPEM(r.SignerCert))
		tbs := write("tbs.der", r.TBS)
		sigFile := write("sig.der", r.SignatureDER)
		out := run("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", tbs, "-sigfile", sigFile, "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")
		if !bytes.Contains(out, []byte("Signature Verified Successfully")) {
			t.Errorf("signature %s: openssl: %s", r.ID, out)
		}
		// The seal maker's signature over DER(SES_SealInfo).
		mpub := write("mpub.pem", pubPEM(r.Seal.MakerCert))
		info := write("sealinfo.der", r.Seal.SealInfoDER())
		ssig := write("sealsig.der", r.Seal.Signature())
		out = run("pkeyutl", "-verify", "-pubin", "-inkey", mpub, "-rawin", "-in", info, "-sigfile", ssig, "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")
		if !bytes.Contains(out, []byte("Signature Verified Successfully")) {
			t.Errorf("seal of signature %s: openssl: %s", r.ID, out)
		}
		// dataHash is openssl's SM3 of Signature.xml: a changed byte of
		// TBS fails openssl too (the check is not vacuous).
		bad := append([]byte(nil), r.TBS...)
		bad[len(bad)-3] ^= 1
		tbsBad := write("tbsbad.der", bad)
		o, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", tbsBad, "-sigfile", sigFile, "-digest", "sm3", "-pkeyopt", "distid:1234567812345678").CombinedOutput()
		if err == nil || bytes.Contains(o, []byte("Verified Successfully")) {
			t.Errorf("openssl verifies a changed TBS_Sign: %s", o)
		}
	}
}
