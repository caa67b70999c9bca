package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Decode copies r's fields into the string fields of the struct v points
// to, by json tag (a field without a tag uses its name lowercased). Fields
// of r the struct does not have are ignored (they stay in r.Fields).
func Decode(r *Request, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("protocol.Decode: need a pointer to a struct, got %T", v)
	}
	rv = rv.Elem()
	rt := rv.Type()
	for k := 0; k < rt.NumField(); k++ {
		sf := rt.Field(k)
		name, ok := wireName(sf)
		if !ok {
			continue
		}
		if sf.Type.Kind() != reflect.String {
			return fmt.Errorf("protocol.Decode: %s.%s is %s, fields must be strings", rt.Name(), sf.Name, sf.Type)
		}
		if val, ok := r.Fields[name]; ok {
			rv.Field(k).SetString(val)
		}
	}
	return nil
}

// Encode returns the non-empty string fields of a struct (or pointer to
// one) by json tag, or a copy of a map[string]string without its empty
// values. It panics on other types: that is a programming error.
func Encode(v any) map[string]string {
	if m, ok := v.(map[string]string); ok {
		out := make(map[string]string, len(m))
		for k, val := range m {
			if val != "" {
				out[k] = val
			}
		}
		return out
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		panic(fmt.Sprintf("protocol.Encode: need a struct, got %T", v))
	}
	rt := rv.Type()
	out := map[string]string{}
	for k := 0; k < rt.NumField(); k++ {
		sf := rt.Field(k)
		name, ok := wireName(sf)
		if !ok || sf.Type.Kind() != reflect.String {
			continue
		}
		if s := rv.Field(k).String(); s != "" {
			out[name] = s
		}
	}
	return out
}

func wireName(sf reflect.StructField) (string, bool) {
	if !sf.IsExported() {
		return "", false
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(sf.Name)
	}
	return name, true
}

// MarshalFields encodes fields as one compact JSON object, keys sorted
// byte-wise (as encoding/json does for maps), HTML characters not escaped
// (URLs in invoiceurl and filelist stay readable): the body a client sends.
func MarshalFields(fields map[string]string) []byte {
	if fields == nil {
		fields = map[string]string{}
	}
	if b := marshalPlainFields(fields); b != nil {
		return b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(fields) // a map of strings always encodes
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// marshalPlainFields writes the object directly when no key or value
// needs escaping (printable ASCII without quote or backslash: base64
// chunks, numbers, times, hex signs; encoding/json would copy a 700 KB
// chunk through its escaper), and returns nil otherwise. The bytes are
// those encoding/json gives (FuzzMarshalFields).
func marshalPlainFields(fields map[string]string) []byte {
	n := 2
	for k, v := range fields {
		if !plainJSON(k) || !plainJSON(v) {
			return nil
		}
		n += len(k) + len(v) + 6
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range sortedKeys(fields) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':', '"')
		b = append(b, fields[k]...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// plainJSON reports whether s is printable ASCII without '"' and '\\'.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
