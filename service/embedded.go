package service

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/baohan-dev/baohan/pki"
)

// The pieces both services' embedded defaults (platform.Embedded,
// institution.Embedded) share: secrets made on first start and kept in
// the data directory, and a test CA as the trust root.

// ReadOrMakeSecret reads a secret from path, or makes 32 random hex
// characters and writes them there (0600, never over an existing file).
// made reports the latter, so that the caller prints it once.
func ReadOrMakeSecret(path string) (secret string, made bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", false, fmt.Errorf("%s is empty; delete it to make a new secret", path)
		}
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	s := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	return s, true, f.Close()
}

// EnsureTestCA makes a test CA in dir (pki.Init) unless its
// certificate is already there; made reports the former.
func EnsureTestCA(dir string) (made bool, err error) {
	_, err = os.Stat(filepath.Join(dir, pki.CACertFile))
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if _, err := pki.Init(dir); err != nil {
		return false, fmt.Errorf("test CA in %s: %w", dir, err)
	}
	return true, nil
}
