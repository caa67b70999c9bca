package gm

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm2"
)

// SealEnvelope encrypts applyData (the apply-data JSON) for the holder of
// pub: applydata is the base64 SM4-ECB/PKCS#7 ciphertext under a fresh
// 16-byte key, envelope the base64 SM2 ciphertext of that key in layout l
// (113 bytes, 152 characters, for C1C3C2 and C1C2C3).
func SealEnvelope(pub *ecdsa.PublicKey, applyData []byte, l CipherLayout) (applydata, envelope string, err error) {
	return SealEnvelopeAs(pub, applyData, l, Base64)
}

// SealEnvelopeAs is SealEnvelope with both fields written in encoding e.
func SealEnvelopeAs(pub *ecdsa.PublicKey, applyData []byte, l CipherLayout, e Encoding) (applydata, envelope string, err error) {
	key := NewKey()
	ct, err := SM4ECBEncrypt(key, applyData)
	if err != nil {
		return "", "", err
	}
	envelope, err = WrapKeyAs(pub, key, l, e)
	if err != nil {
		return "", "", err
	}
	return e.Encode(ct), envelope, nil
}

// OpenEnvelope recovers the apply data from the applydata and
// digitalenvelope fields, in base64 or hex (DecodeBinary). Errors name
// the field that failed.
func OpenEnvelope(priv *sm2.PrivateKey, applydata, envelope string, l CipherLayout) ([]byte, error) {
	key, err := UnwrapKey(priv, envelope, l)
	if err != nil {
		return nil, fmt.Errorf("digitalenvelope: %w", err)
	}
	ct, err := DecodeBinary(applydata)
	if err != nil {
		return nil, fmt.Errorf("applydata: %w", err)
	}
	pt, err := SM4ECBDecrypt(key, ct)
	if err != nil {
		if errors.Is(err, ErrBadPadding) {
			return nil, fmt.Errorf("applydata: %w (the key in digitalenvelope does not decrypt applydata: the two fields do not belong together)", err)
		}
		return nil, fmt.Errorf("applydata: %w", err)
	}
	return pt, nil
}

// WrapKey returns the base64 SM2 ciphertext of key in layout l: the
// encoding of digitalenvelope and of the key and iv fields of
// baohanfilecompletenotice.
func WrapKey(pub *ecdsa.PublicKey, key []byte, l CipherLayout) (string, error) {
	return WrapKeyAs(pub, key, l, Base64)
}

// WrapKeyAs is WrapKey with the ciphertext written in encoding e.
func WrapKeyAs(pub *ecdsa.PublicKey, key []byte, l CipherLayout, e Encoding) (string, error) {
	if len(key) == 0 {
		return "", errors.New("gm: wrap key: empty key")
	}
	ct, err := SM2Encrypt(pub, key, l)
	if err != nil {
		return "", err
	}
	return e.Encode(ct), nil
}

// UnwrapKey reverses WrapKey and returns the 16-byte SM4 key or iv. The
// ciphertext may be base64 or hex (DecodeBinary). A key that the sender
// encrypted as 32 hex characters or 24 base64 characters instead of 16
// raw bytes is decoded; any other length is an error.
func UnwrapKey(priv *sm2.PrivateKey, text string, l CipherLayout) ([]byte, error) {
	ct, err := DecodeBinary(text)
	if err != nil {
		return nil, fmt.Errorf("gm: SM2 ciphertext: %w", err)
	}
	pt, err := SM2Decrypt(priv, ct, l)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pt) == KeySize:
		return pt, nil
	case len(pt) == 2*KeySize && isHex(string(pt)):
		return hex.DecodeString(string(pt))
	case len(pt) == 24 && strings.HasSuffix(string(pt), "=="):
		if k, err := base64.StdEncoding.DecodeString(string(pt)); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("gm: SM2 ciphertext holds %d bytes, want a 16-byte SM4 key", len(pt))
}
