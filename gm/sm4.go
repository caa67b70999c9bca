package gm

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/sm4"
)

// KeySize is the size of an SM4 key and of an SM4-CBC iv.
const KeySize = 16

const blockSize = sm4.BlockSize

// ErrBadPadding is wrapped by every PKCS#7 padding failure. After SM4
// decryption a bad padding almost always means a wrong key (or, for CBC,
// a ciphertext cut or altered at its end).
var ErrBadPadding = errors.New("bad PKCS#7 padding")

// NewKey returns 16 bytes from crypto/rand: a fresh SM4 key or iv.
func NewKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		// crypto/rand.Read does not fail on supported platforms.
		panic("gm: crypto/rand: " + err.Error())
	}
	return k
}

func newSM4(key []byte) (cipher.Block, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("gm: SM4 key must be %d bytes, got %d", KeySize, len(key))
	}
	return sm4.NewCipher(key)
}

// pad appends PKCS#7 padding (1..16 bytes) to a copy of b.
func pad(b []byte) []byte {
	n := blockSize - len(b)%blockSize
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}

// unpad checks and strips PKCS#7 padding from the last block of b, whose
// length is a positive multiple of the block size.
func unpad(b []byte) ([]byte, error) {
	n := int(b[len(b)-1])
	if n == 0 || n > blockSize {
		return nil, fmt.Errorf("%w: last byte is 0x%02x, want 0x01..0x10 (wrong key, or not PKCS#7)", ErrBadPadding, n)
	}
	for i := len(b) - n; i < len(b)-1; i++ {
		if int(b[i]) != n {
			return nil, fmt.Errorf("%w: pad length %d but byte %d from the end is 0x%02x (wrong key, or not PKCS#7)", ErrBadPadding, n, len(b)-i, b[i])
		}
	}
	return b[:len(b)-n], nil
}

// SM4ECBEncrypt encrypts plaintext with SM4 in ECB mode after PKCS#7
// padding. The key is 16 bytes. An empty plaintext gives one block.
func SM4ECBEncrypt(key, plaintext []byte) ([]byte, error) {
	b, err := newSM4(key)
	if err != nil {
		return nil, err
	}
	out := pad(plaintext)
	gmcipher.NewECBEncrypter(b).CryptBlocks(out, out)
	return out, nil
}

// SM4ECBDecrypt decrypts an SM4-ECB ciphertext and strips its PKCS#7
// padding. Errors wrap ErrBadPadding when the padding is wrong.
func SM4ECBDecrypt(key, ciphertext []byte) ([]byte, error) {
	b, err := newSM4(key)
	if err != nil {
		return nil, err
	}
	switch {
	case len(ciphertext) == 0:
		return nil, errors.New("gm: SM4-ECB: empty ciphertext (PKCS#7 gives at least one 16-byte block)")
	case len(ciphertext)%blockSize != 0:
		return nil, fmt.Errorf("gm: SM4-ECB: ciphertext is %d bytes, not a multiple of 16 (truncated, or not SM4)", len(ciphertext))
	}
	out := make([]byte, len(ciphertext))
	gmcipher.NewECBDecrypter(b).CryptBlocks(out, ciphertext)
	pt, err := unpad(out)
	if err != nil {
		return nil, fmt.Errorf("gm: SM4-ECB: %w", err)
	}
	return pt, nil
}

// EncryptField encrypts a field value with SM4-ECB/PKCS#7 and returns the
// standard padded base64 of the ciphertext: the encoding of applydata and
// of the project fields (biaoduanno, biaoduanname, zbr, zbrorgnum).
func EncryptField(key []byte, plaintext string) (string, error) {
	ct, err := SM4ECBEncrypt(key, []byte(plaintext))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// DecryptField reverses EncryptField (the ciphertext may also be hex,
// DecodeBinary). The error says whether the encoding, the length or the
// padding (that is, the key) was wrong.
func DecryptField(key []byte, b64 string) (string, error) {
	ct, err := DecodeBinary(b64)
	if err != nil {
		return "", fmt.Errorf("gm: SM4 field: %w", err)
	}
	pt, err := SM4ECBDecrypt(key, ct)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
