package gm

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSM2LayoutsRoundTrip(t *testing.T) {
	k := mustKey(t)
	msg := NewKey()
	for _, l := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
		ct, err := SM2Encrypt(&k.PublicKey, msg, l)
		if err != nil {
			t.Fatal(err)
		}
		switch l {
		case C1C3C2, C1C2C3:
			if len(ct) != 113 || ct[0] != 0x04 {
				t.Fatalf("%s: %d bytes starting %02x, want 113 starting 04", l, len(ct), ct[0])
			}
		case ASN1:
			if ct[0] != 0x30 {
				t.Fatalf("asn1 starts %02x", ct[0])
			}
		}
		pt, err := SM2Decrypt(k, ct, l)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("%s: %x %v", l, pt, err)
		}
	}
}

func TestSM2C1C3C2IsGBOrder(t *testing.T) {
	// The same ciphertext re-ordered must decrypt as the other layout:
	// C1C3C2 = C1 || hash || C2 and C1C2C3 = C1 || C2 || hash.
	k := mustKey(t)
	msg := []byte("order check message")
	ct, _ := SM2Encrypt(&k.PublicKey, msg, C1C3C2)
	c1, c3, c2 := ct[:65], ct[65:97], ct[97:]
	swapped := append(append(append([]byte{}, c1...), c2...), c3...)
	pt, err := SM2Decrypt(k, swapped, C1C2C3)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("re-ordered ciphertext: %v", err)
	}
}

func TestSM2NoPrefixAccepted(t *testing.T) {
	k := mustKey(t)
	msg := NewKey()
	for _, l := range []CipherLayout{C1C3C2, C1C2C3} {
		ct, _ := SM2Encrypt(&k.PublicKey, msg, l)
		pt, err := SM2Decrypt(k, ct[1:], l)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("%s without 04: %v", l, err)
		}
	}
}

