package gm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// GenerateKey returns a new SM2 key pair.
func GenerateKey() (*sm2.PrivateKey, error) {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("gm: generate SM2 key: %w", err)
	}
	return k, nil
}

// PublicKeyHex returns the uncompressed point 04||X||Y as 130 lowercase
// hex characters, the form of downloadpublickey.
func PublicKeyHex(pub *ecdsa.PublicKey) string {
	if pub == nil || pub.X == nil || pub.Y == nil {
		return ""
	}
	var b [65]byte
	b[0] = 4
	pub.X.FillBytes(b[1:33])
	pub.Y.FillBytes(b[33:65])
	return hex.EncodeToString(b[:])
}

// MarshalPublicKeyDER returns the DER SubjectPublicKeyInfo of pub.
func MarshalPublicKeyDER(pub *ecdsa.PublicKey) ([]byte, error) {
	if err := checkPublic(pub); err != nil {
		return nil, err
	}
	return smx509.MarshalPKIXPublicKey(pub)
}

// MarshalPublicKeyPEM returns pub as a PEM "PUBLIC KEY" block.
func MarshalPublicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := MarshalPublicKeyDER(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// MarshalPrivateKeyPEM returns priv as a PEM "PRIVATE KEY" block (PKCS#8,
// the form OpenSSL 3 writes and reads).
func MarshalPrivateKeyPEM(priv *sm2.PrivateKey) ([]byte, error) {
	if err := checkPrivate(priv); err != nil {
		return nil, err
	}
	der, err := smx509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("gm: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// attempts collects why each accepted form did not fit, for one error
// that says what was tried.
type attempts struct {
	what  string
	tried []string
}

func (a *attempts) add(form string, err error) {
	a.tried = append(a.tried, form+": "+err.Error())
}

func (a *attempts) err(input []byte) error {
	return fmt.Errorf("gm: %s not recognised (%s); tried %s", a.what, describeInput(input), strings.Join(a.tried, "; "))
}

// describeInput says what the input looks like without echoing it (it
// may be a private key).
func describeInput(b []byte) string {
	switch {
	case len(b) == 0:
		return "empty input"
	case bytes.Contains(b, []byte("-----BEGIN")):
		return fmt.Sprintf("%d bytes of PEM", len(b))
	case isHex(string(b)):
		return fmt.Sprintf("%d hex characters", len(b))
	case utf8.Valid(b) && isPrintable(b):
		return fmt.Sprintf("%d characters of text", len(b))
	}
	return fmt.Sprintf("%d bytes of binary starting %02x", len(b), b[0])
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// cleanText trims b and, for text, drops an 0x prefix and inner line
// breaks (keys pasted from documents are often wrapped).
func cleanText(b []byte) ([]byte, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || !utf8.Valid(t) || !isPrintable(t) || bytes.Contains(t, []byte("-----BEGIN")) {
		return t, false
	}
	s := strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\t', ' ':
			return -1
		}
		return r
	}, string(t))
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") && isHex(s[2:]) {
		s = s[2:]
	}
	return []byte(s), true
}

// ParsePublicKey parses an SM2 public key in any form peers send:
// hex 04||X||Y (130 characters), hex X||Y (128), hex with leading zeros
// lost (left-padded), base64 or hex of a DER SubjectPublicKeyInfo, PEM
// "PUBLIC KEY", a certificate (PEM, DER or base64 DER), base64 of the raw
// point, or the raw point or DER bytes. The point must be on the SM2
// curve. The error lists the forms tried and why each failed.
func ParsePublicKey(b []byte) (*ecdsa.PublicKey, error) {
	a := &attempts{what: "SM2 public key"}
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, errors.New("gm: SM2 public key: empty input")
	}
	if bytes.Contains(t, []byte("-----BEGIN")) {
		pub, err := publicFromPEM(t)
		if err == nil {
			return pub, nil
		}
		a.add("PEM", err)
		return nil, a.err(t)
	}
	if s, ok := cleanText(t); ok {
		if isHex(string(s)) {
			pub, err := publicFromHex(string(s))
			if err == nil {
				return pub, nil
			}
			a.add("hex (04||X||Y 130 characters, X||Y 128, hex DER)", err)
			return nil, a.err(t)
		}
		if der, err := DecodeBase64(string(s)); err != nil {
			a.add("hex", errors.New("not hex"))
			a.add("base64", err)
		} else {
			pub, err := publicFromBinary(der)
			if err == nil {
				return pub, nil
			}
			a.add("hex", errors.New("not hex"))
			a.add("base64 ("+describeInput(der)+")", err)
			return nil, a.err(t)
		}
		return nil, a.err(t)
	}
	pub, err := publicFromBinary(b)
	if err == nil {
		return pub, nil
	}
	a.add("binary", err)
	return nil, a.err(b)
}

