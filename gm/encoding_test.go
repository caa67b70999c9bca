package gm

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestEncodingDecode(t *testing.T) {
	b16 := bytes.Repeat([]byte{0xab, 0x01}, 8)   // 16 bytes
	b113 := bytes.Repeat([]byte{0x04, 0xfe}, 56) // 112 bytes
	tests := []struct {
		name string
		enc  Encoding
		in   string
		want []byte
		err  string
	}{
		{"base64 as base64", Base64, base64.StdEncoding.EncodeToString(b16), b16, ""},
		{"hex to a base64 peer, long", Base64, hex.EncodeToString(b113), b113, ""},
		{"hex to a base64 peer, 16 bytes", Base64, hex.EncodeToString(b16), b16, ""},
		{"hex as hex", Hex, hex.EncodeToString(b16), b16, ""},
		{"uppercase hex as hex", Hex, strings.ToUpper(hex.EncodeToString(b16)), b16, ""},
		{"base64 to a hex peer", Hex, base64.StdEncoding.EncodeToString(b113), b113, ""},
		{"short hex digits to a base64 peer are base64", Base64, "abcd", []byte{0x69, 0xb7, 0x1d}, ""},
		{"short hex to a hex peer", Hex, "abcd", []byte{0xab, 0xcd}, ""},
		{"odd hex to a hex peer", Hex, "abc", nil, "odd number"},
		{"garbage to a hex peer", Hex, "%%%%", nil, "neither hex nor base64"},
		{"garbage to a base64 peer", Base64, "%%%%", nil, "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc.Decode(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x %v, want %x", got, err, tt.want)
			}
		})
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	k := mustKey(t)
	for _, e := range []Encoding{Base64, Hex} {
		for _, l := range []CipherLayout{C1C3C2, C1C2C3, ASN1, AutoLayout} {
			ad, env, err := SealEnvelopeAs(&k.PublicKey, []byte(sampleApplyData), l, e)
			if err != nil {
				t.Fatal(err)
			}
			if e == Hex && (!isHex(ad) || !isHex(env)) {
				t.Fatalf("%s %s: not hex: %s %s", e, l, ad, env)
			}
			// The receiver reads either encoding.
			pt, err := OpenEnvelope(k, ad, env, l)
			if err != nil || string(pt) != sampleApplyData {
				t.Fatalf("%s %s: %v", e, l, err)
			}
			if e2, err := ParseEncoding(e.String()); err != nil || e2 != e {
				t.Fatalf("ParseEncoding(%s) = %v %v", e, e2, err)
			}
		}
	}
	if _, err := ParseEncoding("base32"); err == nil {
		t.Fatal("base32 accepted")
	}
	if got := Hex.Reencode(base64.StdEncoding.EncodeToString([]byte{1, 2})); got != "0102" {
		t.Fatalf("Reencode: %s", got)
	}
}

// AutoLayout opens each layout, with or without the 04 prefix, and
// encrypts as C1C3C2.
func TestAutoLayout(t *testing.T) {
	k := mustKey(t)
	msg := NewKey()
	for _, l := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
		ct, err := SM2Encrypt(&k.PublicKey, msg, l)
		if err != nil {
			t.Fatal(err)
		}
		forms := [][]byte{ct}
		if l != ASN1 {
			forms = append(forms, ct[1:])
		}
		for _, f := range forms {
			pt, err := SM2Decrypt(k, f, AutoLayout)
			if err != nil || !bytes.Equal(pt, msg) {
				t.Fatalf("%s (%d bytes): %v", l, len(f), err)
			}
		}
	}
	ct, err := SM2Encrypt(&k.PublicKey, msg, AutoLayout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SM2Decrypt(k, ct, C1C3C2); err != nil {
		t.Fatalf("auto does not encrypt as c1c3c2: %v", err)
	}
	if _, err := SM2Decrypt(mustKey(t), ct, AutoLayout); err == nil || !strings.Contains(err.Error(), "wrong private key") {
		t.Fatalf("wrong key under auto: %v", err)
	}
	if l, err := ParseCipherLayout("AUTO"); err != nil || l != AutoLayout {
		t.Fatalf("ParseCipherLayout(auto) = %v %v", l, err)
	}
}

func TestParseFileDigest(t *testing.T) {
	for _, tt := range []struct {
		in   string
		alg  DigestAlg
		over DigestOver
	}{{"", SM3, OverPlaintext}, {"sm3", SM3, OverPlaintext}, {"md5", MD5, OverPlaintext},
		{"sm3-ciphertext", SM3, OverCiphertext}, {"MD5-ciphertext", MD5, OverCiphertext}, {"auto", SM3, OverEither}} {
		a, o, err := ParseFileDigest(tt.in)
		if err != nil || a != tt.alg || o != tt.over {
			t.Errorf("%q: %v %v %v", tt.in, a, o, err)
		}
		if tt.in != "" && FileDigestName(a, o) != strings.ToLower(tt.in) {
			t.Errorf("FileDigestName(%q) = %s", tt.in, FileDigestName(a, o))
		}
	}
	if _, _, err := ParseFileDigest("sha256"); err == nil {
		t.Error("sha256 accepted")
	}
}

// FuzzEncodingDecode: any text decodes or gives an error, never a panic;
// what an encoding writes it reads back, and the other reads it too where
// the forms cannot be confused (hex of 16 bytes or more; base64 that is
// not all hex digits).
func FuzzEncodingDecode(f *testing.F) {
	for _, s := range []string{"", "abcd", "0a0b", "QUJD", "%%", "0A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "YWJj\n"} {
		f.Add(s, []byte(s))
	}
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		Base64.Decode(s)
		Hex.Decode(s)
		if len(b) == 0 {
			return
		}
		for _, w := range []Encoding{Base64, Hex} {
			text := w.Encode(b)
			for _, r := range []Encoding{Base64, Hex} {
				if r != w && (w == Hex && len(b) < 16 || w == Base64 && isHex(text)) {
					continue // ambiguous: read in the reader's own encoding
				}
				got, err := r.Decode(text)
				if err != nil || !bytes.Equal(got, b) {
					t.Fatalf("written %s, read %s: %x -> %x %v", w, r, b, got, err)
				}
			}
		}
	})
}
