package gm

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/emmansun/gmsm/sm2"

	"github.com/baohan-dev/baohan/internal/ctxio"
)

// FileFields are the fields of baohanfilecompletenotice that let the
// receiver of a guarantee file decrypt and check it: the file's SM4 key
// and iv, each SM2-encrypted for the receiver (WrapKey), and the hex
// digest of the plaintext (SM3, or MD5 where the peer's profile says so).
// The JSON names and order are the wire's.
type FileFields struct {
	Key           string `json:"key"`
	IV            string `json:"iv"`
	BaohanFileMD5 string `json:"baohanfilemd5"`
}

// DigestAlg is the algorithm of BaohanFileMD5, told by its length
// (DigestAlgOf); SM3 when the field is empty.
func (f FileFields) DigestAlg() (DigestAlg, error) {
	d := strings.TrimSpace(f.BaohanFileMD5)
	if d == "" {
		return SM3, nil
	}
	return DigestAlgOf(d)
}

// CheckDigest compares got, the hex digest of the decrypted plaintext,
// with BaohanFileMD5 (hex case ignored). An empty BaohanFileMD5 checks
// nothing.
func (f FileFields) CheckDigest(got string) error {
	want := strings.TrimSpace(f.BaohanFileMD5)
	if want == "" || strings.EqualFold(got, want) {
		return nil
	}
	alg, _ := f.DigestAlg()
	return fmt.Errorf("baohanfilemd5 mismatch: the plaintext's %s is %s, the field says %s (wrong iv, or another file)", alg, got, f.BaohanFileMD5)
}

// FileKey is the SM4 key and iv of one guarantee file (SM4-CBC, PKCS#7).
type FileKey struct {
	Key, IV []byte
}

// NewFileKey returns a fresh random key and iv: a sender uses one per
// file.
func NewFileKey() FileKey { return FileKey{Key: NewKey(), IV: NewKey()} }

// Wrap encrypts key and iv for the holder of pub in layout l: the key and
// iv fields of baohanfilecompletenotice.
func (k FileKey) Wrap(pub *ecdsa.PublicKey, l CipherLayout) (key, iv string, err error) {
	if key, err = WrapKey(pub, k.Key, l); err != nil {
		return "", "", err
	}
	if iv, err = WrapKey(pub, k.IV, l); err != nil {
		return "", "", err
	}
	return key, iv, nil
}

// UnwrapFileKey decrypts the key and iv fields with priv. Errors name the
// field.
func UnwrapFileKey(priv *sm2.PrivateKey, f FileFields, l CipherLayout) (FileKey, error) {
	key, err := UnwrapKey(priv, f.Key, l)
	if err != nil {
		return FileKey{}, fmt.Errorf("key field: %w", err)
	}
	iv, err := UnwrapKey(priv, f.IV, l)
	if err != nil {
		return FileKey{}, fmt.Errorf("iv field: %w", err)
	}
	return FileKey{Key: key, IV: iv}, nil
}

// Encrypt streams the plaintext from src to EOF into dst as SM4-CBC
// ciphertext and returns the plaintext's hex digest under alg. It stops
// with ctx's error when ctx ends. Memory use is constant.
func (k FileKey) Encrypt(ctx context.Context, dst io.Writer, src io.Reader, alg DigestAlg) (digest string, err error) {
	w, err := NewCBCEncryptWriter(dst, k.Key, k.IV)
	if err != nil {
		return "", err
	}
	h := NewDigest(alg)
	if _, err := io.Copy(w, io.TeeReader(ctxio.Reader(ctx, src), h)); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Decrypt streams the ciphertext from src to EOF and writes the plaintext
// to dst; it returns the plaintext's hex digest under alg. It stops with
// ctx's error when ctx ends. What was written to dst is only the file when
// the error is nil, and only the file that was sent when the digest
// matches (a wrong iv garbles the first block only). Memory use is
// constant.
func (k FileKey) Decrypt(ctx context.Context, dst io.Writer, src io.Reader, alg DigestAlg) (digest string, err error) {
	r, err := NewCBCDecryptReader(ctxio.Reader(ctx, src), k.Key, k.IV)
	if err != nil {
		return "", err
	}
	h := NewDigest(alg)
	if _, err := io.Copy(io.MultiWriter(dst, h), r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// EncryptFile encrypts a guarantee file for the holder of pub, as the
// institution does before uploadbaohanfile: the plaintext from src goes
// to dst as SM4-CBC ciphertext under a fresh key and iv, and the returned
// fields carry the key and iv wrapped in layout l and the plaintext's
// digest under alg.
func EncryptFile(ctx context.Context, dst io.Writer, src io.Reader, pub *ecdsa.PublicKey, l CipherLayout, alg DigestAlg) (FileFields, error) {
	k := NewFileKey()
	var f FileFields
	var err error
	if f.Key, f.IV, err = k.Wrap(pub, l); err != nil {
		return FileFields{}, err
	}
	if f.BaohanFileMD5, err = k.Encrypt(ctx, dst, src, alg); err != nil {
		return FileFields{}, err
	}
	return f, nil
}

// DecryptFile reverses EncryptFile, as the platform does on
// baohanfilecompletenotice: it unwraps the key and iv of f with priv,
// decrypts the ciphertext from src into dst and checks the plaintext's
// digest against f.BaohanFileMD5 (unless that is empty). dst holds the
// guarantee file only when the error is nil.
func DecryptFile(ctx context.Context, dst io.Writer, src io.Reader, priv *sm2.PrivateKey, f FileFields, l CipherLayout) error {
	k, alg, err := unwrapFields(priv, f, l)
	if err != nil {
		return err
	}
	got, err := k.Decrypt(ctx, dst, src, alg)
	if err != nil {
		return err
	}
	return f.CheckDigest(got)
}

// unwrapFields reads the digest algorithm of f and unwraps its key and
// iv with priv.
func unwrapFields(priv *sm2.PrivateKey, f FileFields, l CipherLayout) (FileKey, DigestAlg, error) {
	alg, err := f.DigestAlg()
	if err != nil {
		return FileKey{}, alg, fmt.Errorf("baohanfilemd5: %w", err)
	}
	k, err := UnwrapFileKey(priv, f, l)
	return k, alg, err
}
