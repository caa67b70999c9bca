package protocol

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"
)

// SignVariant is how a peer computes the sign (the sign key of a peer's
// configuration). The zero value is SignSM3, the profile's rule; the
// others are the readings of the spec that deployed integrations ship
// (EXTENSIONS.md §4).
type SignVariant int

const (
	// SignSM3: SM3 over the fields but sign and the empty ones, sorted,
	// joined as key=value with "&", then "&appsecret=<appsecret>".
	SignSM3 SignVariant = iota
	// SignSM3KeepEmpty: as SignSM3, empty and null fields kept (as "k=").
	SignSM3KeepEmpty
	// SignHMACSM3: HMAC-SM3 keyed with the appsecret over the sorted
	// string of SignSM3 without "&appsecret=<appsecret>".
	SignHMACSM3
	// SignMD5: as SignSM3 with MD5 (32 hex characters).
	SignMD5
)

// SignVariants lists every variant, the default first.
var SignVariants = []SignVariant{SignSM3, SignSM3KeepEmpty, SignHMACSM3, SignMD5}

var signVariantNames = [...]string{"sm3", "sm3-keep-empty", "hmac-sm3", "md5"}

// String returns the configuration name: sm3, sm3-keep-empty, hmac-sm3
// or md5.
func (v SignVariant) String() string {
	if v >= 0 && int(v) < len(signVariantNames) {
		return signVariantNames[v]
	}
	return fmt.Sprintf("SignVariant(%d)", int(v))
}

