package gm

import (
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// UserID is the SM2 signer identity of GB/T 35276 used for every
// signature of the interface.
const UserID = "1234567812345678"

const (
	sm2PointLen = 65 // 04 || X || Y
	sm2HashLen  = 32 // C3, SM3
)

// ErrSM2Decrypt is wrapped by SM2Decrypt failures.
var ErrSM2Decrypt = errors.New("SM2 decryption failed")

func checkPublic(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.X == nil || pub.Y == nil {
		return errors.New("gm: no SM2 public key")
	}
	if !sm2.IsSM2PublicKey(pub) {
		return fmt.Errorf("gm: public key is on curve %s, not SM2", curveName(pub))
	}
	return nil
}

func curveName(pub *ecdsa.PublicKey) string {
	if pub.Curve == nil || pub.Curve.Params() == nil {
		return "unknown"
	}
	return pub.Curve.Params().Name
}

func checkPrivate(priv *sm2.PrivateKey) error {
	if priv == nil || priv.D == nil {
		return errors.New("gm: no SM2 private key")
	}
	return checkPublic(&priv.PublicKey)
}

func encrypterOpts(l CipherLayout) (*sm2.EncrypterOpts, error) {
	switch l {
	case C1C3C2, AutoLayout:
		return sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2), nil
	case C1C2C3:
		return sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C2C3), nil
	case ASN1:
		return sm2.ASN1EncrypterOpts, nil
	}
	return nil, fmt.Errorf("gm: invalid SM2 ciphertext layout %d", int(l))
}

// SM2Encrypt encrypts msg (not empty) for pub in layout l. C1C3C2 and
// C1C2C3 carry C1 as the uncompressed point 04||X||Y, so the ciphertext is
// 97 bytes longer than msg.
func SM2Encrypt(pub *ecdsa.PublicKey, msg []byte, l CipherLayout) ([]byte, error) {
	if err := checkPublic(pub); err != nil {
		return nil, err
	}
	opts, err := encrypterOpts(l)
	if err != nil {
		return nil, err
	}
	if len(msg) == 0 {
		return nil, errors.New("gm: SM2 encrypt: empty message")
	}
	ct, err := sm2.Encrypt(rand.Reader, pub, msg, opts)
	if err != nil {
		return nil, fmt.Errorf("gm: SM2 encrypt: %w", err)
	}
	return ct, nil
}

// SM2Decrypt decrypts ct, an SM2 ciphertext in layout l. For C1C3C2 and
// C1C2C3 a C1 without its 04 prefix (as sm-crypto writes it) is accepted.
// ASN.1 input is refused for the plain layouts and plain input for ASN1;
// AutoLayout accepts each of the three (the C3 hash check tells them
// apart).
//
// On failure the error (wrapping ErrSM2Decrypt) describes the bytes (length,
// which layout they look like, the message length that implies) and, when
// the ciphertext decrypts under another layout, names it.
func SM2Decrypt(priv *sm2.PrivateKey, ct []byte, l CipherLayout) ([]byte, error) {
	if err := checkPrivate(priv); err != nil {
		return nil, err
	}
	if _, err := encrypterOpts(l); err != nil {
		return nil, err
	}
	if pt, ok := sm2TryDecrypt(priv, ct, l); ok {
		return pt, nil
	}
	e := &DecryptError{Layout: l, Bytes: DescribeSM2Ciphertext(ct)}
	for _, other := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
		if other == l || l == AutoLayout {
			continue
		}
		if _, ok := sm2TryDecrypt(priv, ct, other); ok {
			e.DecryptsAs, e.reason = other, reasonOtherLayout
			return nil, e
		}
	}
	switch {
	case len(ct) <= sm2PointLen-1+sm2HashLen || isHex(string(ct)):
		e.reason = reasonMalformed
	case !looksLike(ct, l):
		e.reason = reasonShape
	default:
		e.reason = reasonKey
	}
	return nil, e
}

