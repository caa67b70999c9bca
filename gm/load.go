package gm

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// LoadPublicKey parses the public key or certificate (any form
// ParsePublicKey reads) in the file named v, or in v itself when no file
// of that name exists and v does not look like a file name (ending in
// .pem, .der, .cer, .crt or .key, or starting with ./ or ../). It is how
// tools take a key that integrators paste as often as they name a file.
// A file that cannot be read gives the os error; a value that does not
// parse says that no file of that name exists either.
func LoadPublicKey(v string) (*ecdsa.PublicKey, error) {
	if v == "" {
		return nil, errors.New("gm: public key: no file name or value")
	}
	b, err := os.ReadFile(v)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) || looksLikePath(v) {
			return nil, err
		}
		b = []byte(v)
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, noFileHint(v))
	}
	return pub, nil
}

// noFileHint notes, after a failed parse of a literal value, that it was
// not a file name either.
func noFileHint(v string) string {
	if _, err := os.Stat(v); err != nil && len(v) < 200 {
		return fmt.Sprintf(" (read as a value: no file named %q exists)", v)
	}
	return ""
}

func looksLikePath(v string) bool {
	for _, ext := range []string{".pem", ".der", ".cer", ".crt", ".key"} {
		if strings.HasSuffix(v, ext) {
			return true
		}
	}
	return strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../")
}
