package institution

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"

	"github.com/emmansun/gmsm/sm3"
)

// tokenBytes is the entropy of bidder and invoice tokens.
const tokenBytes = 32

// newToken returns an unguessable single-purpose token (32 random bytes,
// base64url without padding, 43 characters) and the hash it is stored
// and looked up by.
func newToken() (token, hash string) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic("institution: crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

// hashToken is the SM3 hex digest a token is stored under. A token that
// is not 43 base64url characters hashes like any other and finds nothing.
func hashToken(token string) string {
	h := sm3.Sum([]byte("baohan-token\x00" + token))
	return hex.EncodeToString(h[:])
}

// validTokenShape reports whether s looks like a token, so that obviously
// wrong paths are refused before touching the database.
func validTokenShape(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// requestHash is the SM3 hex digest of the parts of a request that make
// it "the same request" (the values joined with NUL).
func requestHash(parts ...string) string {
	h := sm3.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