// DecryptError is the error of SM2Decrypt. It wraps ErrSM2Decrypt.
type DecryptError struct {
	Layout     CipherLayout // the layout asked for
	Bytes      string       // DescribeSM2Ciphertext of the input
	DecryptsAs CipherLayout // valid when the reason is another layout
	reason     int
}

const (
	reasonKey = iota
	reasonOtherLayout
	reasonShape
	reasonMalformed
)

// OtherLayout reports the layout the ciphertext does decrypt under, if any:
// the sender's layout differs from the configured one.
func (e *DecryptError) OtherLayout() (CipherLayout, bool) {
	return e.DecryptsAs, e.reason == reasonOtherLayout
}

func (e *DecryptError) Error() string {
	s := fmt.Sprintf("gm: SM2 decryption as %s failed: the %s", e.Layout, e.Bytes)
	switch e.reason {
	case reasonOtherLayout:
		return s + fmt.Sprintf("; it decrypts as %s: the sender uses layout %s, configure that for this peer", e.DecryptsAs, e.DecryptsAs)
	case reasonShape:
		return s + fmt.Sprintf("; that is not layout %s, and no layout decrypts it with this key", e.Layout)
	case reasonMalformed:
		return s
	}
	return s + "; no layout decrypts it: wrong private key (not the one the sender encrypted for), or the bytes were altered"
}

// Is makes errors.Is(err, ErrSM2Decrypt) true.
func (e *DecryptError) Is(target error) bool { return target == ErrSM2Decrypt }

// sm2TryDecrypt decrypts ct strictly in layout l (plus the prefix-less C1
// variant of the plain layouts).
func sm2TryDecrypt(priv *sm2.PrivateKey, ct []byte, l CipherLayout) ([]byte, bool) {
	try := func(b []byte, opts *sm2.DecrypterOpts) ([]byte, bool) {
		pt, err := priv.Decrypt(nil, b, opts)
		return pt, err == nil
	}
	switch l {
	case AutoLayout:
		for _, each := range []CipherLayout{C1C3C2, C1C2C3, ASN1} {
			if pt, ok := sm2TryDecrypt(priv, ct, each); ok {
				return pt, true
			}
		}
	case ASN1:
		if _, ok := parseSM2ASN1(ct); !ok {
			return nil, false
		}
		return try(ct, sm2.ASN1DecrypterOpts)
	case C1C3C2, C1C2C3:
		order := sm2.C1C3C2
		if l == C1C2C3 {
			order = sm2.C1C2C3
		}
		opts := sm2.NewPlainDecrypterOpts(order)
		if len(ct) > sm2PointLen+sm2HashLen && ct[0] == 0x04 {
			if pt, ok := try(ct, opts); ok {
				return pt, true
			}
		}
		if len(ct) > sm2PointLen-1+sm2HashLen {
			b := make([]byte, 1+len(ct))
			b[0] = 0x04
			copy(b[1:], ct)
			return try(b, opts)
		}
	}
	return nil, false
}

// parseSM2ASN1 reports whether ct is a DER SM2Cipher SEQUENCE and returns
// the length of its C2 (the message length).
func parseSM2ASN1(ct []byte) (int, bool) {
	var inner, c2, c3 cryptobyte.String
	var x, y []byte
	in := cryptobyte.String(ct)
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&x) || !inner.ReadASN1Integer(&y) ||
		!inner.ReadASN1(&c3, cbasn1.OCTET_STRING) ||
		!inner.ReadASN1(&c2, cbasn1.OCTET_STRING) || !inner.Empty() {
		return 0, false
	}
	if len(c3) != sm2HashLen {
		return 0, false
	}
	return len(c2), true
}

// looksLike reports whether the shape of ct fits layout l.
func looksLike(ct []byte, l CipherLayout) bool {
	_, asn := parseSM2ASN1(ct)
	switch l {
	case ASN1:
		return asn
	case AutoLayout:
		return asn || len(ct) > sm2PointLen-1+sm2HashLen
	}
	return !asn && len(ct) > sm2PointLen-1+sm2HashLen
}

