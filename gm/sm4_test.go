package gm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// GB/T 32907-2016 appendix A, example 1.
const (
	stdKey   = "0123456789abcdeffedcba9876543210"
	stdPlain = "0123456789abcdeffedcba9876543210"
	stdCt    = "681edf34d206965e86b3e94f536e4246"
)

func TestSM4ECBStandardVector(t *testing.T) {
	ct, err := SM4ECBEncrypt(mustHex(t, stdKey), mustHex(t, stdPlain))
	if err != nil {
		t.Fatal(err)
	}
	// One data block, then a whole block of padding.
	if got := len(ct); got != 32 {
		t.Fatalf("ciphertext length %d, want 32", got)
	}
	if !bytes.Equal(ct[:16], mustHex(t, stdCt)) {
		t.Fatalf("first block %x, want %s", ct[:16], stdCt)
	}
	pt, err := SM4ECBDecrypt(mustHex(t, stdKey), ct)
	if err != nil || !bytes.Equal(pt, mustHex(t, stdPlain)) {
		t.Fatalf("decrypt: %x, %v", pt, err)
	}
}

func TestSM4ECBRoundTrip(t *testing.T) {
	key := NewKey()
	for n := 0; n <= 64; n++ {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		ct, err := SM4ECBEncrypt(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		if want := (n/16 + 1) * 16; len(ct) != want {
			t.Fatalf("len(%d) -> %d, want %d", n, len(ct), want)
		}
		pt, err := SM4ECBDecrypt(key, ct)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("n=%d: %x %v", n, pt, err)
		}
	}
}

func TestSM4ECBErrors(t *testing.T) {
	key := mustHex(t, stdKey)
	good, _ := SM4ECBEncrypt(key, []byte("hello"))
	badPad := append([]byte(nil), good...)
	badPad[len(badPad)-1] ^= 0xff // last byte scrambles the whole last block
	tests := []struct {
		name    string
		key, ct []byte
		want    string
		pad     bool
	}{
		{"short key", key[:15], good, "SM4 key must be 16 bytes, got 15", false},
		{"long key", append(key, 0), good, "SM4 key must be 16 bytes, got 17", false},
		{"empty", key, nil, "empty ciphertext", false},
		{"truncated", key, good[:15], "15 bytes, not a multiple of 16", false},
		{"wrong key", NewKey(), good, "bad PKCS#7 padding", true},
		{"corrupt", key, badPad, "bad PKCS#7 padding", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SM4ECBDecrypt(tt.key, tt.ct)
			if err == nil {
				// A wrong key gives valid padding with probability ~1/256.
				if tt.name == "wrong key" {
					t.Skip("wrong key happened to give valid padding")
				}
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if errors.Is(err, ErrBadPadding) != tt.pad {
				t.Fatalf("errors.Is(ErrBadPadding) = %v, want %v", !tt.pad, tt.pad)
			}
		})
	}
}

func TestUnpadRules(t *testing.T) {
	block := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{'a'}, 16)
		copy(b[16-len(tail):], tail)
		return b
	}
	tests := []struct {
		in   []byte
		want int // -1 error
	}{
		{block(1), 15},
		{block(2, 2), 14},
		{bytes.Repeat([]byte{16}, 16), 0},
		{block(0), -1},
		{block(17), -1},
		{block(1, 2), -1},
		{block(3, 2, 3), -1},
	}
	for _, tt := range tests {
		out, err := unpad(tt.in)
		if tt.want < 0 {
			if !errors.Is(err, ErrBadPadding) {
				t.Errorf("unpad(%x): err %v, want ErrBadPadding", tt.in, err)
			}
			continue
		}
		if err != nil || len(out) != tt.want {
			t.Errorf("unpad(%x) = %d bytes, %v; want %d", tt.in, len(out), err, tt.want)
		}
	}
}

func TestFieldRoundTripAndErrors(t *testing.T) {
	key := NewKey()
	for _, s := range []string{"", "A3201-2024-001 标段", strings.Repeat("招标人", 300)} {
		b64, err := EncryptField(key, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := base64.StdEncoding.DecodeString(b64); err != nil {
			t.Fatalf("EncryptField output is not standard base64: %v", err)
		}
		got, err := DecryptField(key, b64)
		if err != nil || got != s {
			t.Fatalf("DecryptField = %q, %v", got, err)
		}
	}
	b64, _ := EncryptField(key, "biaoduanno-1")
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty base64"},
		{"not base64", "@@@@", `character '@' at offset 0`},
		{"truncated base64", b64[:len(b64)-3], "truncated"},
		{"truncated block", b64[:20], "15 bytes, not a multiple of 16"},
		{"hex instead", "0123456789abcdef0123456789abcdef0123456789abcdef", "not a multiple of 16"},
		{"one char", "A", "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecryptField(key, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecryptField(%q) error %v, want %q", tt.in, err, tt.want)
			}
		})
	}
	// Line-wrapped (Java MIME) and unpadded base64 are accepted.
	long, _ := EncryptField(key, strings.Repeat("x", 100))
	wrapped := long[:76] + "\r\n" + long[76:]
	if got, err := DecryptField(key, wrapped); err != nil || got != strings.Repeat("x", 100) {
		t.Fatalf("wrapped base64: %q %v", got, err)
	}
	if got, err := DecryptField(key, strings.TrimRight(b64, "=")); err != nil || got != "biaoduanno-1" {
		t.Fatalf("unpadded base64: %q %v", got, err)
	}
}

func TestSM4ECBOpenSSL(t *testing.T) {
	key := NewKey()
	for _, n := range []int{0, 1, 15, 16, 17, 1000} {
		msg := bytes.Repeat([]byte("投标"), n)[:n]
		// ours -> openssl
		ct, err := SM4ECBEncrypt(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		pt := openssl(t, ct, "enc", "-d", "-sm4-ecb", "-K", hexs(key))
		if !bytes.Equal(pt, msg) {
			t.Fatalf("n=%d: openssl decrypted %x, want %x", n, pt, msg)
		}
		// openssl -> ours
		oct := openssl(t, msg, "enc", "-sm4-ecb", "-K", hexs(key))
		if !bytes.Equal(oct, ct) {
			t.Fatalf("n=%d: openssl ciphertext %x differs from ours %x (ECB is deterministic)", n, oct, ct)
		}
		got, err := SM4ECBDecrypt(key, oct)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("n=%d: decrypt openssl ciphertext: %x %v", n, got, err)
		}
	}
}
