package gm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

func TestParsePublicKeyForms(t *testing.T) {
	k := mustKey(t)
	pub := &k.PublicKey
	h := PublicKeyHex(pub)
	if len(h) != 130 || h[:2] != "04" || strings.ToLower(h) != h {
		t.Fatalf("PublicKeyHex = %q", h)
	}
	der, _ := MarshalPublicKeyDER(pub)
	pemBytes, _ := MarshalPublicKeyPEM(pub)
	b64, _ := PublicKeyBase64(pub)
	raw, _ := hex.DecodeString(h)
	wrapped := b64[:40] + "\n" + b64[40:]
	certPEM, certDER := selfSigned(t, k)

	forms := map[string][]byte{
		"hex 04||X||Y":          []byte(h),
		"hex upper":             []byte(strings.ToUpper(h)),
		"hex 0x":                []byte("0x" + h),
		"hex spaces":            []byte("  " + h[:64] + "\n" + h[64:] + "\n"),
		"hex X||Y":              []byte(h[2:]),
		"hex DER SPKI":          []byte(hex.EncodeToString(der)),
		"base64 SPKI":           []byte(b64),
		"base64 SPKI wrapped":   []byte(wrapped),
		"base64 point":          []byte(base64.StdEncoding.EncodeToString(raw)),
		"PEM PUBLIC KEY":        pemBytes,
		"PEM after junk":        append([]byte("header text\n"), pemBytes...),
		"PEM certificate":       certPEM,
		"DER certificate":       certDER,
		"base64 DER cert":       []byte(base64.StdEncoding.EncodeToString(certDER)),
		"DER SPKI":              der,
		"raw point":             raw,
		"raw X||Y":              raw[1:],
		"4 instead of 04 (129)": []byte(h[1:]),
	}
	for name, in := range forms {
		got, err := ParsePublicKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(pub) {
			t.Errorf("%s: another key", name)
		}
	}
}

func TestParsePublicKeyLeadingZeros(t *testing.T) {
	// Keys whose X starts with a zero nibble lose it in BigInteger-style
	// hex; left-padding restores them.
	for range 200 {
		k := mustKey(t)
		h := PublicKeyHex(&k.PublicKey)
		if h[2] != '0' {
			continue
		}
		got, err := ParsePublicKey([]byte(h[3:])) // X||Y, 127 hex characters
		if err != nil || !got.Equal(&k.PublicKey) {
			t.Fatalf("127-character X||Y: %v", err)
		}
		return
	}
	t.Fatal("no key with a leading zero nibble in 200 tries")
}

