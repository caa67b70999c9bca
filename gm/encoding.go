package gm

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Encoding is how a peer writes binary fields as text (the encoding key
// of a peer's configuration): applydata, digitalenvelope, the key and iv
// of baohanfilecompletenotice, baohanfile, the key of baohanrestore. The
// zero value is Base64, the profile's default.
type Encoding int

const (
	// Base64 is the standard alphabet, padded.
	Base64 Encoding = iota
	// Hex is lowercase hex, two characters a byte (sm-crypto's default).
	Hex
)

// String returns "base64" or "hex".
func (e Encoding) String() string {
	switch e {
	case Base64:
		return "base64"
	case Hex:
		return "hex"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// ParseEncoding parses "base64" or "hex" (case and surrounding spaces
// ignored). The empty string is the default, Base64.
func ParseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "base64":
		return Base64, nil
	case "hex":
		return Hex, nil
	}
	return 0, fmt.Errorf("gm: unknown encoding %q (want base64 or hex)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (e Encoding) MarshalText() ([]byte, error) {
	if e != Base64 && e != Hex {
		return nil, fmt.Errorf("gm: invalid encoding %d", int(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Encoding) UnmarshalText(b []byte) error {
	v, err := ParseEncoding(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Encode writes b in e: padded standard base64, or lowercase hex.
func (e Encoding) Encode(b []byte) string {
	if e == Hex {
		return hex.EncodeToString(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Reencode turns a padded standard base64 value (what the encrypting
// functions of this package return) into e.
func (e Encoding) Reencode(b64 string) string {
	if e == Base64 {
		return b64
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return b64 // not ours to judge: the caller sends it as it is
	}
	return e.Encode(b)
}

// Decode reads a binary field sent by a peer configured for e. It is
// liberal where the two encodings cannot be confused: a value of hex
// digits only, of even length, is hex when e is Hex or when it is at
// least 32 characters long (no base64 of 24 bytes or more is hex digits
// only, short of one chance in 10^17); anything else is base64 as
// DecodeBase64 reads it. The error names both readings when neither
// fits; hex digits of odd length are not hex, whatever base64 makes of
// them, for a Hex peer.
func (e Encoding) Decode(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	if e == Hex && isHex(t) && len(t)%2 == 1 {
		return nil, fmt.Errorf("not hex: %d hex digits is an odd number", len(t))
	}
	if len(t)%2 == 0 && isHex(t) && (e == Hex || len(t) >= 32) {
		return hex.DecodeString(t)
	}
	b, err := DecodeBase64(s)
	if err != nil && e == Hex {
		return nil, fmt.Errorf("neither hex nor base64: %w", err)
	}
	return b, err
}

// DecodeBinary reads a binary field in either encoding (Base64.Decode).
func DecodeBinary(s string) ([]byte, error) { return Base64.Decode(s) }
