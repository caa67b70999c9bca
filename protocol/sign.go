package protocol

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/emmansun/gmsm/sm3"
)

// SignField is the name of the signature field.
const SignField = "sign"

// SignString returns the string whose SM3 digest is the sign (PROFILE.md):
// every field except sign and except empty values, sorted by key
// byte-wise, as key=value joined by "&", then "&appsecret=" and the
// secret. Values are used exactly as given.
func SignString(fields map[string]string, secret string) string {
	var b strings.Builder
	writeSignString(&b, fields, secret)
	return b.String()
}

// Sign returns the sign of fields: 64 lowercase hex characters of SM3 over
// SignString. The string is hashed as it is written, through a small
// buffer, so that signing a 700 KB upload chunk copies it once instead of
// building it twice in memory.
func Sign(fields map[string]string, secret string) string {
	const buf = 32 << 10
	if n := signedSize(fields) + len(secret) + len("&appsecret="); n <= buf {
		b := bytes.NewBuffer(make([]byte, 0, n))
		writeSignString(b, fields, secret)
		d := sm3.Sum(b.Bytes())
		return hex.EncodeToString(d[:])
	}
	h := sm3.New()
	w := bufio.NewWriterSize(h, buf)
	writeSignString(w, fields, secret)
	w.Flush() // a hash never fails to write
	return hex.EncodeToString(h.Sum(nil))
}

// writeSignString writes SignString(fields, secret) to w.
func writeSignString(w interface {
	io.StringWriter
	io.ByteWriter
}, fields map[string]string, secret string) {
	for i, k := range signKeys(fields) {
		if i > 0 {
			w.WriteByte('&')
		}
		w.WriteString(k)
		w.WriteByte('=')
		w.WriteString(fields[k])
	}
	w.WriteString("&appsecret=")
	w.WriteString(secret)
}

