package gm

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/emmansun/gmsm/sm3"
)

// DigestAlg is the hash used for the baohanfilemd5 field and other file
// digests. The zero value is SM3, the profile's default.
type DigestAlg int

const (
	// SM3 digests are 64 lowercase hex characters.
	SM3 DigestAlg = iota
	// MD5 digests are 32 lowercase hex characters (the field's historic name).
	MD5
)

// String returns "sm3" or "md5".
func (a DigestAlg) String() string {
	switch a {
	case SM3:
		return "sm3"
	case MD5:
		return "md5"
	}
	return fmt.Sprintf("DigestAlg(%d)", int(a))
}

// HexLen is the length of a hex digest of this algorithm.
func (a DigestAlg) HexLen() int {
	switch a {
	case SM3:
		return 64
	case MD5:
		return 32
	}
	return 0
}

// ParseDigestAlg parses "sm3" or "md5" (case ignored). The empty string is
// the default, SM3.
func ParseDigestAlg(s string) (DigestAlg, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "sm3":
		return SM3, nil
	case "md5":
		return MD5, nil
	}
	return 0, fmt.Errorf("gm: unknown digest algorithm %q (want sm3 or md5)", s)
}

// DigestAlgOf tells the algorithm of a hex digest by its length: 64 is SM3,
// 32 is MD5. Non-hex characters are an error.
func DigestAlgOf(hexDigest string) (DigestAlg, error) {
	var a DigestAlg
	switch len(hexDigest) {
	case 64:
		a = SM3
	case 32:
		a = MD5
	default:
		return 0, fmt.Errorf("gm: digest has %d characters; want 64 hex (SM3) or 32 hex (MD5)", len(hexDigest))
	}
	if _, err := hex.DecodeString(hexDigest); err != nil {
		return 0, fmt.Errorf("gm: digest is not hex: %v", err)
	}
	return a, nil
}

// MarshalText implements encoding.TextMarshaler.
func (a DigestAlg) MarshalText() ([]byte, error) {
	if a != SM3 && a != MD5 {
		return nil, fmt.Errorf("gm: invalid digest algorithm %d", int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *DigestAlg) UnmarshalText(b []byte) error {
	v, err := ParseDigestAlg(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// DigestOver is what a file digest covers: the plaintext file (the
// profile's default) or the bytes uploaded (the SM4-CBC ciphertext, all
// chunks in order), or, inbound, whichever of the two matches.
type DigestOver int

const (
	OverPlaintext DigestOver = iota
	OverCiphertext
	// OverEither checks a received digest against both; a sender digests
	// the plaintext.
	OverEither
)

// ParseFileDigest parses the file_digest setting of a peer: "sm3" (the
// default, also for ""), "md5", "sm3-ciphertext", "md5-ciphertext" or
// "auto" (SM3 over the plaintext sent; either algorithm, told by the
// length, over either bytes, received).
func ParseFileDigest(s string) (DigestAlg, DigestOver, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "auto" {
		return SM3, OverEither, nil
	}
	over := OverPlaintext
	if a, ok := strings.CutSuffix(v, "-ciphertext"); ok {
		v, over = a, OverCiphertext
	}
	a, err := ParseDigestAlg(v)
	if err != nil {
		return 0, 0, fmt.Errorf("gm: unknown file digest %q (want sm3, md5, sm3-ciphertext, md5-ciphertext or auto)", s)
	}
	return a, over, nil
}

// FileDigestName is the setting ParseFileDigest reads as a and o.
func FileDigestName(a DigestAlg, o DigestOver) string {
	switch o {
	case OverEither:
		return "auto"
	case OverCiphertext:
		return a.String() + "-ciphertext"
	}
	return a.String()
}

// NewDigest returns a new hash.Hash for a. Unknown values give SM3.
func NewDigest(a DigestAlg) hash.Hash {
	if a == MD5 {
		return md5.New()
	}
	return sm3.New()
}

// FileDigest reads r to EOF and returns its lowercase hex digest.
func FileDigest(r io.Reader, a DigestAlg) (string, error) {
	if a != SM3 && a != MD5 {
		return "", fmt.Errorf("gm: invalid digest algorithm %d", int(a))
	}
	h := NewDigest(a)
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("gm: digest: read: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
