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
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(fields) // a map of strings always encodes
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
