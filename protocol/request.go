package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// JSONType is the JSON type a value was sent as. The spec wants strings;
// sloppy peers send numbers and booleans, which are kept (as their literal
// text) so that the sign can still be checked, and flagged by Validate.
type JSONType string

const (
	JSONString  JSONType = "string"
	JSONNumber  JSONType = "number"
	JSONBoolean JSONType = "boolean"
	JSONNull    JSONType = "null"
)

// Request is one received request: a flat JSON object, values as sent.
type Request struct {
	// Raw is the body exactly as received.
	Raw []byte
	// Fields maps each key to its value: for a JSON string the decoded
	// string, for a number or boolean its literal text ("20000.00",
	// "true"), for null "".
	Fields map[string]string
	// Keys lists the keys in the order they were sent.
	Keys []string
	// Types holds the JSON type of each value that was not a string (nil
	// or a missing key means string).
	Types map[string]JSONType

	// raw holds each value's text as it appears in the body (for a
	// string, between the quotes, escapes undecoded), for Diagnose.
	raw map[string][]byte
}

// Get returns the value of the named field, "" when absent.
func (r *Request) Get(name string) string { return r.Fields[name] }

// Has reports whether the field was sent (even empty or null).
func (r *Request) Has(name string) bool {
	_, ok := r.Fields[name]
	return ok
}

// Type returns the JSON type the field was sent as (JSONString when
// absent).
func (r *Request) Type(name string) JSONType {
	if t, ok := r.Types[name]; ok {
		return t
	}
	return JSONString
}

// NewRequest builds a Request from string fields, as if they had been
// received as a JSON object with those string values (Keys sorted). Raw is
// the compact JSON encoding.
func NewRequest(fields map[string]string) *Request {
	r := &Request{Fields: make(map[string]string, len(fields)), Keys: sortedKeys(fields)}
	for k, v := range fields {
		r.Fields[k] = v
	}
	r.Raw = MarshalFields(fields)
	return r
}

// ParseError is why a body is not a flat JSON object of strings.
type ParseError struct {
	Msg    string
	Offset int64 // byte offset in the body where the problem is, -1 if none
}

func (e *ParseError) Error() string { return e.Msg }

func parseErr(off int64, format string, a ...any) *ParseError {
	return &ParseError{Msg: fmt.Sprintf(format, a...), Offset: off}
}

// ErrEmptyBody is returned by ParseRequest for an empty (or all-blank) body.
var ErrEmptyBody = &ParseError{Msg: "empty body: expected one flat JSON object", Offset: 0}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ParseRequest parses body as one flat JSON object whose values are
// strings. It refuses, with a precise message, an empty body, a body that
// is not UTF-8 or not JSON, a top-level value that is not an object, a
// duplicate key, an empty key, a nested object or array, and data after
// the object. Numbers, booleans and null are kept (see Request.Types); a
// leading UTF-8 byte order mark is tolerated.
func ParseRequest(body []byte) (*Request, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, ErrEmptyBody
	}
	if !utf8.Valid(body) {
		off := badUTF8Offset(body)
		return nil, parseErr(int64(off), "body is not valid UTF-8: invalid byte 0x%02x at offset %d", body[off], off)
	}
	if fastParse {
		if r := parseFlatFast(body); r != nil {
			return r, nil
		}
	}
	start := 0
	if bytes.HasPrefix(body, utf8BOM) {
		start = len(utf8BOM)
	}
	text := body[start:]
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	base := int64(start)

	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxErr(err, base, dec)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, parseErr(base, "body is %s, expected one flat JSON object", describeToken(tok))
	}
	r := &Request{Raw: body, Fields: map[string]string{}, raw: map[string][]byte{}}
	for dec.More() {
		keyStart := dec.InputOffset()
		keyStart += int64(len(text[keyStart:]) - len(bytes.TrimLeft(text[keyStart:], " \t\r\n,")))
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxErr(err, base, dec)
		}
		key, ok := tok.(string)
		if !ok { // cannot happen: the decoder only yields strings as keys
			return nil, parseErr(base+dec.InputOffset(), "expected a key at offset %d", base+dec.InputOffset())
		}
		keyEnd := dec.InputOffset()
		if key == "" {
			return nil, parseErr(base+keyStart, "empty key in the JSON object at offset %d", base+keyStart)
		}
		if _, dup := r.Fields[key]; dup {
			return nil, parseErr(base+keyStart, "duplicate key %q in the JSON object at offset %d", key, base+keyStart)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, syntaxErr(err, base, dec)
		}
		valEnd := dec.InputOffset()
		var val string
		typ := JSONString
		switch v := tok.(type) {
		case string:
			val = v
		case json.Number:
			val, typ = string(v), JSONNumber
		case bool:
			val, typ = "false", JSONBoolean
			if v {
				val = "true"
			}
		case nil:
			typ = JSONNull
		case json.Delim:
			what := "a nested JSON object"
			if v == '[' {
				what = "a JSON array"
			}
			return nil, parseErr(base+valEnd-1, "field %q is %s; values must be strings (a list is sent as a JSON string)", key, what)
		}
		r.Keys = append(r.Keys, key)
		r.Fields[key] = val
		if typ != JSONString {
			if r.Types == nil {
				r.Types = map[string]JSONType{}
			}
			r.Types[key] = typ
		}
		r.raw[key] = rawValue(text[keyEnd:valEnd], typ)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, syntaxErr(err, base, dec)
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(text[end:], " \t\r\n"); len(rest) > 0 {
		off := base + int64(len(text)-len(rest))
		return nil, parseErr(off, "unexpected data after the JSON object at offset %d", off)
	}
	return r, nil
}

// rawValue cuts the value's own text out of `  :  "value"` (the bytes
// between the end of the key and the end of the value).
func rawValue(b []byte, typ JSONType) []byte {
	b = bytes.TrimLeft(b, " \t\r\n:")
	if typ == JSONString && len(b) >= 2 {
		b = b[1 : len(b)-1]
	}
	return b
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "a JSON array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a JSON string"
	case json.Number:
		return "a JSON number"
	case bool:
		return "a JSON boolean"
	case nil:
		return "JSON null"
	}
	return fmt.Sprintf("%T", tok)
}

func syntaxErr(err error, base int64, dec *json.Decoder) *ParseError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return parseErr(base+se.Offset, "body is not valid JSON: %s at offset %d", se.Error(), base+se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		off := base + dec.InputOffset()
		return parseErr(off, "body is not valid JSON: unexpected end of input at offset %d", off)
	}
	return parseErr(-1, "body is not valid JSON: %v", err)
}

func badUTF8Offset(b []byte) int {
	for off := 0; off < len(b); {
		r, n := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && n <= 1 {
			return off
		}
		off += n
	}
	return 0
}

// BusinessFields returns the request's fields without appkey, timestamp
// and sign: what makes two requests the same request, whenever and
// however often they were signed.
func (r *Request) BusinessFields() map[string]string {
	out := make(map[string]string, len(r.Fields))
	for k, v := range r.Fields {
		switch k {
		case "appkey", "timestamp", SignField:
			continue
		}
		out[k] = v
	}
	return out
}
