package gm

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/smx509"
)

// go test ./gm -run TestGolden -update regenerates the derived files of
// testdata from testdata/sm2.key.pem (made by openssl genpkey) and
// testdata/vectors.json with fresh ciphertexts from openssl and from us.
var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// vectors.json: ciphertexts and signatures made once, by openssl or by
// this package, that must keep decrypting and verifying.
type vectorFile struct {
	Note string      `json:"note"`
	SM4  []sm4Vector `json:"sm4"`
	SM2  []sm2Vector `json:"sm2"`
	Sigs []sigVector `json:"signatures"`
	SM3  []sm3Vector `json:"sm3"`
	Env  []envVector `json:"envelopes"`
}

type envVector struct {
	Layout          string `json:"layout"`
	ApplyData       string `json:"applydata"`
	DigitalEnvelope string `json:"digitalenvelope"`
	JSON            string `json:"json"`
}

type sm4Vector struct {
	Source     string `json:"source"`
	Mode       string `json:"mode"` // ecb | cbc
	Key        string `json:"key"`
	IV         string `json:"iv,omitempty"`
	Plaintext  string `json:"plaintext_hex"`
	Ciphertext string `json:"ciphertext_hex"`
}

type sm2Vector struct {
	Source     string `json:"source"`
	Layout     string `json:"layout"`
	Plaintext  string `json:"plaintext_hex"`
	Ciphertext string `json:"ciphertext_base64"`
}

type sigVector struct {
	Source    string `json:"source"`
	Message   string `json:"message"`
	Signature string `json:"signature_hex"`
}

type sm3Vector struct {
	Message string `json:"message"`
	Digest  string `json:"digest"`
}

