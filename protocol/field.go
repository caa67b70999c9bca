package protocol

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the format a field's value must have.
type Kind int

const (
	// Text is any string.
	Text Kind = iota
	// Timestamp is yyyy-MM-dd HH:mm:ss (CST), see ParseTime.
	Timestamp
	// Decimal is a non-negative plain decimal: digits, optionally one dot
	// followed by digits ("20000.00", "0.005"); no sign, exponent, space
	// or thousands separator.
	Decimal
	// Enum is one of Field.Enum.
	Enum
	// FileList is a JSON array, sent as a string, of objects each with a
	// non-empty string "fileurl" (claimsnotice).
	FileList
	// Integer is a non-negative decimal integer ("0", "1", "12").
	Integer
	// Base64 is standard base64 with padding (RFC 4648 §4).
	Base64
	// HexDigest is the hex of an SM3 (64) or MD5 (32) digest, either case.
	HexDigest
	// Identifier is text without control characters (appkey, platformcode,
	// applyno, baohanno): these values key database rows, appear in logs
	// and consoles, and a NUL, an escape sequence or a line break in them
	// is never legitimate.
	Identifier
)

var kindNames = [...]string{"text", "timestamp", "decimal", "enum", "json-filelist", "integer", "base64", "hex-digest", "identifier"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// EnumValue is one allowed value of an Enum field and what it means.
type EnumValue struct {
	Value   string
	Meaning string // the spec's words, e.g. 审核通过
}

// Field is one row of an interface's table in the spec.
type Field struct {
	Name     string
	Meaning  string // the spec's 说明 (Chinese), short
	Max      int    // maximum length in characters; 0: no limit
	Required bool   // 是否必须 是: present and non-empty
	Kind     Kind
	Enum     []EnumValue // for Kind Enum
	Example  string      // a valid value, quoted in messages ("0.005")
	// Binary marks a field of bytes written as text (the encoding key of
	// a peer): Max is a base64 length, and the same bytes in hex, half as
	// long again, are allowed Max × 3/2 characters.
	Binary bool
}

// Violation is one broken rule of a request.
type Violation struct {
	Field   string // the field, "" for the whole body
	Rule    string // required, type, maxlength, timestamp, decimal, enum, filelist, integer, base64, hexdigest, required-if, json
	Message string // fit to return to the peer
}

func (v Violation) String() string { return v.Message }

// Rule is a conditional rule of an interface (the spec's 说明 column):
// e.g. a 专票 invoice needs the address.
type Rule struct {
	Name  string // short description
	Check func(r *Request) []Violation
}

// Rule names used in Violation.Rule.
const (
	RuleRequired   = "required"
	RuleType       = "type"
	RuleMaxLength  = "maxlength"
	RuleTimestamp  = "timestamp"
	RuleDecimal    = "decimal"
	RuleEnum       = "enum"
	RuleFileList   = "filelist"
	RuleInteger    = "integer"
	RuleBase64     = "base64"
	RuleHexDigest  = "hexdigest"
	RuleRequiredIf = "required-if"
	RuleJSON       = "json"
	RuleControl    = "control"
)

// check applies the field's own rules to r and returns at most one
// violation: the first rule broken of required, length, format.
func (f *Field) check(r *Request) (Violation, bool) {
	v, present := r.Fields[f.Name]
	t := r.Type(f.Name)
	if !present || v == "" || t == JSONNull {
		if f.Required {
			return f.violation(RuleRequired, "field %q is required", f.Name), true
		}
		return Violation{}, false
	}
	// A number or boolean is checked as its literal text (signed as it
	// was sent): deployed peers send amounts and statuses unquoted.
	return f.checkValue(v)
}

// checkValue checks length and format of a present, non-empty string.
func (f *Field) checkValue(v string) (Violation, bool) {
	max := f.Max
	if f.Binary && max > 0 && len(v) > max && len(v)%2 == 0 && isHex(v) {
		max = max * 3 / 2
	}
	if max > 0 && len(v) > max { // fast path: a string never has more runes than bytes
		if n := utf8.RuneCountInString(v); n > max {
			return f.violation(RuleMaxLength, "field %q is longer than %d characters (%d)", f.Name, max, n), true
		}
	}
	// No field may hold NUL: PostgreSQL text cannot store it, so a request
	// carrying one could never succeed, however often it was retried.
	if i := strings.IndexByte(v, 0); i >= 0 {
		return f.violation(RuleControl, "field %q must not contain a NUL character (at byte %d)", f.Name, i), true
	}
	switch f.Kind {
	case Identifier:
		for i, r := range v {
			if unicode.IsControl(r) {
				return f.violation(RuleControl, "field %q must not contain control characters, got %U at byte %d", f.Name, r, i), true
			}
		}
	case Timestamp:
		if _, err := ParseTime(v); err != nil {
			return f.violation(RuleTimestamp, "field %q must be a time like %q (yyyy-MM-dd HH:mm:ss, UTC+8), got %q", f.Name, f.example("2024-03-15 09:30:00"), clip(v)), true
		}
	case Decimal:
		if !IsDecimal(v) {
			return f.violation(RuleDecimal, "field %q must be a decimal string like %q, got %q", f.Name, f.example("20000.00"), clip(v)), true
		}
	case Integer:
		if !isInteger(v) {
			return f.violation(RuleInteger, "field %q must be a non-negative decimal integer like %q, got %q", f.Name, f.example("1"), clip(v)), true
		}
	case Enum:
		for _, e := range f.Enum {
			if v == e.Value {
				return Violation{}, false
			}
		}
		return f.violation(RuleEnum, "field %q must be %s, got %q", f.Name, f.enumWords(), clip(v)), true
	case Base64:
		// Hex is the other encoding of binary fields (a peer's encoding
		// key).
		if validStdBase64(v) || len(v)%2 == 0 && isHex(v) {
			return Violation{}, false
		}
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			detail := ""
			if ce, ok := err.(base64.CorruptInputError); ok {
				detail = fmt.Sprintf(": bad data at offset %d", int64(ce))
			}
			return f.violation(RuleBase64, "field %q must be standard base64 (A-Z a-z 0-9 + /, padded with =)%s", f.Name, detail), true
		}
	case HexDigest:
		if !isHexDigest(v) {
			return f.violation(RuleHexDigest, "field %q must be a hex digest (64 hex characters for SM3, 32 for MD5), got %q", f.Name, clip(v)), true
		}
	case FileList:
		if msg := checkFileList(v); msg != "" {
			return f.violation(RuleFileList, "field %q %s", f.Name, msg), true
		}
	}
	return Violation{}, false
}

