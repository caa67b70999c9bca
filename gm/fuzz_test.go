package gm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"testing"
)

func FuzzParsePublicKey(f *testing.F) {
	for _, name := range []string{"sm2.pub.pem", "sm2.pub.hex", "sm2.pub.xy.hex", "sm2.pub.b64", "sm2.cert.pem"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("0x04"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParsePublicKey(b)
		if err != nil {
			if pub != nil {
				t.Fatal("key and error")
			}
			return
		}
		// Whatever parses is a valid SM2 point that round-trips.
		again, err := ParsePublicKey([]byte(PublicKeyHex(pub)))
		if err != nil || !again.Equal(pub) {
			t.Fatalf("round trip of parsed key: %v", err)
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	for _, name := range []string{"sm2.key.pem", "sm2.key.der", "sm2.key.hex", "sm2.sec1.pem", "sm2.sec1-openssl.pem"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("00"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKey(b)
		if err != nil {
			return
		}
		p, err := MarshalPrivateKeyPEM(k)
		if err != nil {
			t.Fatalf("parsed key does not marshal: %v", err)
		}
		again, err := ParsePrivateKey(p)
		if err != nil || !again.Equal(k) {
			t.Fatalf("round trip of parsed key: %v", err)
		}
	})
}

var fuzzKey, fuzzIV = bytes.Repeat([]byte{0x11}, 16), bytes.Repeat([]byte{0x22}, 16)

func FuzzCBCDecryptReader(f *testing.F) {
	for _, msg := range []string{"", "a", "0123456789abcdef", "a longer message over two blocks"} {
		var buf bytes.Buffer
		w, _ := NewCBCEncryptWriter(&buf, fuzzKey, fuzzIV)
		w.Write([]byte(msg))
		w.Close()
		f.Add(buf.Bytes(), uint8(7))
	}
	f.Add([]byte{}, uint8(1))
	f.Add(make([]byte, 15), uint8(3))
	f.Fuzz(func(t *testing.T, ct []byte, chunk uint8) {
		r, err := NewCBCDecryptReader(&chunkReader{b: ct, n: int(chunk)%40 + 1}, fuzzKey, fuzzIV)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := io.ReadAll(r)
		if err != nil {
			if len(ct) > 0 && len(ct)%16 == 0 && !errors.Is(err, ErrBadPadding) {
				t.Fatalf("aligned input failed without a padding error: %v", err)
			}
			return
		}
		// Success means it is exactly the encryption of pt.
		var buf bytes.Buffer
		w, _ := NewCBCEncryptWriter(&buf, fuzzKey, fuzzIV)
		w.Write(pt)
		w.Close()
		if !bytes.Equal(buf.Bytes(), ct) {
			t.Fatalf("decrypted %x but it re-encrypts differently", pt)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}

func FuzzDecryptField(f *testing.F) {
	b64, _ := EncryptField(fuzzKey, "biaoduanno")
	f.Add(b64)
	f.Add("")
	f.Add("====")
	f.Add("AAAA\r\nAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		pt, err := DecryptField(fuzzKey, s)
		if err != nil {
			return
		}
		again, err := EncryptField(fuzzKey, pt)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := base64.StdEncoding.DecodeString(again)
		b, _ := DecodeBase64(s)
		if !bytes.Equal(a, b) {
			t.Fatalf("field %q decrypts to %q which encrypts to %q", s, pt, again)
		}
	})
}

func FuzzSM2Decrypt(f *testing.F) {
	k, err := ParsePrivateKey(readTestdata(f, "sm2.key.pem"))
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
		ct, _ := SM2Encrypt(&k.PublicKey, []byte("0123456789abcdef"), l)
		f.Add(ct, uint8(l))
	}
	f.Fuzz(func(t *testing.T, ct []byte, l uint8) {
		_, err := SM2Decrypt(k, ct, CipherLayout(l%3))
		if err != nil && !errors.Is(err, ErrSM2Decrypt) {
			t.Fatalf("error does not wrap ErrSM2Decrypt: %v", err)
		}
		_ = DescribeSM2Ciphertext(ct)
	})
}