func TestParsePrivateKeyForms(t *testing.T) {
	k := mustKey(t)
	p8, _ := MarshalPrivateKeyPEM(k)
	p8der, _ := smx509.MarshalPKCS8PrivateKey(k)
	sec1, _ := smx509.MarshalSM2PrivateKey(k)
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 1, 0x82, 0x2d}})
	d := make([]byte, 32)
	k.D.FillBytes(d)
	forms := map[string][]byte{
		"PEM PKCS#8":           p8,
		"PEM SEC1":             sec1PEM,
		"PEM params+SEC1":      append(params, sec1PEM...),
		"PEM SM2 PRIVATE KEY":  pem.EncodeToMemory(&pem.Block{Type: "SM2 PRIVATE KEY", Bytes: sec1}),
		"DER PKCS#8":           p8der,
		"DER SEC1":             sec1,
		"base64 PKCS#8":        []byte(base64.StdEncoding.EncodeToString(p8der)),
		"hex":                  []byte(hex.EncodeToString(d)),
		"hex upper":            []byte(strings.ToUpper(hex.EncodeToString(d))),
		"hex sign byte":        []byte("00" + hex.EncodeToString(d)),
		"hex DER":              []byte(hex.EncodeToString(p8der)),
		"raw 32 bytes":         d,
		"hex with line breaks": []byte(hex.EncodeToString(d)[:30] + "\r\n" + hex.EncodeToString(d)[30:]),
	}
	for name, in := range forms {
		got, err := ParsePrivateKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(k) {
			t.Errorf("%s: another key", name)
		}
	}
	// A short hex scalar is left-padded.
	small, err := sm2.NewPrivateKeyFromInt(bigFromHex(t, "0abc"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivateKey([]byte("abc"))
	if err != nil || !got.Equal(small) {
		t.Fatalf("short hex: %v", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	k := mustKey(t)
	h := PublicKeyHex(&k.PublicKey)
	offCurve := h[:128] + "00"
	if offCurve == h {
		offCurve = h[:128] + "01"
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256Pub, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	p256Priv, _ := x509.MarshalPKCS8PrivateKey(p256)
	p8, _ := MarshalPrivateKeyPEM(k)
	pubPEM, _ := MarshalPublicKeyPEM(&k.PublicKey)
	pubTests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"spaces", []byte("  \n"), "empty input"},
		{"short hex", []byte("04abcd"), "6 hex characters, want 130"},
		{"long hex", []byte(h + "00"), "132 hex characters"},
		{"off curve", []byte(offCurve), "not on the SM2 curve"},
		{"P-256 PEM", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p256Pub}), "not SM2"},
		{"private PEM", p8, "is a private key"},
		{"truncated PEM", pubPEM[:40], "no complete PEM block"},
		{"other PEM", pem.EncodeToMemory(&pem.Block{Type: "FOO", Bytes: []byte{1}}), `"FOO"`},
		{"garbage text", []byte("hello, world!"), "base64"},
		{"binary junk", []byte{0x30, 0x03, 0x02, 0x01}, "neither a SubjectPublicKeyInfo"},
		{"binary 7 bytes", []byte{1, 2, 3, 4, 5, 6, 7}, "7 bytes"},
	}
	for _, tt := range pubTests {
		_, err := ParsePublicKey(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePublicKey %s: %v, want %q", tt.name, err, tt.want)
		}
	}
	privTests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"zero", []byte("00"), "not a valid SM2 private key"},
		{"overflow", []byte(strings.Repeat("f", 64)), "not a valid SM2 private key"},
		{"long hex", []byte(strings.Repeat("1", 70)), "70 hex characters"},
		{"P-256", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p256Priv}), "not SM2"},
		{"public PEM", pubPEM, "holds no private key"},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30}}), "openssl pkcs8"},
		{"garbage", []byte("not a key at all"), "base64"},
		{"broken PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0}}), "PKCS#8"},
	}
	secret := hex.EncodeToString(k.D.Bytes())
	for _, tt := range privTests {
		_, err := ParsePrivateKey(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePrivateKey %s: %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), secret[:16]) {
			t.Errorf("ParsePrivateKey %s: error echoes the key", tt.name)
		}
	}
}

func TestParseCertificates(t *testing.T) {
	k := mustKey(t)
	p1, d1 := selfSigned(t, k)
	p2, _ := selfSigned(t, mustKey(t))
	cs, err := ParseCertificates(append(append([]byte{}, p1...), p2...))
	if err != nil || len(cs) != 2 {
		t.Fatalf("two PEM certificates: %d, %v", len(cs), err)
	}
	c, err := ParseCertificate(d1)
	if err != nil || !c.PublicKey.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
		t.Fatalf("DER: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("zz"), {0x30, 1, 2}} {
		if _, err := ParseCertificate(bad); err == nil {
			t.Errorf("ParseCertificate(%q) succeeded", bad)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	k := mustKey(t)
	p, err := MarshalPrivateKeyPEM(k)
	if err != nil || !strings.HasPrefix(string(p), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("MarshalPrivateKeyPEM: %s %v", p, err)
	}
	if _, err := MarshalPrivateKeyPEM(nil); err == nil {
		t.Fatal("nil key marshalled")
	}
	if PublicKeyHex(nil) != "" {
		t.Fatal("PublicKeyHex(nil) not empty")
	}
	// openssl reads what we write.
	path := writeTemp(t, "k.pem", p)
	out := openssl(t, nil, "pkey", "-in", path, "-pubout")
	pub, err := ParsePublicKey(out)
	if err != nil || !pub.Equal(&k.PublicKey) {
		t.Fatalf("openssl pkey -pubout of our key: %v", err)
	}
}

// A DER certificate whose last byte looks like white space (its
// signature is random: about one in forty) must parse as it is.
func TestParseCertificateDERTrailingWhitespaceByte(t *testing.T) {
	k := mustKey(t)
	for i := 0; i < 2000; i++ {
		_, der := selfSigned(t, k)
		switch der[len(der)-1] {
		case ' ', '\t', '\n', '\v', '\f', '\r':
		default:
			continue
		}
		c, err := ParseCertificate(der)
		if err != nil || !c.PublicKey.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
			t.Fatalf("DER ending in %#x: %v", der[len(der)-1], err)
		}
		return
	}
	t.Skip("no certificate ended in a white-space byte in 2000 tries")
}
