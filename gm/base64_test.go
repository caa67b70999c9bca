package gm

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecodeBase64(t *testing.T) {
	raw := []byte("\x00\xfb\xff guarantee chunk ~~ ??")
	std := base64.StdEncoding.EncodeToString(raw)
	tests := []struct {
		name, in string
		want     []byte
		err      string
	}{
		{"standard", std, raw, ""},
		{"unpadded", strings.TrimRight(std, "="), raw, ""},
		{"url alphabet", base64.URLEncoding.EncodeToString(raw), raw, ""},
		{"url unpadded", base64.RawURLEncoding.EncodeToString(raw), raw, ""},
		{"mime line breaks", std[:8] + "\r\n" + std[8:16] + "\n" + std[16:], raw, ""},
		{"spaces and tabs", " " + std[:8] + "\t" + std[8:] + " ", raw, ""},
		{"empty", "", nil, "empty base64 string"},
		{"only spaces", "   ", nil, "empty base64 string"},
		{"bad character", std[:5] + "*" + std[6:], nil, `character '*' at offset 5`},
		{"impossible length", std[:5], nil, "5 characters is not a possible base64 length"},
		{"hex", strings.Repeat("0a", 20), []byte(nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBase64(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if tt.want == nil { // hex decodes as base64 too; only no panic and agreement matter
				lenient, lerr := decodeBase64Lenient(tt.in)
				if (err == nil) != (lerr == nil) || !bytes.Equal(got, lenient) {
					t.Fatalf("fast %x %v, lenient %x %v", got, err, lenient, lerr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x %v, want %x", got, err, tt.want)
			}
		})
	}
}

// FuzzDecodeBase64: the fast path gives exactly what the lenient path
// gives whenever it answers.
func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{"", "AAAA", "AA==", "AA=A", "A===", "====", "AAAA\r\nAAAA", "AA\nAA", "-_-_", "+/+/",
		"AAA", " AAAA", "AAAA ", "\nAAAA", "AAAA\n", "\r\n\r\n", "QUJD\n=", "QQ==QQ==", "QUJDRA\n==", "  ", "AA==\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := DecodeBase64(s)
		want, werr := decodeBase64Lenient(s)
		if err == nil && werr != nil {
			t.Fatalf("%q: fast path accepted (%x), lenient path refuses: %v", s, got, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("%q: fast path %x, lenient path %x", s, got, want)
		}
		if err != nil && werr == nil {
			t.Fatalf("%q: refused (%v) though the lenient path accepts", s, err)
		}
	})
}

func BenchmarkDecodeBase64Chunk(b *testing.B) {
	raw := bytes.Repeat([]byte{0xa5, 0x5a, 0x00}, (512<<10)/3)
	s := base64.StdEncoding.EncodeToString(raw)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBase64(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBase64ChunkLenient(b *testing.B) {
	raw := bytes.Repeat([]byte{0xa5, 0x5a, 0x00}, (512<<10)/3)
	s := base64.StdEncoding.EncodeToString(raw)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeBase64Lenient(s); err != nil {
			b.Fatal(err)
		}
	}
}