func goldenKey(t *testing.T) *Key {
	t.Helper()
	k, err := ParsePrivateKey(readTestdata(t, "sm2.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &Key{k}
}

func writeGolden(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenUpdate(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate")
	}
	k := goldenKey(t)
	pub := k.pub()
	d := make([]byte, 32)
	k.PrivateKey.D.FillBytes(d)
	writeGolden(t, "sm2.key.hex", []byte(hex.EncodeToString(d)+"\n"))
	writeGolden(t, "sm2.pub.hex", []byte(PublicKeyHex(pub)+"\n"))
	writeGolden(t, "sm2.pub.xy.hex", []byte(PublicKeyHex(pub)[2:]+"\n"))
	b64, _ := PublicKeyBase64(pub)
	writeGolden(t, "sm2.pub.b64", []byte(b64+"\n"))
	sec1, err := smx509.MarshalSM2PrivateKey(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writeGolden(t, "sm2.sec1.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))

	pubPath := filepath.Join("testdata", "sm2.pub.pem")
	privPath := filepath.Join("testdata", "sm2.key.pem")
	v := vectorFile{Note: "made by TestGoldenUpdate (-update); key testdata/sm2.key.pem"}
	for _, n := range []int{0, 5, 16, 33} {
		msg := bytes.Repeat([]byte("保函0123456789"), 4)[:n]
		key, iv := NewKey(), NewKey()
		ecb := openssl(t, msg, "enc", "-sm4-ecb", "-K", hexs(key))
		v.SM4 = append(v.SM4, sm4Vector{"openssl enc -sm4-ecb", "ecb", hexs(key), "", hexs(msg), hexs(ecb)})
		cbc := openssl(t, msg, "enc", "-sm4-cbc", "-K", hexs(key), "-iv", hexs(iv))
		v.SM4 = append(v.SM4, sm4Vector{"openssl enc -sm4-cbc", "cbc", hexs(key), hexs(iv), hexs(msg), hexs(cbc)})
	}
	for _, msg := range [][]byte{NewKey(), []byte("a"), []byte(`{"biddername":"某某建设有限公司"}`)} {
		ct := openssl(t, msg, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubPath)
		v.SM2 = append(v.SM2, sm2Vector{"openssl pkeyutl -encrypt", "asn1", hexs(msg), base64.StdEncoding.EncodeToString(ct)})
		for _, l := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
			ct, err := SM2Encrypt(pub, msg, l)
			if err != nil {
				t.Fatal(err)
			}
			v.SM2 = append(v.SM2, sm2Vector{"gm.SM2Encrypt", l.String(), hexs(msg), base64.StdEncoding.EncodeToString(ct)})
		}
	}
	for _, msg := range []string{"", "abc", "appkey=k1&timestamp=2026-01-02 03:04:05&appsecret=s1"} {
		mp := writeTemp(t, "m", []byte(msg))
		osig := openssl(t, nil, "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", privPath, "-in", mp, "-pkeyopt", "distid:"+UserID)
		v.Sigs = append(v.Sigs, sigVector{"openssl pkeyutl -sign -rawin -digest sm3", msg, hexs(osig)})
		sig, err := SM2Sign(k.PrivateKey, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		v.Sigs = append(v.Sigs, sigVector{"gm.SM2Sign", msg, hexs(sig)})
	}
	for _, msg := range []string{"abc", "", strings.Repeat("abcd", 16)} {
		out := openssl(t, []byte(msg), "dgst", "-sm3", "-r")
		v.SM3 = append(v.SM3, sm3Vector{msg, strings.Fields(string(out))[0]})
	}
	for _, l := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
		ad, env, err := SealEnvelope(pub, []byte(sampleApplyData), l)
		if err != nil {
			t.Fatal(err)
		}
		v.Env = append(v.Env, envVector{l.String(), ad, env, sampleApplyData})
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	writeGolden(t, "vectors.json", append(b, '\n'))
}

func TestGoldenKeyForms(t *testing.T) {
	want := goldenKey(t)
	wantHex := PublicKeyHex(want.pub())
	for _, name := range []string{"sm2.key.pem", "sm2.key.der", "sm2.key.hex", "sm2.sec1.pem", "sm2.sec1-openssl.pem"} {
		k, err := ParsePrivateKey(readTestdata(t, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !k.Equal(want.PrivateKey) {
			t.Errorf("%s: another key", name)
		}
	}
	for _, name := range []string{"sm2.pub.pem", "sm2.pub.hex", "sm2.pub.xy.hex", "sm2.pub.b64", "sm2.cert.pem"} {
		pub, err := ParsePublicKey(readTestdata(t, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := PublicKeyHex(pub); got != wantHex {
			t.Errorf("%s: public key %s, want %s", name, got, wantHex)
		}
	}
	if got := strings.TrimSpace(string(readTestdata(t, "sm2.pub.hex"))); got != wantHex {
		t.Errorf("sm2.pub.hex is %s, PublicKeyHex gives %s", got, wantHex)
	}
}

func TestGoldenVectors(t *testing.T) {
	var v vectorFile
	if err := json.Unmarshal(readTestdata(t, "vectors.json"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.SM4) == 0 || len(v.SM2) == 0 || len(v.Sigs) == 0 || len(v.SM3) == 0 || len(v.Env) == 0 {
		t.Fatal("vectors.json is missing a section")
	}
	k := goldenKey(t)
	unhex := func(s string) []byte { return mustHex(t, s) }
	for i, x := range v.SM4 {
		var pt []byte
		var err error
		switch x.Mode {
		case "ecb":
			pt, err = SM4ECBDecrypt(unhex(x.Key), unhex(x.Ciphertext))
			ct, _ := SM4ECBEncrypt(unhex(x.Key), unhex(x.Plaintext))
			if hexs(ct) != x.Ciphertext {
				t.Errorf("sm4 %d: our ECB ciphertext differs from %s", i, x.Source)
			}
		case "cbc":
			ct := encryptCBC(t, unhex(x.Key), unhex(x.IV), unhex(x.Plaintext), 7)
			if hexs(ct) != x.Ciphertext {
				t.Errorf("sm4 %d: our CBC ciphertext differs from %s", i, x.Source)
			}
			var r interface{ Read([]byte) (int, error) }
			r, err = NewCBCDecryptReader(bytes.NewReader(unhex(x.Ciphertext)), unhex(x.Key), unhex(x.IV))
			if err == nil {
				var buf bytes.Buffer
				_, err = buf.ReadFrom(r)
				pt = buf.Bytes()
			}
		}
		if err != nil || hexs(pt) != x.Plaintext {
			t.Errorf("sm4 %d (%s %s): %x %v", i, x.Source, x.Mode, pt, err)
		}
	}
	for i, x := range v.SM2 {
		l, err := ParseCipherLayout(x.Layout)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(x.Ciphertext)
		pt, err := SM2Decrypt(k.PrivateKey, ct, l)
		if err != nil || hexs(pt) != x.Plaintext {
			t.Errorf("sm2 %d (%s %s): %x %v", i, x.Source, x.Layout, pt, err)
		}
	}
	for i, x := range v.Sigs {
		if !SM2Verify(k.pub(), []byte(x.Message), unhex(x.Signature)) {
			t.Errorf("signature %d (%s) of %q does not verify", i, x.Source, x.Message)
		}
	}
	for _, x := range v.Env {
		l, _ := ParseCipherLayout(x.Layout)
		got, err := OpenEnvelope(k.PrivateKey, x.ApplyData, x.DigitalEnvelope, l)
		if err != nil || string(got) != x.JSON {
			t.Errorf("envelope %s: %s %v", x.Layout, got, err)
		}
	}
	for _, x := range v.SM3 {
		got, err := FileDigest(strings.NewReader(x.Message), SM3)
		if err != nil || got != x.Digest {
			t.Errorf("SM3(%q) = %s, want %s", x.Message, got, x.Digest)
		}
	}
}
