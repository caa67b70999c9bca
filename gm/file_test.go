package gm

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

func TestFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 15, 16, 17, cbcBuf - 1, cbcBuf + 1, 3*cbcBuf + 5} {
		plain := bytes.Repeat([]byte{byte(size), 0x5a, 0xc3}, size)[:size]
		sm3Sum, md5Sum := sm3.Sum(plain), md5.Sum(plain)
		for _, tt := range []struct {
			layout CipherLayout
			alg    DigestAlg
			digest string
		}{
			{C1C3C2, SM3, hex.EncodeToString(sm3Sum[:])},
			{C1C2C3, MD5, hex.EncodeToString(md5Sum[:])},
			{ASN1, SM3, hex.EncodeToString(sm3Sum[:])},
		} {
			var ct bytes.Buffer
			f, err := EncryptFile(ctx, &ct, bytes.NewReader(plain), &priv.PublicKey, tt.layout, tt.alg)
			if err != nil {
				t.Fatal(err)
			}
			if f.BaohanFileMD5 != tt.digest {
				t.Fatalf("size %d %v: digest %s, want %s", size, tt.alg, f.BaohanFileMD5, tt.digest)
			}
			if ct.Len() != (size/16+1)*16 {
				t.Fatalf("size %d: ciphertext %d bytes", size, ct.Len())
			}
			// The ciphertext is plain SM4-CBC with PKCS#7 padding under the
			// unwrapped key and iv.
			k, err := UnwrapFileKey(priv, f, tt.layout)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := sm4.NewCipher(k.Key)
			raw := bytes.Clone(ct.Bytes())
			cipher.NewCBCDecrypter(b, k.IV).CryptBlocks(raw, raw)
			if pad := int(raw[len(raw)-1]); pad < 1 || pad > 16 || !bytes.Equal(raw[:len(raw)-pad], plain) {
				t.Fatalf("size %d: not SM4-CBC/PKCS#7 of the plaintext (padding byte %d)", size, pad)
			}
			f.BaohanFileMD5 = strings.ToUpper(f.BaohanFileMD5) // hex case is not significant
			var back bytes.Buffer
			if err := DecryptFile(ctx, &back, bytes.NewReader(ct.Bytes()), priv, f, tt.layout); err != nil {
				t.Fatalf("size %d %v %v: %v", size, tt.layout, tt.alg, err)
			}
			if !bytes.Equal(back.Bytes(), plain) {
				t.Fatalf("size %d: decrypted bytes differ", size)
			}
		}
	}
}

func TestFileErrors(t *testing.T) {
	ctx := context.Background()
	priv, _ := GenerateKey()
	other, _ := GenerateKey()
	plain := []byte(strings.Repeat("guarantee ", 500))
	var ct bytes.Buffer
	f, err := EncryptFile(ctx, &ct, bytes.NewReader(plain), &priv.PublicKey, C1C3C2, SM3)
	if err != nil {
		t.Fatal(err)
	}
	swapped := f
	swapped.IV = f.Key // a wrong iv garbles the first block only: the digest tells
	noDigest := f
	noDigest.BaohanFileMD5 = ""
	badDigest := f
	badDigest.BaohanFileMD5 = "abcde"
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		f    FileFields
		key  *sm2.PrivateKey
		ct   []byte
		want string // "" for success
	}{
		{"ok", ctx, f, priv, ct.Bytes(), ""},
		{"no digest, no check", ctx, noDigest, priv, ct.Bytes(), ""},
		{"wrong key", ctx, f, other, ct.Bytes(), "key field: "},
		{"iv not base64", ctx, FileFields{Key: f.Key, IV: "@@@", BaohanFileMD5: f.BaohanFileMD5}, priv, ct.Bytes(), "iv field: gm: SM2 ciphertext: not base64"},
		{"wrong iv", ctx, swapped, priv, ct.Bytes(), "baohanfilemd5 mismatch: the plaintext's sm3 is "},
		{"digest not a digest", ctx, badDigest, priv, ct.Bytes(), "baohanfilemd5: gm: digest has 5 characters"},
		{"truncated", ctx, f, priv, ct.Bytes()[:1000], "not a multiple of 16"},
		{"empty", ctx, f, priv, nil, "empty ciphertext"},
		{"canceled", canceled, f, priv, ct.Bytes(), context.Canceled.Error()},
	} {
		var out bytes.Buffer
		err := DecryptFile(tt.ctx, &out, bytes.NewReader(tt.ct), tt.key, tt.f, C1C3C2)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want == "" && !bytes.Equal(out.Bytes(), plain):
			t.Errorf("%s: decrypted bytes differ", tt.name)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := EncryptFile(canceled, io.Discard, bytes.NewReader(plain), &priv.PublicKey, C1C3C2, SM3); !errors.Is(err, context.Canceled) {
		t.Errorf("encrypting under a canceled context: %v", err)
	}
	if _, err := EncryptFile(ctx, failingWriter{}, bytes.NewReader(plain), &priv.PublicKey, C1C3C2, SM3); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("a failing destination: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLoadPublicKey(t *testing.T) {
	priv, _ := GenerateKey()
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "pub.pem")
	pemBytes, _ := MarshalPublicKeyPEM(&priv.PublicKey)
	os.WriteFile(pemFile, pemBytes, 0o600)
	for _, tt := range []struct {
		name, v string
		want    string // "" for the key
	}{
		{"file", pemFile, ""},
		{"hex value", PublicKeyHex(&priv.PublicKey), ""},
		{"missing file that looks like one", filepath.Join(dir, "gone.pem"), "no such file"},
		{"missing relative file", "./gone", "no such file"},
		{"a directory", dir, "is a directory"},
		{"junk value", "zzzz", `SM2 public key not recognised`},
		{"junk value hint", "zzzz", `(read as a value: no file named "zzzz" exists)`},
		{"empty", "", "no file name or value"},
	} {
		pub, err := LoadPublicKey(tt.v)
		switch {
		case tt.want == "" && (err != nil || !pub.Equal(&priv.PublicKey)):
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	// A file that holds junk: no value hint, the file exists.
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("zzzz"), 0o600)
	if _, err := LoadPublicKey(junk); err == nil || strings.Contains(err.Error(), "read as a value") {
		t.Errorf("junk file: %v", err)
	}
}
