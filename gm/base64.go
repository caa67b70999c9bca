package gm

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// DecodeBase64 decodes a base64 field as peers send it: the standard
// alphabet, padded or not, with line breaks (Java MIME encoders) and
// surrounding spaces ignored. The URL-safe alphabet is accepted as well.
// The error says where the first offending character is.
//
// Well-formed standard base64 (what nearly every peer sends, and every
// 512 KiB chunk of a guarantee upload) takes one pass of the standard
// decoder; anything else takes the lenient path, which gives the same
// bytes for every input the fast path accepts (FuzzDecodeBase64).
func DecodeBase64(s string) ([]byte, error) {
	if n := len(s); n > 0 && n%4 == 0 && s[0] > ' ' && s[n-1] > ' ' {
		// The standard decoder skips CR and LF itself, as the lenient
		// path does; spaces, tabs, the URL alphabet or a missing pad make
		// it fail, and the lenient path decides.
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return decodeBase64Lenient(s)
}

func decodeBase64Lenient(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n\t ") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case '\r', '\n', '\t', ' ':
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return nil, errors.New("empty base64 string")
	}
	if n := len(strings.TrimRight(s, "=")); n%4 == 1 {
		return nil, fmt.Errorf("not base64: %d characters is not a possible base64 length (truncated, or a character too many)%s", n, hexHint(s))
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") && !strings.ContainsAny(s, "+/") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			off := int(ce)
			if off < len(s) {
				return nil, fmt.Errorf("not base64: character %q at offset %d%s", s[off], off, hexHint(s))
			}
			return nil, fmt.Errorf("not base64: truncated after %d characters (length %d is not valid)%s", len(s), len(s), hexHint(s))
		}
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return b, nil
}

// hexHint returns a note when s is all hex digits, the commonest mistake.
func hexHint(s string) string {
	if len(s) >= 32 && isHex(s) {
		return " (the value looks like hex, not base64)"
	}
	return ""
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