func TestSM2DecryptDiagnosis(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	msg := NewKey()
	enc := func(l CipherLayout) []byte {
		ct, err := SM2Encrypt(&k.PublicKey, msg, l)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	// The X of C1 is random, and the diagnosis of a C1 without its 04
	// prefix depends on X's first byte: withX draws ciphertexts until
	// that byte fits (1 in 256 for a given byte; 2^16 draws never all
	// miss in practice).
	withX := func(fits func(b byte) bool) []byte {
		for range 1 << 16 {
			if ct := enc(C1C3C2); fits(ct[1]) {
				return ct
			}
		}
		t.Fatal("no ciphertext with a fitting X")
		return nil
	}
	plainX := withX(func(b byte) bool { return b != 0x04 && b != 0x30 })
	x04 := withX(func(b byte) bool { return b == 0x04 })
	x30 := withX(func(b byte) bool { return b == 0x30 })
	badY := append([]byte{}, x04...) // prefixed, X starts 04, Y altered: C1 is no point either way
	badY[sm2PointLen-1] ^= 1
	tests := []struct {
		name string
		ct   []byte
		l    CipherLayout
		key  bool // use the other key
		want []string
	}{
		{"c1c2c3 sent, c1c3c2 configured", enc(C1C2C3), C1C3C2, false,
			[]string{"113 bytes", "with the 04 prefix", "16-byte message", "it decrypts as c1c2c3"}},
		{"c1c3c2 sent, c1c2c3 configured", enc(C1C3C2), C1C2C3, false,
			[]string{"it decrypts as c1c3c2"}},
		{"asn1 sent, c1c3c2 configured", enc(ASN1), C1C3C2, false,
			[]string{"looks like ASN.1 DER (starts 30)", "16-byte message", "it decrypts as asn1"}},
		{"c1c3c2 sent, asn1 configured", enc(C1C3C2), ASN1, false,
			[]string{"with the 04 prefix", "it decrypts as c1c3c2"}},
		{"no prefix sent, asn1 configured", plainX[1:], ASN1, false,
			[]string{"112 bytes", "not 04 or 30", "without the 04 prefix", "16-byte message", "it decrypts as c1c3c2"}},
		{"no prefix sent, X starts 04", x04[1:], ASN1, false,
			[]string{"112 bytes", "without the 04 prefix", "16-byte message", "it decrypts as c1c3c2"}},
		{"no prefix sent, X starts 04, wrong key", x04[1:], C1C3C2, true,
			[]string{"112 bytes", "without the 04 prefix", "16-byte message", "no layout decrypts it"}},
		{"no prefix sent, X starts 30", x30[1:], ASN1, false,
			[]string{"112 bytes", "starts 30 but is not a valid ASN.1", "without the 04 prefix", "16-byte message", "it decrypts as c1c3c2"}},
		{"04 prefix, altered C1", badY, C1C3C2, false,
			[]string{"113 bytes", "with the 04 prefix", "16-byte message", "no layout decrypts it"}},
		{"wrong key", enc(C1C3C2), C1C3C2, true,
			[]string{"no layout decrypts it", "wrong private key"}},
		{"wrong key asn1", enc(ASN1), ASN1, true,
			[]string{"no layout decrypts it"}},
		{"asn1 with wrong key, plain configured", enc(ASN1), C1C3C2, true,
			[]string{"looks like ASN.1", "not layout c1c3c2"}},
		{"too short", enc(C1C3C2)[:90], C1C3C2, false,
			[]string{"90 bytes, too short"}},
		{"empty", nil, C1C3C2, false, []string{"empty"}},
		{"hex text", []byte(hexs(enc(C1C3C2))), C1C3C2, false, []string{"hex text"}},
		{"truncated", enc(C1C3C2)[:110], C1C3C2, false, []string{"13-byte message", "no layout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := k
			if tt.key {
				key = other
			}
			_, err := SM2Decrypt(key, tt.ct, tt.l)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSM2Decrypt) {
				t.Errorf("error does not wrap ErrSM2Decrypt: %v", err)
			}
			if strings.Count(err.Error(), "failed") != 1 {
				t.Errorf("error repeats itself: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestSM2BadArguments(t *testing.T) {
	k := mustKey(t)
	if _, err := SM2Encrypt(nil, []byte("x"), C1C3C2); err == nil {
		t.Error("nil public key accepted")
	}
	if _, err := SM2Encrypt(&k.PublicKey, nil, C1C3C2); err == nil || !strings.Contains(err.Error(), "empty message") {
		t.Errorf("empty message: %v", err)
	}
	if _, err := SM2Encrypt(&k.PublicKey, []byte("x"), CipherLayout(9)); err == nil {
		t.Error("invalid layout accepted")
	}
	if _, err := SM2Decrypt(nil, []byte("x"), C1C3C2); err == nil {
		t.Error("nil private key accepted")
	}
	if _, err := SM2Sign(nil, []byte("x")); err == nil {
		t.Error("nil key signed")
	}
	if SM2Verify(nil, []byte("x"), []byte{0x30, 0}) {
		t.Error("nil key verified")
	}
}

func TestSM2SignVerify(t *testing.T) {
	k := mustKey(t)
	msg := []byte(`{"applyno":"A1","code":1}`)
	sig, err := SM2Sign(k, msg)
	if err != nil {
		t.Fatal(err)
	}
	if sig[0] != 0x30 {
		t.Fatalf("signature is not DER: %x", sig)
	}
	if !SM2Verify(&k.PublicKey, msg, sig) {
		t.Fatal("own signature does not verify")
	}
	if SM2Verify(&k.PublicKey, append(msg, ' '), sig) {
		t.Fatal("signature verifies another message")
	}
	if SM2Verify(&mustKey(t).PublicKey, msg, sig) {
		t.Fatal("signature verifies under another key")
	}
	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 1
	if SM2Verify(&k.PublicKey, msg, bad) {
		t.Fatal("altered signature verifies")
	}
	for _, junk := range [][]byte{nil, {0x30}, {0x30, 0x00}, []byte("not a signature")} {
		if SM2Verify(&k.PublicKey, msg, junk) {
			t.Fatalf("junk signature %x verifies", junk)
		}
	}
}

// opensslKey returns PEM files for k: private (PKCS#8) and public.
func opensslKey(t *testing.T) (privPEM, pubPEM string, k *Key) {
	t.Helper()
	pk := mustKey(t)
	priv, err := MarshalPrivateKeyPEM(pk)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := MarshalPublicKeyPEM(&pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "key.pem", priv), writeTemp(t, "pub.pem", pub), &Key{pk}
}

func TestSM2EncryptOpenSSL(t *testing.T) {
	privPath, pubPath, k := opensslKey(t)
	msg := []byte("0123456789abcdef投标保函")
	// openssl -> ours (openssl writes ASN.1)
	ct := openssl(t, msg, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubPath)
	pt, err := SM2Decrypt(k.PrivateKey, ct, ASN1)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("decrypt openssl ciphertext: %v", err)
	}
	// Its C1C3C2 conversion decrypts too, and openssl's ASN.1 under a plain
	// layout is diagnosed.
	if _, err := SM2Decrypt(k.PrivateKey, ct, C1C3C2); err == nil || !strings.Contains(err.Error(), "it decrypts as asn1") {
		t.Fatalf("openssl ASN.1 as c1c3c2: %v", err)
	}
	// ours (ASN.1) -> openssl
	our, err := SM2Encrypt(k.pub(), msg, ASN1)
	if err != nil {
		t.Fatal(err)
	}
	got := openssl(t, our, "pkeyutl", "-decrypt", "-inkey", privPath)
	if !bytes.Equal(got, msg) {
		t.Fatalf("openssl decrypted %q, want %q", got, msg)
	}
}

func TestSM2SignOpenSSL(t *testing.T) {
	privPath, pubPath, k := opensslKey(t)
	msg := []byte(`appkey=A&timestamp=2026-01-02 03:04:05&appsecret=S`)
	msgPath := writeTemp(t, "msg.txt", msg)
	// ours -> openssl
	sig, err := SM2Sign(k.PrivateKey, msg)
	if err != nil {
		t.Fatal(err)
	}
	sigPath := writeTemp(t, "sig.der", sig)
	out := openssl(t, nil, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", pubPath,
		"-in", msgPath, "-sigfile", sigPath, "-pkeyopt", "distid:"+UserID)
	if !strings.Contains(string(out), "Verified Successfully") {
		t.Fatalf("openssl: %s", out)
	}
	// A wrong distid must fail in openssl, or the check above proves nothing.
	if _, err := opensslErr(t, nil, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", pubPath,
		"-in", msgPath, "-sigfile", sigPath, "-pkeyopt", "distid:1234567812345679"); err == nil {
		t.Fatal("openssl verified with another distid")
	}
	// openssl -> ours
	osig := openssl(t, nil, "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", privPath,
		"-in", msgPath, "-pkeyopt", "distid:"+UserID)
	if !SM2Verify(k.pub(), msg, osig) {
		t.Fatal("openssl signature does not verify")
	}
}
