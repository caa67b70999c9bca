package gm

import (
	"fmt"
	"strings"
)

// CipherLayout is the byte layout of an SM2 ciphertext on the wire.
//
// The zero value is C1C3C2, the layout of GB/T 32918.4-2016 with the
// uncompressed point marker 0x04 in front of C1; it is the default of
// the interface profile.
type CipherLayout int

const (
	// C1C3C2 is 04||X||Y||SM3 hash||ciphertext (GB/T 32918.4-2016).
	C1C3C2 CipherLayout = iota
	// C1C2C3 is 04||X||Y||ciphertext||SM3 hash (the older draft order).
	C1C2C3
	// ASN1 is the DER SEQUENCE{x INTEGER, y INTEGER, hash OCTET STRING,
	// ciphertext OCTET STRING} of GB/T 35276, as produced by OpenSSL.
	ASN1
	// AutoLayout decrypts whichever of the three layouts the ciphertext
	// is in (the C3 hash tells C1C3C2 from C1C2C3) and encrypts as
	// C1C3C2: for a peer whose layout is not known or not fixed.
	AutoLayout
)

// String returns the lowercase name accepted by ParseCipherLayout.
func (l CipherLayout) String() string {
	switch l {
	case C1C3C2:
		return "c1c3c2"
	case C1C2C3:
		return "c1c2c3"
	case ASN1:
		return "asn1"
	case AutoLayout:
		return "auto"
	}
	return fmt.Sprintf("CipherLayout(%d)", int(l))
}

// ParseCipherLayout parses "c1c3c2", "c1c2c3", "asn1" or "auto" (case and
// surrounding spaces ignored; "der" is accepted for asn1). The empty
// string is the default, C1C3C2.
func ParseCipherLayout(s string) (CipherLayout, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "c1c3c2":
		return C1C3C2, nil
	case "c1c2c3":
		return C1C2C3, nil
	case "asn1", "asn.1", "der":
		return ASN1, nil
	case "auto":
		return AutoLayout, nil
	}
	return 0, fmt.Errorf("gm: unknown SM2 ciphertext layout %q (want c1c3c2, c1c2c3, asn1 or auto)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (l CipherLayout) MarshalText() ([]byte, error) {
	if l < C1C3C2 || l > AutoLayout {
		return nil, fmt.Errorf("gm: invalid SM2 ciphertext layout %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *CipherLayout) UnmarshalText(b []byte) error {
	v, err := ParseCipherLayout(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
