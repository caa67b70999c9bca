package gm

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDigestAlg(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want DigestAlg
		err  bool
	}{{"sm3", SM3, false}, {"SM3", SM3, false}, {"", SM3, false}, {"md5", MD5, false}, {" MD5 ", MD5, false}, {"sha256", 0, true}} {
		got, err := ParseDigestAlg(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDigestAlg(%q) = %v, %v", tt.in, got, err)
		}
	}
	if SM3.String() != "sm3" || MD5.String() != "md5" || DigestAlg(7).String() != "DigestAlg(7)" {
		t.Error("String")
	}
	for _, tt := range []struct {
		in   string
		want DigestAlg
		err  string
	}{
		{strings.Repeat("a", 64), SM3, ""},
		{strings.Repeat("A", 32), MD5, ""},
		{strings.Repeat("a", 40), 0, "40 characters"},
		{"", 0, "0 characters"},
		{strings.Repeat("g", 32), 0, "not hex"},
	} {
		got, err := DigestAlgOf(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("DigestAlgOf(%q): %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DigestAlgOf(%q) = %v, %v", tt.in, got, err)
		}
	}
	var a DigestAlg
	if err := a.UnmarshalText([]byte("md5")); err != nil || a != MD5 {
		t.Error("UnmarshalText")
	}
	if b, _ := MD5.MarshalText(); string(b) != "md5" {
		t.Error("MarshalText")
	}
}

func TestFileDigestOpenSSL(t *testing.T) {
	data := bytes.Repeat([]byte("保函文件 OFD content\n"), 5000)
	for _, a := range []DigestAlg{SM3, MD5} {
		got, err := FileDigest(bytes.NewReader(data), a)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != a.HexLen() {
			t.Fatalf("%s digest %d characters", a, len(got))
		}
		out := openssl(t, data, "dgst", "-"+a.String(), "-r")
		if want := strings.Fields(string(out))[0]; got != want {
			t.Fatalf("%s: ours %s, openssl %s", a, got, want)
		}
		if back, _ := DigestAlgOf(got); back != a {
			t.Fatalf("DigestAlgOf(%s digest) = %s", a, back)
		}
	}
	// Empty input has a digest; a failing reader is an error.
	if d, err := FileDigest(bytes.NewReader(nil), SM3); err != nil || d != "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b" {
		t.Fatalf("SM3 of nothing: %s %v", d, err)
	}
	if _, err := FileDigest(iotest.ErrReader(io.ErrUnexpectedEOF), SM3); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reader error: %v", err)
	}
	if _, err := FileDigest(bytes.NewReader(nil), DigestAlg(5)); err == nil {
		t.Fatal("invalid algorithm accepted")
	}
}

func TestCipherLayoutParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want CipherLayout
		err  bool
	}{{"", C1C3C2, false}, {"c1c3c2", C1C3C2, false}, {"C1C2C3", C1C2C3, false}, {"asn1", ASN1, false}, {"DER", ASN1, false}, {"c2c1c3", 0, true}} {
		got, err := ParseCipherLayout(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseCipherLayout(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil && tt.in != "" && tt.in != "DER" {
			if back, _ := ParseCipherLayout(got.String()); back != got {
				t.Errorf("String round trip of %v", got)
			}
		}
	}
	if _, err := CipherLayout(9).MarshalText(); err == nil {
		t.Error("invalid layout marshalled")
	}
	var l CipherLayout
	if err := l.UnmarshalText([]byte("asn1")); err != nil || l != ASN1 {
		t.Error("UnmarshalText")
	}
}
