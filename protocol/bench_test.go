package protocol

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

func benchNotice(b *testing.B) ([]byte, *Request) {
	body := readFile(b, filepath.Join("testdata", "valid", "baohannotice.json"))
	r, err := ParseRequest(body)
	if err != nil {
		b.Fatal(err)
	}
	return body, r
}

func BenchmarkSign(b *testing.B) {
	_, r := benchNotice(b)
	b.ReportAllocs()
	for b.Loop() {
		Sign(r.Fields, testSecret)
	}
}

func BenchmarkVerify(b *testing.B) {
	_, r := benchNotice(b)
	b.ReportAllocs()
	for b.Loop() {
		if !Verify(r, testSecret).OK {
			b.Fatal("verify")
		}
	}
}

func BenchmarkVerifyDiagnose(b *testing.B) {
	_, r := benchNotice(b)
	r.Fields["sign"] = Sign(r.Fields, "wrong")
	b.ReportAllocs()
	for b.Loop() {
		Verify(r, testSecret)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	body, _ := benchNotice(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequestUpload(b *testing.B) {
	// a 512 KiB chunk, base64: the largest common body
	body := MarshalFields(map[string]string{"appkey": "k", "baohanfile": string(make([]byte, 0)) + base64Of(512<<10)})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	_, r := benchNotice(b)
	b.ReportAllocs()
	for b.Loop() {
		if vs := Validate(BaohanNotice, r); len(vs) > 0 {
			b.Fatal(vs)
		}
	}
}

func base64Of(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	out := make([]byte, (n+2)/3*4)
	for i := range out {
		out[i] = alphabet[i%64]
	}
	return string(out)
}

// BenchmarkReplayDigest: what the replay guard adds to each request, the
// SM3 of the interface and body, for a notice and for a 512 KiB chunk
// upload (about 700 KB of JSON).
func BenchmarkReplayDigest(b *testing.B) {
	for _, n := range []int{600, 700 << 10} {
		body := bytes.Repeat([]byte("a"), n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				ReplayDigest(UploadBaohanFile, body)
			}
		})
	}
}
