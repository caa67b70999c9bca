package protocol

import (
	"encoding/base64"
	"testing"
)

var base64Cases = []string{
	"", "QQ==", "QUI=", "QUJD", "QUJDRA==", "QQ", "QQ=", "QQ===", "Q===", "====", "QUJ", "QU=D", "QQ==QUJD",
	"QU\nJD", "QUJD\r\n", "\nQQ==", "QQ=\n=", "QQ== ", " QUJD", "QUJD\t", "QU-D", "QU_D", "QU+/", "QUJDRA==\n",
	"QUJ\x00", "QUJ\xff", "=QUJ", "Q=JD",
}

func TestValidStdBase64(t *testing.T) {
	for _, s := range base64Cases {
		_, err := base64.StdEncoding.DecodeString(s)
		if got := validStdBase64(s); got != (err == nil) {
			t.Errorf("validStdBase64(%q) = %v, the decoder says %v", s, got, err)
		}
	}
}

// FuzzValidStdBase64: the one-pass check agrees with the decoder on
// every input.
func FuzzValidStdBase64(f *testing.F) {
	for _, s := range base64Cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := base64.StdEncoding.DecodeString(s)
		if got := validStdBase64(s); got != (err == nil) {
			t.Fatalf("validStdBase64(%q) = %v, the decoder says %v", s, got, err)
		}
	})
}

func BenchmarkValidateBase64Chunk(b *testing.B) {
	v := base64.StdEncoding.EncodeToString(make([]byte, 512<<10))
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if !validStdBase64(v) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkDecodeBase64Chunk(b *testing.B) {
	v := base64.StdEncoding.EncodeToString(make([]byte, 512<<10))
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			b.Fatal(err)
		}
	}
}
