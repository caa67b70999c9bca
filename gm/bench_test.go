package gm

import (
	"bytes"
	"io"
	"testing"
)

func BenchmarkSealEnvelope(b *testing.B) {
	k := mustKey(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), C1C3C2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenEnvelope(b *testing.B) {
	k := mustKey(b)
	ad, env, _ := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), C1C3C2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenEnvelope(k, ad, env, C1C3C2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSM2Sign(b *testing.B) {
	k := mustKey(b)
	msg := []byte(sampleApplyData)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SM2Sign(k, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSM2Verify(b *testing.B) {
	k := mustKey(b)
	msg := []byte(sampleApplyData)
	sig, _ := SM2Sign(k, msg)
	for b.Loop() {
		if !SM2Verify(&k.PublicKey, msg, sig) {
			b.Fatal("verify")
		}
	}
}

// The guarantee-file path per MB: SM4-CBC streaming plus the SM3 digest.
const benchFile = 1 << 20

func BenchmarkFileEncrypt(b *testing.B) {
	key, iv := NewKey(), NewKey()
	data := bytes.Repeat([]byte{0xa5}, benchFile)
	b.SetBytes(benchFile)
	b.ReportAllocs()
	for b.Loop() {
		w, _ := NewCBCEncryptWriter(io.Discard, key, iv)
		h := NewDigest(SM3)
		if _, err := io.Copy(io.MultiWriter(w, h), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		w.Close()
		h.Sum(nil)
	}
}

func BenchmarkFileDecrypt(b *testing.B) {
	key, iv := NewKey(), NewKey()
	var ct bytes.Buffer
	w, _ := NewCBCEncryptWriter(&ct, key, iv)
	w.Write(bytes.Repeat([]byte{0xa5}, benchFile))
	w.Close()
	b.SetBytes(benchFile)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := NewCBCDecryptReader(bytes.NewReader(ct.Bytes()), key, iv)
		h := NewDigest(SM3)
		if _, err := io.Copy(h, r); err != nil {
			b.Fatal(err)
		}
		h.Sum(nil)
	}
}

func BenchmarkSM4ECBField(b *testing.B) {
	key := NewKey()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncryptField(key, "A3201-2024-001 某某标段施工"); err != nil {
			b.Fatal(err)
		}
	}
}
