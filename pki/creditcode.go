package pki

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf16"

	"github.com/emmansun/gmsm/smx509"
)

// The character set of the 统一社会信用代码 (GB 32100-2015): digits and
// upper-case letters without I, O, Z, S, V; the index is the value.
const creditChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditWeights are the GB 32100 weights of the first 17 characters
// (3^i mod 31).
var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgWeights are the GB 11714 weights of the organisation code (chars 9-16).
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// GenerateCreditCode returns a random, well-formed 统一社会信用代码:
// "91" (enterprise), a Nanjing region code, an organisation code with its
// GB 11714 check character, and the GB 32100 check character.
func GenerateCreditCode() string {
	for {
		var b strings.Builder
		b.WriteString("91320100")
		sum := 0
		for i := range orgWeights {
			n, _ := rand.Int(rand.Reader, big.NewInt(36))
			v := int(n.Int64())
			sum += v * orgWeights[i]
			b.WriteByte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[v])
		}
		switch c := 11 - sum%11; c {
		case 10:
			b.WriteByte('X')
		case 11:
			b.WriteByte('0')
		default:
			b.WriteByte(byte('0' + c))
		}
		s := b.String()
		// The organisation code may hold I, O, S, V or Z, which the
		// credit code alphabet lacks; draw again in that case.
		if strings.ContainsAny(s, "IOZSV") {
			continue
		}
		c, _ := creditCheckChar(s)
		return s + string(c)
	}
}

func creditCheckChar(s17 string) (byte, error) {
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditChars, s17[i])
		if v < 0 {
			return 0, fmt.Errorf("character %q at position %d is not allowed", s17[i], i+1)
		}
		sum += v * creditWeights[i]
	}
	return creditChars[(31-sum%31)%31], nil
}

// CheckCreditCode reports whether code is 18 characters of the GB 32100
// alphabet (digits and upper-case letters but I, O, S, V, Z) ending in
// the right check character.
func CheckCreditCode(code string) error {
	if len(code) != 18 {
		return fmt.Errorf("统一社会信用代码 %.40q has %d characters, want 18", code, len(code))
	}
	want, err := creditCheckChar(code[:17])
	if err != nil {
		return fmt.Errorf("统一社会信用代码 %s: %v", code, err)
	}
	if code[17] != want {
		return fmt.Errorf("统一社会信用代码 %s: the check character is %q, want %q", code, code[17], want)
	}
	return nil
}

// CreditCodeIn says where a CA puts the 统一社会信用代码 in the
// certificates it issues. The zero value is Subject SERIALNUMBER, the
// default. In configuration files it is written as ParseCreditCodeIn
// reads it.
type CreditCodeIn struct {
	place place
	oid   asn1.ObjectIdentifier // place == inExtension
}

type place uint8

const (
	inSerialNumber place = iota
	inCN
	inOU
	inExtension
)

// The places a CA may put the credit code.
var (
	// InSerialNumber: Subject SERIALNUMBER (OID 2.5.4.5), as pki
	// issues them; the default.
	InSerialNumber = CreditCodeIn{}
	// InCN: within the Subject CN, as CFCA writes its enterprise
	// certificates (041@N<code>@<name>@00000001: the code after an
	// identification-type letter) or as the whole CN.
	InCN = CreditCodeIn{place: inCN}
	// InOU: one of the Subject OUs.
	InOU = CreditCodeIn{place: inOU}
)

// OIDOrganizationCode is the certificate extension that GM/T 0015 names
// 组织机构代码 (1.2.156.10260.4.1.4); CAs that issue SM2 certificates
// put the 统一社会信用代码 there since the two merged.
var OIDOrganizationCode = asn1.ObjectIdentifier{1, 2, 156, 10260, 4, 1, 4}

// InExtension: the value of the certificate extension oid (a DER string,
// or plain ASCII bytes).
func InExtension(oid asn1.ObjectIdentifier) CreditCodeIn {
	return CreditCodeIn{place: inExtension, oid: append(asn1.ObjectIdentifier(nil), oid...)}
}

