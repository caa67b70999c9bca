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
	key := NewKey()
	ct, err := SM4ECBEncrypt(key, applyData)
	if err != nil {
		return "", "", err
	}
	envelope, err = WrapKey(pub, key, l)
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(ct), envelope, nil
}

// OpenEnvelope recovers the apply data from the applydata and
// digitalenvelope fields. Errors name the field that failed.
func OpenEnvelope(priv *sm2.PrivateKey, applydata, envelope string, l CipherLayout) ([]byte, error) {
	key, err := UnwrapKey(priv, envelope, l)
	if err != nil {
		return nil, fmt.Errorf("digitalenvelope: %w", err)
	}
	ct, err := DecodeBase64(applydata)
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
	if len(key) == 0 {
		return "", errors.New("gm: wrap key: empty key")
	}
	ct, err := SM2Encrypt(pub, key, l)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// UnwrapKey reverses WrapKey and returns the 16-byte SM4 key or iv. A key
// that the sender encrypted as 32 hex characters or 24 base64 characters
// instead of 16 raw bytes is decoded; any other length is an error.
func UnwrapKey(priv *sm2.PrivateKey, b64 string, l CipherLayout) ([]byte, error) {
	ct, err := DecodeBase64(b64)
	if err != nil {
		return nil, fmt.Errorf("gm: SM2 ciphertext: %w", err)
	}
	pt, err := SM2Decrypt(priv, ct, l)
	if err != nil {
		t := strings.TrimSpace(b64)
		if isHex(t) && len(t)%2 == 0 {
			raw, _ := hex.DecodeString(t)
			if _, herr := SM2Decrypt(priv, raw, l); herr == nil {
				return nil, fmt.Errorf("gm: the field is %d hex characters, not base64: it decrypts when read as hex; the sender must send base64", len(t))
			}
			return nil, fmt.Errorf("%w (the field looks like hex, not base64)", err)
		}
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
