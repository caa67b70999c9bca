package gm

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

const sampleApplyData = `{"biddername":"某某建设工程有限公司","biddercode":"91320100MA1XXXXX0X","biaoduanno":"x","biaoduanname":"y","bzjamount":"20000.00","zbr":"z","zbrorgnum":""}`

func TestEnvelopeRoundTrip(t *testing.T) {
	k := mustKey(t)
	for _, l := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
		ad, env, err := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), l)
		if err != nil {
			t.Fatal(err)
		}
		if l != ASN1 && len(env) != 152 {
			t.Errorf("%s: digitalenvelope is %d characters, want 152 (113 bytes)", l, len(env))
		}
		if len(env) > 200 {
			t.Errorf("%s: digitalenvelope is %d characters, over the 200 limit", l, len(env))
		}
		if _, err := base64.StdEncoding.DecodeString(ad); err != nil {
			t.Errorf("applydata is not standard base64: %v", err)
		}
		got, err := OpenEnvelope(k, ad, env, l)
		if err != nil || string(got) != sampleApplyData {
			t.Fatalf("%s: %s %v", l, got, err)
		}
	}
	// Fresh key per envelope.
	a1, e1, _ := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), C1C3C2)
	a2, e2, _ := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), C1C3C2)
	if a1 == a2 || e1 == e2 {
		t.Fatal("two envelopes share key or ciphertext")
	}
}

func TestOpenEnvelopeErrors(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	ad, env, _ := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), C1C3C2)
	ad2, _, _ := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), C1C3C2)
	_, envC1C2C3, _ := SealEnvelope(&k.PublicKey, []byte(sampleApplyData), C1C2C3)
	envC1C2C3Bytes, _ := base64.StdEncoding.DecodeString(envC1C2C3)
	tests := []struct {
		name       string
		key        *Key
		ad, env    string
		want       []string
		wantPrefix string
	}{
		{"wrong key", &Key{other}, ad, env, []string{"wrong private key"}, "digitalenvelope: "},
		{"mismatched fields", &Key{k}, ad2, env, []string{"do not belong together"}, "applydata: "},
		{"layout", &Key{k}, ad, envC1C2C3, []string{"decrypts as c1c2c3"}, "digitalenvelope: "},
		{"envelope not base64", &Key{k}, ad, "%%%", []string{"not base64"}, "digitalenvelope: "},
		{"envelope hex of another layout", &Key{k}, ad, hexs(envC1C2C3Bytes), []string{"decrypts as c1c2c3"}, "digitalenvelope: "},
		{"envelope truncated", &Key{k}, ad, env[:100], []string{"75 bytes, too short"}, "digitalenvelope: "},
		{"applydata empty", &Key{k}, "", env, []string{"empty base64"}, "applydata: "},
		{"applydata truncated", &Key{k}, ad[:20], env, []string{"not a multiple of 16"}, "applydata: "},
		{"applydata garbage", &Key{k}, "!!!!", env, []string{"not base64"}, "applydata: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenEnvelope(tt.key.PrivateKey, tt.ad, tt.env, C1C3C2)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Errorf("error %q does not name field %q", err, tt.wantPrefix)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestWrapKeyForms(t *testing.T) {
	k := mustKey(t)
	key := NewKey()
	w, err := WrapKey(&k.PublicKey, key, C1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapKey(k, w, C1C3C2)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("UnwrapKey: %x %v", got, err)
	}
	// Peers that encrypt the key as hex or base64 text.
	for _, form := range []string{hexs(key), base64.StdEncoding.EncodeToString(key)} {
		ct, _ := SM2Encrypt(&k.PublicKey, []byte(form), C1C3C2)
		got, err := UnwrapKey(k, base64.StdEncoding.EncodeToString(ct), C1C3C2)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("key sent as %q: %x %v", form, got, err)
		}
	}
	ct, _ := SM2Encrypt(&k.PublicKey, []byte("seventeen bytes!!"), C1C3C2)
	if _, err := UnwrapKey(k, base64.StdEncoding.EncodeToString(ct), C1C3C2); err == nil || !strings.Contains(err.Error(), "holds 17 bytes") {
		t.Fatalf("17-byte key: %v", err)
	}
	if _, err := WrapKey(&k.PublicKey, nil, C1C3C2); err == nil {
		t.Fatal("empty key wrapped")
	}
}

func TestEnvelopeOpenSSLInterop(t *testing.T) {
	// An envelope made by openssl alone (pkeyutl for SM2 in ASN.1, enc for
	// SM4-ECB) opens with OpenEnvelope.
	_, pubPath, k := opensslKey(t)
	key := NewKey()
	ct := openssl(t, key, "pkeyutl", "-encrypt", "-pubin", "-inkey", pubPath)
	ad := openssl(t, []byte(sampleApplyData), "enc", "-sm4-ecb", "-K", hexs(key))
	got, err := OpenEnvelope(k.PrivateKey, base64.StdEncoding.EncodeToString(ad), base64.StdEncoding.EncodeToString(ct), ASN1)
	if err != nil || string(got) != sampleApplyData {
		t.Fatalf("%s %v", got, err)
	}
}