// ParseSignVariant parses a configuration name (case and surrounding
// spaces ignored); "" is SignSM3.
func ParseSignVariant(s string) (SignVariant, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return SignSM3, nil
	}
	for i, n := range signVariantNames {
		if t == n {
			return SignVariant(i), nil
		}
	}
	return 0, fmt.Errorf("unknown sign variant %q (want %s)", s, strings.Join(signVariantNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (v SignVariant) MarshalText() ([]byte, error) {
	if v < 0 || int(v) >= len(signVariantNames) {
		return nil, fmt.Errorf("invalid sign variant %d", int(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *SignVariant) UnmarshalText(b []byte) error {
	p, err := ParseSignVariant(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// HexLen is the length of the variant's sign: 64 (SM3), 32 (MD5).
func (v SignVariant) HexLen() int {
	if v == SignMD5 {
		return 32
	}
	return 64
}

// Rule is the variant's rule in one line, quoted in diagnoses.
func (v SignVariant) Rule() string {
	switch v {
	case SignSM3KeepEmpty:
		return `want: lowercase hex of SM3 over every field except sign, empty ones kept, sorted by key byte-wise, as key=value joined by "&", then "&appsecret=<appsecret>"`
	case SignHMACSM3:
		return `want: lowercase hex of HMAC-SM3 keyed with the appsecret over the fields except sign and empty ones, sorted by key byte-wise, as key=value joined by "&"`
	case SignMD5:
		return `want: lowercase hex of MD5 over the fields except sign and empty ones, sorted by key byte-wise, as key=value joined by "&", then "&appsecret=<appsecret>"`
	}
	return SignRule
}

// SignAs returns the sign of fields in variant v: lowercase hex.
func SignAs(v SignVariant, fields map[string]string, secret string) string {
	switch v {
	case SignSM3:
		return Sign(fields, secret)
	case SignHMACSM3:
		return digestPairs(hmac.New(sm3.New, []byte(secret)), fields, signKeys(fields), "")
	case SignMD5:
		return digestPairs(md5.New(), fields, signKeys(fields), "&appsecret="+secret)
	case SignSM3KeepEmpty:
		return digestPairs(sm3.New(), fields, allKeys(fields), "&appsecret="+secret)
	}
	panic(fmt.Sprintf("protocol: SignAs: invalid variant %d", int(v)))
}

// SignStringAs is the string variant v digests (for HMAC-SM3, the
// message; the key is the secret).
func SignStringAs(v SignVariant, fields map[string]string, secret string) string {
	switch v {
	case SignHMACSM3:
		return joinPairs(signKeys(fields), func(k string) string { return fields[k] })
	case SignSM3KeepEmpty:
		return joinPairs(allKeys(fields), func(k string) string { return fields[k] }) + "&appsecret=" + secret
	}
	return SignString(fields, secret)
}

// allKeys returns every key but sign, sorted byte-wise.
func allKeys(fields map[string]string) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != SignField {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func digestPairs(h hash.Hash, fields map[string]string, keys []string, suffix string) string {
	w := bufio.NewWriterSize(h, 32<<10)
	for i, k := range keys {
		if i > 0 {
			w.WriteByte('&')
		}
		w.WriteString(k)
		w.WriteByte('=')
		w.WriteString(fields[k])
	}
	w.WriteString(suffix)
	w.Flush() // a hash never fails to write
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyAs checks the sign of a received request in variant v only (the
// hex case ignored). On failure the result names the variant the peer
// did use when it is one of the others or a well-known mistake
// (Diagnose).
func VerifyAs(r *Request, secret string, v SignVariant) VerifyResult {
	if v == SignSM3 {
		return Verify(r, secret)
	}
	got := r.Fields[SignField]
	res := VerifyResult{Got: got, Expected: SignAs(v, r.Fields, secret), Variant: v}
	if got == "" {
		res.Problem = `field "sign" is missing or empty`
		return res
	}
	if len(got) == len(res.Expected) && subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(res.Expected)) == 1 {
		res.OK = true
		if got != res.Expected {
			res.Variants = []string{"sent in uppercase hex; accepted, signs are compared case-insensitively"}
			res.IDs = []string{"uppercase"}
		}
		return res
	}
	if !isHex(got) || len(got) != v.HexLen() {
		res.Problem = fmt.Sprintf("sign must be %d hex characters (%s), got %d characters", v.HexLen(), v, len([]rune(got)))
		if !isHex(got) {
			res.Problem = fmt.Sprintf("sign must be %d hex characters (%s), got %q", v.HexLen(), v, clip(got))
		}
	}
	if signedSize(r.Fields) > DiagnoseLimit {
		res.Undiagnosed = true
		return res
	}
	lower := strings.ToLower(got)
	for _, other := range SignVariants {
		if other != v && SignAs(other, r.Fields, secret) == lower {
			res.IDs = append(res.IDs, other.String())
			res.Variants = append(res.Variants, fmt.Sprintf("the %s sign (%s; configure sign = %q for this peer)", other, strings.TrimPrefix(other.Rule(), "want: "), other.String()))
		}
	}
	for _, m := range Diagnose(r, secret) {
		if _, isConfig := variantOfKnown[m.ID]; isConfig {
			continue // found above under its configuration name
		}
		res.IDs = append(res.IDs, m.ID)
		res.Variants = append(res.Variants, m.Description)
	}
	return res
}

// variantOfKnown maps the KnownVariants that are a configurable variant
// to it.
var variantOfKnown = map[string]SignVariant{"hmac": SignHMACSM3, "empty-kept": SignSM3KeepEmpty, "md5": SignMD5}

// UsedVariant returns the configurable variant the failed result names
// (the sign variant the peer used), if any.
func (v VerifyResult) UsedVariant() (SignVariant, bool) {
	for _, id := range v.IDs {
		if sv, err := ParseSignVariant(id); err == nil {
			return sv, true
		}
		if sv, ok := variantOfKnown[id]; ok {
			return sv, true
		}
	}
	return 0, false
}

// MaxMessage is the most characters the message of an answer carries
// (the spec's length of message).
const MaxMessage = 100

// Summary is the diagnosis in at most MaxMessage characters, for the
// answer to the peer: which variant it used, or what to check.
func (v VerifyResult) Summary() string {
	if v.OK || v.Got == "" {
		return ClipMessage(v.Diagnosis())
	}
	want := v.Variant.String()
	if used, ok := v.UsedVariant(); ok {
		return ClipMessage(fmt.Sprintf("sign mismatch: you signed as %s; this side expects sign %s", used, want))
	}
	if len(v.IDs) > 0 {
		return ClipMessage(fmt.Sprintf("sign mismatch (sign %s): known mistake %q; see the rule in PROFILE.md", want, v.IDs[0]))
	}
	if v.Problem != "" {
		return ClipMessage("sign mismatch: " + v.Problem)
	}
	return ClipMessage(fmt.Sprintf("sign mismatch (sign %s): no known variant matched; check the appsecret", want))
}

// ClipMessage cuts s to at most MaxMessage characters, ending in "…"
// when cut.
func ClipMessage(s string) string {
	if utf8.RuneCountInString(s) <= MaxMessage {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxMessage-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