// DescribeSM2Ciphertext says which SM2 ciphertext layout the bytes look
// like and what message length that implies, for error messages: ASN.1
// (starts 30), 04-prefixed C1 (C1C3C2 or C1C2C3; the order cannot be told
// from the bytes), C1 without prefix, too short, or text rather than bytes.
func DescribeSM2Ciphertext(ct []byte) string {
	n := len(ct)
	switch {
	case n == 0:
		return "ciphertext is empty"
	case isHex(string(ct)) && n >= 2*(sm2PointLen+sm2HashLen):
		return fmt.Sprintf("ciphertext is %d bytes of hex text (decode the hex first)", n)
	}
	if m, ok := parseSM2ASN1(ct); ok {
		return fmt.Sprintf("ciphertext is %d bytes and looks like ASN.1 DER (starts 30): SEQUENCE{x, y, C3, C2} with a %d-byte message", n, m)
	}
	if n <= sm2PointLen-1+sm2HashLen {
		return fmt.Sprintf("ciphertext is %d bytes, too short for SM2 (a 1-byte message gives 98 bytes with the 04 prefix, 97 without)", n)
	}
	if ct[0] == 0x04 && n > sm2PointLen+sm2HashLen {
		// One C1 in 256 without the prefix has an X starting 04 too: the
		// curve tells which reading is a point.
		if !isSM2Point(ct[:sm2PointLen]) && isSM2Point(append([]byte{0x04}, ct[:sm2PointLen-1]...)) {
			return fmt.Sprintf("ciphertext is %d bytes and looks like C1C3C2 or C1C2C3 without the 04 prefix (a %d-byte message; it starts 04, but only without a prefix is C1 a point of the curve)", n, n-sm2PointLen+1-sm2HashLen)
		}
		return fmt.Sprintf("ciphertext is %d bytes and looks like C1C3C2 or C1C2C3 with the 04 prefix (starts 04): a %d-byte message", n, n-sm2PointLen-sm2HashLen)
	}
	if ct[0] == 0x30 {
		return fmt.Sprintf("ciphertext is %d bytes, starts 30 but is not a valid ASN.1 SM2Cipher; as C1C3C2/C1C2C3 without the 04 prefix it would be a %d-byte message", n, n-sm2PointLen+1-sm2HashLen)
	}
	return fmt.Sprintf("ciphertext is %d bytes and starts %02x, not 04 or 30: looks like C1C3C2 or C1C2C3 without the 04 prefix (a %d-byte message)", n, ct[0], n-sm2PointLen+1-sm2HashLen)
}

// isSM2Point reports whether p is an uncompressed point (04||X||Y) on the
// SM2 curve.
func isSM2Point(p []byte) bool {
	_, err := ecdh.P256().NewPublicKey(p)
	return err == nil
}

// SM2Sign signs msg with SM2 over SM3 with the user ID 1234567812345678
// (GB/T 32918.2, GB/T 35276) and returns the DER SEQUENCE{r, s}.
func SM2Sign(priv *sm2.PrivateKey, msg []byte) ([]byte, error) {
	if err := checkPrivate(priv); err != nil {
		return nil, err
	}
	// e = SM3(Z_A || M), computed here so that an empty message signs too
	// (gmsm refuses an empty input to Sign).
	e, err := sm2.CalculateSM2Hash(&priv.PublicKey, msg, []byte(UserID))
	if err != nil {
		return nil, fmt.Errorf("gm: SM2 sign: %w", err)
	}
	sig, err := sm2.SignASN1(rand.Reader, priv, e, nil)
	if err != nil {
		return nil, fmt.Errorf("gm: SM2 sign: %w", err)
	}
	return sig, nil
}

// SM2Verify reports whether derSig is a valid SM2 signature of msg by pub
// (SM3, user ID 1234567812345678, DER SEQUENCE{r, s}).
func SM2Verify(pub *ecdsa.PublicKey, msg, derSig []byte) bool {
	if checkPublic(pub) != nil {
		return false
	}
	return sm2.VerifyASN1WithSM2(pub, []byte(UserID), msg, derSig)
}