// ParseCreditCodeIn reads "serialnumber" (or ""), "cn", "ou" or
// "ext:OID" (for example ext:1.2.156.10260.4.1.4).
func ParseCreditCodeIn(s string) (CreditCodeIn, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "", "serialnumber":
		return InSerialNumber, nil
	case "cn":
		return InCN, nil
	case "ou":
		return InOU, nil
	}
	if rest, ok := strings.CutPrefix(v, "ext:"); ok {
		oid, err := parseOID(rest)
		if err != nil {
			return CreditCodeIn{}, fmt.Errorf("credit_code_in %q: %v", s, err)
		}
		return InExtension(oid), nil
	}
	return CreditCodeIn{}, fmt.Errorf("credit_code_in %q: want serialnumber, cn, ou or ext:OID (e.g. ext:1.2.156.10260.4.1.4)", s)
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q is not an object identifier (dotted numbers, e.g. 1.2.156.10260.4.1.4)", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n := 0
		if p == "" || len(p) > 9 || strings.Trim(p, "0123456789") != "" {
			return nil, fmt.Errorf("%q is not an object identifier (dotted numbers, e.g. 1.2.156.10260.4.1.4)", s)
		}
		for _, c := range p {
			n = n*10 + int(c-'0')
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("%q is not an object identifier (it starts with 0, 1 or 2; then below 40 unless 2)", s)
	}
	return oid, nil
}

// String is the form ParseCreditCodeIn reads.
func (c CreditCodeIn) String() string {
	switch c.place {
	case inCN:
		return "cn"
	case inOU:
		return "ou"
	case inExtension:
		return "ext:" + c.oid.String()
	}
	return "serialnumber"
}

// Where names the place for people: "Subject SERIALNUMBER", "Subject
// CN", "Subject OU", "extension 1.2.156.10260.4.1.4".
func (c CreditCodeIn) Where() string {
	switch c.place {
	case inCN:
		return "Subject CN"
	case inOU:
		return "Subject OU"
	case inExtension:
		return "extension " + c.oid.String()
	}
	return "Subject SERIALNUMBER"
}

// Equal reports whether c and d name the same place.
func (c CreditCodeIn) Equal(d CreditCodeIn) bool {
	return c.place == d.place && c.oid.Equal(d.oid)
}