func publicFromPEM(b []byte) (*ecdsa.PublicKey, error) {
	var types []string
	var firstErr error
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		var pub *ecdsa.PublicKey
		var err error
		switch blk.Type {
		case "PUBLIC KEY", "SM2 PUBLIC KEY", "EC PUBLIC KEY":
			pub, err = publicFromDER(blk.Bytes)
		case "CERTIFICATE":
			pub, err = publicFromCertDER(blk.Bytes)
		case "PRIVATE KEY", "EC PRIVATE KEY", "SM2 PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			err = fmt.Errorf("PEM block %q is a private key; give the public key or the certificate", blk.Type)
		default:
			types = append(types, blk.Type)
			continue
		}
		if err == nil {
			return pub, nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("PEM %q: %w", blk.Type, err)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if len(types) > 0 {
		return nil, fmt.Errorf("PEM block types %q hold no public key (want PUBLIC KEY or CERTIFICATE)", types)
	}
	return nil, errors.New("no complete PEM block (BEGIN and END lines, base64 body)")
}

func publicFromHex(s string) (*ecdsa.PublicKey, error) {
	if len(s) > 130 && strings.HasPrefix(s, "30") {
		der, err := hex.DecodeString(padOdd(s))
		if err != nil {
			return nil, err
		}
		return publicFromDER(der)
	}
	s = padOdd(s)
	switch {
	case len(s) == 130 && s[:2] == "04":
	case len(s) <= 128 && len(s) >= 120:
		s = "04" + strings.Repeat("0", 128-len(s)) + s
	default:
		return nil, fmt.Errorf("%d hex characters, want 130 starting 04 (04||X||Y) or 128 (X||Y)", len(s))
	}
	raw, _ := hex.DecodeString(s)
	return publicFromPoint(raw)
}

func padOdd(s string) string {
	if len(s)%2 == 1 {
		return "0" + s
	}
	return s
}

func publicFromPoint(raw []byte) (*ecdsa.PublicKey, error) {
	pub, err := sm2.NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("point is not on the SM2 curve: %v", err)
	}
	return pub, nil
}

func publicFromBinary(b []byte) (*ecdsa.PublicKey, error) {
	switch {
	case len(b) == 65 && b[0] == 4:
		return publicFromPoint(b)
	case len(b) == 64:
		return publicFromPoint(append([]byte{4}, b...))
	case len(b) > 0 && b[0] == 0x30:
		pub, err := publicFromDER(b)
		if err == nil {
			return pub, nil
		}
		pub, cerr := publicFromCertDER(b)
		if cerr == nil {
			return pub, nil
		}
		return nil, fmt.Errorf("DER is neither a SubjectPublicKeyInfo (%v) nor a certificate (%v)", err, cerr)
	}
	return nil, fmt.Errorf("%d bytes: not DER (starts 30), nor a 65-byte 04||X||Y point, nor a 64-byte X||Y", len(b))
}

func publicFromDER(der []byte) (*ecdsa.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("SubjectPublicKeyInfo: %v", err)
	}
	return sm2Public(k)
}