// signKeys returns the keys to sign, sorted byte-wise.
func signKeys(fields map[string]string) []string {
	keys := make([]string, 0, len(fields))
	for k, v := range fields {
		if k != SignField && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func joinPairs(keys []string, val func(string) string) string {
	n := 0
	for _, k := range keys {
		n += len(k) + len(val(k)) + 2
	}
	var b strings.Builder
	b.Grow(n + 64)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(val(k))
	}
	return b.String()
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	OK       bool
	Got      string // the sign sent
	Expected string // the sign per the profile; never show it to the peer
	// Variants describes, on failure, the known signing variants that
	// would have produced Got (see KnownVariants); on success, notes such
	// as uppercase hex.
	Variants []string
	// IDs are the IDs of the matching variants (KnownVariants), in the
	// same order as Variants.
	IDs []string
	// Problem is set when the sign is missing or not 64 hex characters.
	Problem string
	// Undiagnosed is set when the request was too large to try the
	// variants (see DiagnoseLimit).
	Undiagnosed bool
	// Variant is the sign variant checked (VerifyAs).
	Variant SignVariant
}

// SignRule is the profile's rule in one line, quoted in diagnoses.
const SignRule = `want: lowercase hex of SM3 over the fields except sign and empty ones, sorted by key byte-wise, as key=value joined by "&", then "&appsecret=<appsecret>"`

// Diagnosis describes the result in one line, for logs and for the
// peer's message. It never contains the expected sign or the secret.
func (v VerifyResult) Diagnosis() string {
	if v.OK {
		if len(v.Variants) > 0 {
			return "sign ok (" + strings.Join(v.Variants, "; ") + ")"
		}
		return "sign ok"
	}
	if v.Got == "" {
		return `field "sign" is missing or empty`
	}
	var b strings.Builder
	if v.Problem != "" {
		b.WriteString(v.Problem)
		b.WriteString("; ")
	}
	rule := v.Variant.Rule()
	if v.Undiagnosed {
		b.WriteString("the request is too large to try the known variants (")
		b.WriteString(rule)
		b.WriteString(")")
		return b.String()
	}
	if len(v.Variants) > 0 {
		b.WriteString("it matches a known variant: ")
		b.WriteString(strings.Join(v.Variants, " or "))
		b.WriteString(" (")
		b.WriteString(rule)
		b.WriteString(")")
	} else {
		b.WriteString("none of the known variants matched (check the appsecret; ")
		b.WriteString(rule)
		b.WriteString(")")
	}
	return b.String()
}

// Verify checks the sign of a received request against secret, over the
// values as received. The comparison ignores the case of the hex digits.
// On failure it tries the well-known variants (Diagnose) and reports
// which would have matched.
func Verify(r *Request, secret string) VerifyResult {
	got := r.Fields[SignField]
	res := VerifyResult{Got: got, Expected: Sign(r.Fields, secret)}
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
	if !isHex(got) || len(got) != 64 {
		res.Problem = fmt.Sprintf("sign must be 64 hex characters (SM3), got %d characters", len([]rune(got)))
		if !isHex(got) {
			res.Problem = fmt.Sprintf("sign must be 64 hex characters (SM3), got %q", clip(got))
		}
	}
	if n := signedSize(r.Fields); n > DiagnoseLimit {
		res.Undiagnosed = true
		return res
	}
	for _, m := range Diagnose(r, secret) {
		res.IDs = append(res.IDs, m.ID)
		res.Variants = append(res.Variants, m.Description)
	}
	return res
}

// DiagnoseLimit bounds the requests Verify diagnoses: trying the variants
// costs some 30 digests of the request, which a peer must not be able to
// make expensive (uploadbaohanfile chunks are not diagnosed; the other
// requests of the same peer are).
const DiagnoseLimit = 64 << 10

// signedSize is the length of the sign string without the secret.
func signedSize(fields map[string]string) int {
	n := 0
	for k, v := range fields {
		n += len(k) + len(v) + 2
	}
	return n
}

func isHex(s string) bool {
	for k := 0; k < len(s); k++ {
		c := s[k]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// Variant is a well-known way of getting the sign wrong.
type Variant struct {
	ID          string
	Description string
}

// KnownVariants lists the variants Diagnose tries, in order. The
// descriptions of the number and escape variants are made precise with
// an example from the request when they match.
var KnownVariants = []Variant{
	{"hmac", `HMAC-SM3 keyed with the appsecret over the string without "&appsecret="`},
	{"hmac-appsecret", `HMAC-SM3 keyed with the appsecret over the string with "&appsecret=<appsecret>"`},
	{"key", `"&key=<appsecret>" appended instead of "&appsecret=<appsecret>"`},
	{"bare", `the appsecret appended bare, without "appsecret="`},
	{"prepended", `the appsecret put in front of the string instead of "&appsecret=<appsecret>" at the end`},
	{"sorted-in", `"appsecret=<appsecret>" sorted in among the fields instead of appended last`},
	{"empty-kept", `empty or null fields kept in the string (leave them out)`},
	{"caseless-sort", `keys sorted case-insensitively (sort byte-wise: "Z" before "a")`},
	{"numbers-plain", `numbers re-formatted before signing (sign the values as sent)`},
	{"numbers-float", `numbers re-formatted as floating point before signing (sign the values as sent)`},
	{"json-escapes", `values signed with their JSON escapes undecoded (sign the decoded values)`},
	{"unicode-escaped", `non-ASCII characters signed as \uXXXX escapes (sign the UTF-8 text as sent)`},
	{"url-encoded", `values URL-encoded before signing (sign them as sent)`},
	{"trimmed", `values trimmed of spaces before signing (sign them as sent)`},
	{"md5", `MD5 instead of SM3 over the right string`},
	{"sha256", `SHA-256 instead of SM3 over the right string`},
}

// Diagnose returns the known variants whose sign equals the request's
// sign (ignoring case). It is what Verify calls on failure; it costs
// some 30 digests.
func Diagnose(r *Request, secret string) []Variant {
	got := strings.ToLower(r.Fields[SignField])
	if got == "" {
		return nil
	}
	d := diag{r: r, secret: secret, keys: signKeys(r.Fields)}
	d.pairs = joinPairs(d.keys, d.value)
	canonical := d.pairs + "&appsecret=" + secret

	var out []Variant
	for _, kv := range KnownVariants {
		desc, cands := d.candidates(kv.ID, canonical)
		for _, c := range cands {
			if c == got {
				if desc == "" {
					desc = kv.Description
				}
				out = append(out, Variant{ID: kv.ID, Description: desc})
				break
			}
		}
	}
	return out
}

type diag struct {
	r      *Request
	secret string
	keys   []string
	pairs  string
}

func (d *diag) value(k string) string { return d.r.Fields[k] }

func sm3hex(s string) string {
	sum := sm3.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hashHex(h hash.Hash, s string) string {
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// candidates returns, for one variant, the signs it would have produced
// (lowercase hex) and, optionally, a description made precise by an
// example ("" for the default). A variant that yields the canonical
// string returns nothing.
func (d *diag) candidates(id, canonical string) (string, []string) {
	suffix := "&appsecret=" + d.secret
	switch id {
	case "hmac":
		return "", []string{hashHex(hmac.New(sm3.New, []byte(d.secret)), d.pairs)}
	case "hmac-appsecret":
		return "", []string{hashHex(hmac.New(sm3.New, []byte(d.secret)), canonical)}
	case "key":
		return "", []string{sm3hex(d.pairs + "&key=" + d.secret)}
	case "bare":
		return "", []string{sm3hex(d.pairs + d.secret), sm3hex(d.pairs + "&" + d.secret), sm3hex(d.pairs + "appsecret=" + d.secret)}
	case "prepended":
		return "", []string{sm3hex(d.secret + d.pairs), sm3hex(d.secret + "&" + d.pairs), sm3hex("appsecret=" + d.secret + "&" + d.pairs)}
	case "sorted-in":
		keys := append(append([]string(nil), d.keys...), "appsecret")
		sort.Strings(keys)
		if keys[len(keys)-1] == "appsecret" {
			return "", nil // same as canonical
		}
		s := joinPairs(keys, func(k string) string {
			if k == "appsecret" {
				if _, sent := d.r.Fields["appsecret"]; !sent {
					return d.secret
				}
			}
			return d.r.Fields[k]
		})
		return "", []string{sm3hex(s)}
	case "empty-kept":
		var keys []string
		hasNull := false
		for k := range d.r.Fields {
			if k != SignField {
				keys = append(keys, k)
				hasNull = hasNull || d.r.Type(k) == JSONNull
			}
		}
		if len(keys) == len(d.keys) {
			return "", nil
		}
		sort.Strings(keys)
		c := []string{sm3hex(joinPairs(keys, d.value) + suffix)}
		if hasNull {
			c = append(c, sm3hex(joinPairs(keys, func(k string) string {
				if d.r.Type(k) == JSONNull {
					return "null"
				}
				return d.r.Fields[k]
			})+suffix))
		}
		return "", c
	case "caseless-sort":
		keys := append([]string(nil), d.keys...)
		sort.SliceStable(keys, func(i, j int) bool { return strings.ToLower(keys[i]) < strings.ToLower(keys[j]) })
		if equalStrings(keys, d.keys) {
			return "", nil
		}
		return "", []string{sm3hex(joinPairs(keys, d.value) + suffix)}
	case "numbers-plain", "numbers-float":
		format := formatPlain
		if id == "numbers-float" {
			format = formatFloat
		}
		// Two readings: every decimal-looking value re-formatted (the
		// peer's struct types them all as floating point), or only those
		// with a fraction (integers such as applystatus kept as integers).
		var cands []string
		desc := ""
		for _, dottedOnly := range []bool{true, false} {
			changed := map[string]string{}
			first := ""
			for _, k := range d.keys {
				v := d.r.Fields[k]
				if d.r.Type(k) != JSONNumber && !IsDecimal(v) {
					continue
				}
				if dottedOnly && !strings.ContainsAny(v, ".eE") {
					continue
				}
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || math.IsInf(f, 0) {
					continue
				}
				if nv := format(f); nv != v {
					changed[k] = nv
					if first == "" {
						first = k
					}
				}
			}
			if first == "" {
				continue
			}
			if desc == "" {
				desc = fmt.Sprintf("numbers re-formatted before signing (%q sent as %q, signed as %q; sign the values as sent)", first, d.r.Fields[first], changed[first])
			}
			cands = append(cands, sm3hex(joinPairs(d.keys, func(k string) string {
				if nv, ok := changed[k]; ok {
					return nv
				}
				return d.r.Fields[k]
			})+suffix))
		}
		return desc, cands
	case "json-escapes":
		if d.r.raw == nil {
			return "", nil
		}
		first := ""
		for _, k := range d.keys {
			if raw, ok := d.r.raw[k]; ok && string(raw) != d.r.Fields[k] {
				first = k
				break
			}
		}
		if first == "" {
			return "", nil
		}
		s := joinPairs(d.keys, func(k string) string {
			if raw, ok := d.r.raw[k]; ok {
				return string(raw)
			}
			return d.r.Fields[k]
		}) + suffix
		desc := fmt.Sprintf("values signed with their JSON escapes undecoded (%q signed as \"%s\" instead of %q; sign the decoded values)", first, clip(string(d.r.raw[first])), clip(d.r.Fields[first]))
		return desc, []string{sm3hex(s)}
	case "unicode-escaped":
		if !hasNonASCII(d.pairs) {
			return "", nil
		}
		lower := joinPairs(d.keys, func(k string) string { return escapeNonASCII(d.r.Fields[k], "\\u%04x") }) + suffix
		upper := joinPairs(d.keys, func(k string) string { return escapeNonASCII(d.r.Fields[k], "\\u%04X") }) + suffix
		return "", []string{sm3hex(lower), sm3hex(upper)}
	case "url-encoded":
		q := joinPairs(d.keys, func(k string) string { return url.QueryEscape(d.r.Fields[k]) }) + suffix
		p := joinPairs(d.keys, func(k string) string { return url.PathEscape(d.r.Fields[k]) }) + suffix
		if q == canonical && p == canonical {
			return "", nil
		}
		return "", []string{sm3hex(q), sm3hex(p)}
	case "trimmed":
		trimmed := map[string]string{}
		var keys []string
		for _, k := range d.keys {
			if t := strings.TrimSpace(d.r.Fields[k]); t != "" {
				trimmed[k] = t
				keys = append(keys, k)
			}
		}
		s := joinPairs(keys, func(k string) string { return trimmed[k] }) + suffix
		if s == canonical {
			return "", nil
		}
		return "", []string{sm3hex(s)}
	case "md5":
		return "", []string{hashHex(md5.New(), canonical)}
	case "sha256":
		return "", []string{hashHex(sha256.New(), canonical)}
	}
	return "", nil
}

// formatPlain is a number parsed as a float and printed shortest, as
// JavaScript and Go print it: 20000.00 -> 20000, 0.0050 -> 0.005.
func formatPlain(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// formatFloat is Java's Double.toString (and close to Python's str):
// always a fraction digit, scientific from 10^7: 20000.00 -> 20000.0,
// 20000000 -> 2.0E7.
func formatFloat(f float64) string {
	a := math.Abs(f)
	if a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // 2E+07
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

func hasNonASCII(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] >= 0x80 {
			return true
		}
	}
	return false
}

// escapeNonASCII writes every non-ASCII character as \uXXXX (UTF-16,
// surrogate pairs beyond the BMP), as Java and Python's json do.
func escapeNonASCII(s, format string) string {
	if !hasNonASCII(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, format, u)
		}
	}
	return b.String()
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