// MarshalText and UnmarshalText let configuration files (TOML) hold it.
func (c CreditCodeIn) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c *CreditCodeIn) UnmarshalText(b []byte) error {
	v, err := ParseCreditCodeIn(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ErrNoCreditCode: the certificate carries no 统一社会信用代码 where its
// CA is said to put it. The errors of CreditCode wrap it when nothing
// there looks like a code, and not when something does but is not a
// valid one.
var ErrNoCreditCode = errors.New("the certificate carries no 统一社会信用代码")

var oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}

// CreditCode returns the 统一社会信用代码 that cert carries where in
// says, in upper case. It is the one reading of a certificate's credit
// code in baohan: the platform and the institution (bidders'
// certificates, seal certificates) and the CA agent all use it.
//
// The values at that place (each SERIALNUMBER, the CN, each OU, the
// extension's string) are cut into runs of ASCII letters and digits; a
// run of 18 characters, or of 19 whose first is a letter (CFCA's
// identification type, N for the credit code), is a candidate, and a
// candidate with a valid GB 32100 check character is the code. One
// code, found once or more, is the answer. Nothing that looks like a
// code is an error that wraps ErrNoCreditCode; a candidate that is not a
// valid code, or two different codes, is an error that does not.
func CreditCode(cert *smx509.Certificate, in CreditCodeIn) (string, error) {
	if cert == nil {
		return "", fmt.Errorf("%w: no certificate", ErrNoCreditCode)
	}
	values, err := placeValues(cert, in)
	if err != nil {
		return "", fmt.Errorf("the certificate of %q: %s: %v", cert.Subject.CommonName, in.Where(), err)
	}
	var codes []string
	var bad error
	for _, v := range values {
		for _, c := range candidates(v) {
			if err := CheckCreditCode(c); err != nil {
				if bad == nil {
					bad = err
				}
				continue
			}
			if len(codes) == 0 || codes[0] != c {
				codes = append(codes, c)
			}
		}
	}
	switch {
	case len(codes) > 1:
		return "", fmt.Errorf("the certificate of %q names two credit codes in %s: %s and %s", cert.Subject.CommonName, in.Where(), codes[0], codes[1])
	case len(codes) == 1:
		return codes[0], nil
	case bad != nil:
		return "", fmt.Errorf("the certificate of %q: %s holds no valid credit code: %v", cert.Subject.CommonName, in.Where(), bad)
	case len(values) == 0:
		return "", fmt.Errorf("%w in %s (the certificate of %q has none)", ErrNoCreditCode, in.Where(), cert.Subject.CommonName)
	}
	return "", fmt.Errorf("%w in %s (the certificate of %q has %s)", ErrNoCreditCode, in.Where(), cert.Subject.CommonName, quoteValues(values))
}

// placeValues are the strings at in's place in cert.
func placeValues(cert *smx509.Certificate, in CreditCodeIn) ([]string, error) {
	var out []string
	switch in.place {
	case inSerialNumber:
		for _, a := range cert.Subject.Names {
			if a.Type.Equal(oidSerialNumber) {
				if s, ok := a.Value.(string); ok {
					out = append(out, s)
				}
			}
		}
	case inCN:
		if cert.Subject.CommonName != "" {
			out = append(out, cert.Subject.CommonName)
		}
	case inOU:
		out = append(out, cert.Subject.OrganizationalUnit...)
	case inExtension:
		for _, e := range cert.Extensions {
			if e.Id.Equal(in.oid) {
				s, err := extensionString(e.Value)
				if err != nil {
					return nil, err
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// extensionString reads an extension's value: a DER string (UTF8String,
// PrintableString, IA5String, VisibleString, NumericString, T61String,
// BMPString or OCTET STRING), or the bytes themselves when they are
// printable ASCII (some CAs write the code bare).
func extensionString(b []byte) (string, error) {
	var rv asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &rv); err == nil && len(rest) == 0 && rv.Class == asn1.ClassUniversal && !rv.IsCompound {
		switch rv.Tag {
		case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, 26 /* VisibleString */, asn1.TagNumericString, asn1.TagT61String, asn1.TagOctetString:
			return string(rv.Bytes), nil
		case asn1.TagBMPString:
			if len(rv.Bytes)%2 != 0 {
				return "", errors.New("a BMPString of odd length")
			}
			u := make([]uint16, len(rv.Bytes)/2)
			for i := range u {
				u[i] = uint16(rv.Bytes[2*i])<<8 | uint16(rv.Bytes[2*i+1])
			}
			return string(utf16.Decode(u)), nil
		}
	}
	if len(b) > 0 && bytes.IndexFunc(b, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0 {
		return string(b), nil
	}
	return "", fmt.Errorf("the value (%d bytes) is neither a DER string nor printable text", len(b))
}

// candidates are the runs of ASCII letters and digits in v that may be
// a credit code, upper-cased: 18 characters, or 19 after a leading
// identification-type letter.
func candidates(v string) []string {
	var out []string
	for _, run := range strings.FieldsFunc(v, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		run = strings.ToUpper(run)
		switch {
		case len(run) == 18:
			out = append(out, run)
		case len(run) == 19 && 'A' <= run[0] && run[0] <= 'Z':
			out = append(out, run[1:])
		}
	}
	return out
}

func quoteValues(vs []string) string {
	const most = 3
	var b strings.Builder
	for i, v := range vs {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(vs)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.60q", v)
	}
	return b.String()
}

// CreditCodes reads credit codes by the convention of the trust root that
// issued each certificate: a service's trust roots, each with its
// CreditCodeIn ([[trust_root]] credit_code_in), the others (and
// certificates no configured root issued) with the default. A nil
// *CreditCodes reads every certificate with InSerialNumber. It is never
// changed after it is built, so any number of goroutines may use it.
type CreditCodes struct {
	def   CreditCodeIn
	roots []rootIn
}

type rootIn struct {
	cert *smx509.Certificate
	in   CreditCodeIn
}

// NewCreditCodes returns conventions with def for every certificate until
// Add names roots that differ.
func NewCreditCodes(def CreditCodeIn) *CreditCodes { return &CreditCodes{def: def} }

// Add says that the certificates roots issue carry the code where in
// says. A root added twice with different places is an error.
func (c *CreditCodes) Add(in CreditCodeIn, roots ...*smx509.Certificate) error {
	for _, r := range roots {
		for _, have := range c.roots {
			if have.cert.Equal(r) && !have.in.Equal(in) {
				return fmt.Errorf("the CA certificate %q is configured twice, with credit_code_in %s and %s", r.Subject.CommonName, have.in, in)
			}
		}
		c.roots = append(c.roots, rootIn{cert: r, in: in})
	}
	return nil
}

// In is where cert carries its credit code: the place configured for the
// root that issued it (its issuer's name and signature), else the
// default.
func (c *CreditCodes) In(cert *smx509.Certificate) CreditCodeIn {
	if c == nil || cert == nil {
		return InSerialNumber
	}
	for _, r := range c.roots {
		if r.in.Equal(c.def) {
			continue
		}
		if bytes.Equal(cert.RawIssuer, r.cert.RawSubject) && cert.CheckSignatureFrom(r.cert) == nil {
			return r.in
		}
	}
	return c.def
}

// Of is CreditCode(cert, c.In(cert)).
func (c *CreditCodes) Of(cert *smx509.Certificate) (string, error) {
	return CreditCode(cert, c.In(cert))
}