func (f *Field) violation(rule, format string, a ...any) Violation {
	return Violation{Field: f.Name, Rule: rule, Message: fmt.Sprintf(format, a...)}
}

func (f *Field) example(def string) string {
	if f.Example != "" {
		return f.Example
	}
	return def
}

// enumWords: "1" (密文) or "2" (明文)
func (f *Field) enumWords() string {
	parts := make([]string, len(f.Enum))
	for k, e := range f.Enum {
		parts[k] = strconv.Quote(e.Value)
		if e.Meaning != "" {
			parts[k] += " (" + e.Meaning + ")"
		}
	}
	switch len(parts) {
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " or " + parts[1]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// meaningOf returns the meaning of an enum value, "" if unknown.
func (f *Field) meaningOf(v string) string {
	for _, e := range f.Enum {
		if e.Value == v {
			return e.Meaning
		}
	}
	return ""
}

// IsDecimal reports whether s is a non-negative plain decimal as the
// profile wants for amounts and rates: one or more digits, optionally a
// dot and one or more digits. "20000.00", "0.005", "5" are; "-1", "+1",
// "1e3", ".5", "5.", " 5", "1,000", "5‰" are not.
func IsDecimal(s string) bool {
	if s == "" {
		return false
	}
	dot := -1
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && dot < 0:
			dot = k
		default:
			return false
		}
	}
	return dot != 0 && dot != len(s)-1
}

// isInteger: digits only, fitting an int.
func isInteger(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] < '0' || s[k] > '9' {
			return false
		}
	}
	_, err := strconv.Atoi(s)
	return s != "" && err == nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 && len(s) != 32 {
		return false
	}
	for k := 0; k < len(s); k++ {
		c := s[k]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// checkFileList returns "" when s is a JSON array of objects each with a
// non-empty string "fileurl", else the rest of a message after the field
// name.
func checkFileList(s string) string {
	const want = `must be a JSON array like [{"fileurl":"https://..."}]`
	var items []json.RawMessage
	if t := strings.TrimLeft(s, " \t\r\n"); !strings.HasPrefix(t, "[") || json.Unmarshal([]byte(s), &items) != nil {
		return fmt.Sprintf("%s, got %q", want, clip(s))
	}
	for k, it := range items {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(it, &obj); err != nil || obj == nil {
			return fmt.Sprintf("item %d must be an object with a non-empty string \"fileurl\", got %s", k+1, clip(string(it)))
		}
		var u string
		raw, ok := obj["fileurl"]
		if !ok {
			return fmt.Sprintf("item %d has no \"fileurl\"", k+1)
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			return fmt.Sprintf("item %d: \"fileurl\" must be a string, got %s", k+1, clip(string(raw)))
		}
		if strings.TrimSpace(u) == "" {
			return fmt.Sprintf("item %d: \"fileurl\" is empty", k+1)
		}
	}
	return ""
}

// clip shortens a value quoted in a message to 40 characters.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	n := 0
	for k := range s {
		if n == max {
			return s[:k] + "…"
		}
		n++
	}
	return s
}

// b64class is 0 for the characters of the standard base64 alphabet, 1
// for CR and LF (the decoder skips them), 2 for '=' and 3 for the rest.
var b64class = func() (t [256]uint8) {
	for i := range t {
		t[i] = 3
	}
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" {
		t[c] = 0
	}
	t['\r'], t['\n'], t['='] = 1, 1, 2
	return t
}()

// validStdBase64 reports, in one pass and without decoding, whether
// base64.StdEncoding.DecodeString accepts s: alphabet characters, CR and
// LF anywhere (the decoder skips them), one or two '=' only at the end of
// a whole number of 4-character quanta. When it says no, the caller
// decodes for the decoder's precise error (FuzzValidStdBase64 checks the
// two agree).
func validStdBase64(s string) bool {
	// The body: alphabet characters, eight at a time.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if b64class[s[i]]|b64class[s[i+1]]|b64class[s[i+2]]|b64class[s[i+3]]|
			b64class[s[i+4]]|b64class[s[i+5]]|b64class[s[i+6]]|b64class[s[i+7]] != 0 {
			break
		}
	}
	n, pad := i, 0
	for ; i < len(s); i++ {
		switch b64class[s[i]] {
		case 1:
			continue
		case 2:
			pad++
		case 0:
			if pad > 0 {
				return false
			}
		default:
			return false
		}
		n++
	}
	return n%4 == 0 && pad <= 2
}
