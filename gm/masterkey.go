package gm

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/emmansun/gmsm/sm3"
)

// MasterKey seals secrets kept at rest (appsecrets, private keys, project
// keys) with SM4-GCM. Each sealed value is bound to a context string (for
// example "appsecret/peer-7"), so a value copied to another row or column
// does not open.
type MasterKey struct {
	aead cipher.AEAD
	raw  []byte // for DeriveKey
}

const sealPrefix = "v1:"

// ErrMasterKeyOpen is wrapped when a sealed value does not open: another
// master key, another context, or altered bytes.
var ErrMasterKeyOpen = errors.New("sealed value does not open")

// NewMasterKey returns a master key from 16 raw bytes.
func NewMasterKey(raw []byte) (*MasterKey, error) {
	b, err := newSM4(raw)
	if err != nil {
		return nil, fmt.Errorf("gm: master key: %w", err)
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("gm: master key: %w", err)
	}
	return &MasterKey{aead: aead, raw: append([]byte(nil), raw...)}, nil
}

// DeriveKey returns a 32-byte key for one use, named by label (for
// example "web/login-challenge/platform"): HMAC-SM3 keyed with the master
// key over a fixed prefix and the label. Every process holding the same
// master key derives the same key; keys of different labels are
// unrelated, and none tells anything about the master key or the sealed
// values.
func (m *MasterKey) DeriveKey(label string) ([]byte, error) {
	if m == nil || m.raw == nil {
		return nil, errors.New("gm: master key not loaded")
	}
	h := hmac.New(sm3.New, m.raw)
	h.Write([]byte("baohan/derive/v1\x00"))
	h.Write([]byte(label))
	return h.Sum(nil), nil
}

// ParseMasterKey decodes a master key written as 32 hex characters or as
// base64 of 16 bytes.
func ParseMasterKey(s string) (*MasterKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	switch {
	case len(s) == 32 && isHex(s):
		raw, _ = hex.DecodeString(s)
	default:
		b, err := DecodeBase64(s)
		if err != nil || len(b) != KeySize {
			return nil, fmt.Errorf("gm: master key must be 32 hex characters or base64 of 16 bytes (got %d characters)", len(s))
		}
		raw = b
	}
	return NewMasterKey(raw)
}

// LoadMasterKey returns the master key from envValue (32 hex characters or
// base64 of 16 bytes) when it is set, else from keyFile. When keyFile is
// set but does not exist, a new random key is written to it (hex, mode
// 0600, parent directories 0700) and returned. Both empty is an error.
func LoadMasterKey(envValue, keyFile string) (*MasterKey, error) {
	if strings.TrimSpace(envValue) != "" {
		k, err := ParseMasterKey(envValue)
		if err != nil {
			return nil, fmt.Errorf("%w (from the environment)", err)
		}
		return k, nil
	}
	if keyFile == "" {
		return nil, errors.New("gm: no master key: set the environment value or a key file")
	}
	b, err := os.ReadFile(keyFile)
	switch {
	case err == nil:
		k, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, keyFile)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("gm: master key: %w", err)
	}
	raw := NewKey()
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, fmt.Errorf("gm: master key: %w", err)
	}
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // created meanwhile by another process
			return LoadMasterKey("", keyFile)
		}
		return nil, fmt.Errorf("gm: master key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(raw) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(keyFile)
		return nil, fmt.Errorf("gm: master key: writing %s: %w", keyFile, err)
	}
	return NewMasterKey(raw)
}

// Seal encrypts plaintext with SM4-GCM under a random 12-byte nonce, with
// context as additional data, and returns "v1:" + base64(nonce||ciphertext||tag).
func (m *MasterKey) Seal(plaintext []byte, context string) (string, error) {
	if m == nil || m.aead == nil {
		return "", errors.New("gm: master key not loaded")
	}
	nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(plaintext)+m.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("gm: seal: %w", err)
	}
	out := m.aead.Seal(nonce, nonce, plaintext, []byte(context))
	return sealPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// Open reverses Seal for the same context.
func (m *MasterKey) Open(sealed string, context string) ([]byte, error) {
	if m == nil || m.aead == nil {
		return nil, errors.New("gm: master key not loaded")
	}
	if !strings.HasPrefix(sealed, sealPrefix) {
		return nil, fmt.Errorf("gm: sealed value does not start with %q (not sealed by this version, or stored in plain text)", sealPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(sealed[len(sealPrefix):])
	if err != nil {
		return nil, fmt.Errorf("gm: sealed value: %v", err)
	}
	ns := m.aead.NonceSize()
	if len(b) < ns+m.aead.Overhead() {
		return nil, fmt.Errorf("gm: sealed value is %d bytes, shorter than nonce and tag (%d)", len(b), ns+m.aead.Overhead())
	}
	pt, err := m.aead.Open(nil, b[:ns], b[ns:], []byte(context))
	if err != nil {
		return nil, fmt.Errorf("gm: %w for context %q: another master key, another context, or altered", ErrMasterKeyOpen, context)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