func publicFromCertDER(der []byte) (*ecdsa.PublicKey, error) {
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate: %v", err)
	}
	return sm2Public(c.PublicKey)
}

func sm2Public(k any) (*ecdsa.PublicKey, error) {
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not SM2", k)
	}
	if err := checkPublic(pub); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "gm: "))
	}
	return pub, nil
}

// ParsePrivateKey parses an SM2 private key: PEM "PRIVATE KEY" (PKCS#8),
// PEM "EC PRIVATE KEY" (SEC 1, also after an "EC PARAMETERS" block), DER
// of either, base64 of either, or the raw scalar as hex (left-padded to
// 64 characters; a 66-character value with a 00 sign byte is accepted) or
// as 32 bytes. Encrypted keys are refused with a hint. The error lists the
// forms tried; it never echoes the input.
func ParsePrivateKey(b []byte) (*sm2.PrivateKey, error) {
	a := &attempts{what: "SM2 private key"}
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, errors.New("gm: SM2 private key: empty input")
	}
	if bytes.Contains(t, []byte("-----BEGIN")) {
		k, err := privateFromPEM(t)
		if err == nil {
			return k, nil
		}
		a.add("PEM", err)
		return nil, a.err(t)
	}
	if s, ok := cleanText(t); ok {
		if isHex(string(s)) {
			k, err := privateFromHex(string(s))
			if err == nil {
				return k, nil
			}
			a.add("hex (raw 32-byte scalar, 64 characters, or hex DER)", err)
			return nil, a.err(t)
		}
		if der, err := DecodeBase64(string(s)); err != nil {
			a.add("hex", errors.New("not hex"))
			a.add("base64", err)
		} else {
			k, err := privateFromBinary(der)
			if err == nil {
				return k, nil
			}
			a.add("hex", errors.New("not hex"))
			a.add("base64 ("+describeInput(der)+")", err)
			return nil, a.err(t)
		}
		return nil, a.err(t)
	}
	k, err := privateFromBinary(b)
	if err == nil {
		return k, nil
	}
	a.add("binary", err)
	return nil, a.err(b)
}

func privateFromPEM(b []byte) (*sm2.PrivateKey, error) {
	var types []string
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			return privateFromPKCS8(blk.Bytes)
		case "EC PRIVATE KEY":
			if smx509.IsEncryptedPEMBlock(blk) {
				return nil, errors.New(`"EC PRIVATE KEY" is encrypted (Proc-Type header); decrypt it first: openssl ec -in KEY -out PLAIN`)
			}
			return privateFromSEC1(blk.Bytes)
		case "SM2 PRIVATE KEY":
			return privateFromDER(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New(`"ENCRYPTED PRIVATE KEY" (password-protected PKCS#8) is not supported; decrypt it first: openssl pkcs8 -in KEY -out PLAIN`)
		case "PUBLIC KEY", "CERTIFICATE":
			return nil, fmt.Errorf("PEM block %q holds no private key", blk.Type)
		default:
			types = append(types, blk.Type)
		}
	}
	if len(types) > 0 {
		return nil, fmt.Errorf("PEM block types %q hold no private key (want PRIVATE KEY or EC PRIVATE KEY)", types)
	}
	return nil, errors.New("no complete PEM block (BEGIN and END lines, base64 body)")
}

func privateFromHex(s string) (*sm2.PrivateKey, error) {
	if len(s) > 66 && strings.HasPrefix(s, "30") {
		der, err := hex.DecodeString(padOdd(s))
		if err != nil {
			return nil, err
		}
		return privateFromDER(der)
	}
	if len(s) == 66 && s[:2] == "00" {
		s = s[2:]
	}
	if len(s) > 64 {
		return nil, fmt.Errorf("%d hex characters, want at most 64 (a 32-byte scalar)", len(s))
	}
	raw, _ := hex.DecodeString(strings.Repeat("0", 64-len(s)) + s)
	return privateFromScalar(raw)
}

func privateFromScalar(raw []byte) (*sm2.PrivateKey, error) {
	k, err := sm2.NewPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("scalar is not a valid SM2 private key (want 1..n-2): %v", err)
	}
	return k, nil
}

func privateFromBinary(b []byte) (*sm2.PrivateKey, error) {
	switch {
	case len(b) == 32:
		return privateFromScalar(b)
	case len(b) > 0 && b[0] == 0x30:
		return privateFromDER(b)
	}
	return nil, fmt.Errorf("%d bytes: not DER (starts 30) nor a 32-byte scalar", len(b))
}

func privateFromDER(der []byte) (*sm2.PrivateKey, error) {
	k, err := privateFromPKCS8(der)
	if err == nil {
		return k, nil
	}
	k, err2 := privateFromSEC1(der)
	if err2 == nil {
		return k, nil
	}
	return nil, fmt.Errorf("DER is neither PKCS#8 (%v) nor SEC 1 (%v)", err, err2)
}

func privateFromPKCS8(der []byte) (*sm2.PrivateKey, error) {
	k, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8: %v", err)
	}
	switch k := k.(type) {
	case *sm2.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return nil, fmt.Errorf("PKCS#8 key is on curve %s, not SM2", curveName(&k.PublicKey))
	}
	return nil, fmt.Errorf("PKCS#8 key is %T, not SM2", k)
}

func privateFromSEC1(der []byte) (*sm2.PrivateKey, error) {
	k, err := smx509.ParseTypedECPrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("SEC 1: %v", err)
	}
	switch k := k.(type) {
	case *sm2.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return nil, fmt.Errorf("SEC 1 key is on curve %s, not SM2", curveName(&k.PublicKey))
	}
	return nil, fmt.Errorf("SEC 1 key is %T, not SM2", k)
}

// ParseCertificate parses one certificate: the first CERTIFICATE block of
// PEM input, DER, or base64 DER (a .cer file as text).
func ParseCertificate(b []byte) (*smx509.Certificate, error) {
	cs, err := ParseCertificates(b)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// ParseCertificates parses every CERTIFICATE block of PEM input, or
// concatenated DER certificates, or base64 DER. It returns at least one
// certificate or an error.
func ParseCertificates(b []byte) ([]*smx509.Certificate, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, errors.New("gm: certificate: empty input")
	}
	if bytes.Contains(t, []byte("-----BEGIN")) {
		var out []*smx509.Certificate
		var types []string
		for rest := t; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				types = append(types, blk.Type)
				continue
			}
			c, err := smx509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("gm: certificate %d of the PEM: %v", len(out)+1, err)
			}
			out = append(out, c)
		}
		if len(out) == 0 {
			if len(types) > 0 {
				return nil, fmt.Errorf("gm: certificate: PEM holds %q blocks, no CERTIFICATE", types)
			}
			return nil, errors.New("gm: certificate: no complete PEM block")
		}
		return out, nil
	}
	// DER is binary: a certificate may well end in bytes that look like
	// white space (its signature is random), so only leading white space
	// is dropped from it.
	der := bytes.TrimLeft(b, " \t\r\n\v\f")
	if len(der) == 0 || der[0] != 0x30 {
		s, _ := cleanText(t)
		d, err := DecodeBase64(string(s))
		if err != nil {
			return nil, fmt.Errorf("gm: certificate not recognised (%s): not PEM, not DER (starts 30), not base64 DER (%v)", describeInput(t), err)
		}
		der = d
	}
	cs, err := smx509.ParseCertificates(der)
	if err != nil {
		return nil, fmt.Errorf("gm: certificate: DER: %v", err)
	}
	if len(cs) == 0 {
		return nil, errors.New("gm: certificate: no certificate in the DER")
	}
	return cs, nil
}

// PublicKeyBase64 returns the base64 DER SubjectPublicKeyInfo of pub, the
// form some peers expect instead of hex.
func PublicKeyBase64(pub *ecdsa.PublicKey) (string, error) {
	der, err := MarshalPublicKeyDER(pub)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}
