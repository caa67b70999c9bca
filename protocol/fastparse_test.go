package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"
)

// parseFull is ParseRequest without the fast path.
func parseFull(body []byte) (*Request, error) {
	saved := fastParse
	fastParse = false
	defer func() { fastParse = saved }()
	return ParseRequest(body)
}

func sameRequest(t *testing.T, body []byte, fast, full *Request) {
	t.Helper()
	if !slices.Equal(fast.Keys, full.Keys) || !maps.Equal(fast.Fields, full.Fields) || !maps.Equal(fast.Types, full.Types) ||
		!bytes.Equal(fast.Raw, full.Raw) {
		t.Fatalf("%q:\nfast keys %q fields %q types %v\nfull keys %q fields %q types %v", body, fast.Keys, fast.Fields, fast.Types, full.Keys, full.Fields, full.Types)
	}
	if len(fast.raw) != len(full.raw) {
		t.Fatalf("%q: raw values %d vs %d", body, len(fast.raw), len(full.raw))
	}
	for k, v := range full.raw {
		if !bytes.Equal(fast.raw[k], v) {
			t.Fatalf("%q: raw %q: fast %q, full %q", body, k, fast.raw[k], v)
		}
	}
}

func TestParseFlatFast(t *testing.T) {
	tests := []struct {
		body string
		fast bool // whether the fast path takes it
	}{
		{`{}`, true},
		{` { } `, true},
		{"\xef\xbb\xbf{\"a\":\"b\"}", true},
		{`{"appkey":"k","sign":"0a","baohanfile":"QUJD+/=="}`, true},
		{"{\n\t\"a\" :\r\n \"中文 value\" ,\"b\":\"\"\n}\n", true},
		{`{"a":"\u4e2d"}`, false},    // escape
		{`{"a":"x\"y"}`, false},      // escaped quote
		{`{"a":1}`, false},           // number
		{`{"a":null}`, false},        // null
		{`{"a":"b","a":"c"}`, false}, // duplicate: the full parser says so
		{`{"":"b"}`, false},          // empty key
		{`{"a":"b",}`, false},        // trailing comma
		{`{"a":"b"} x`, false},       // data after
		{`{"a":"b"`, false},          // truncated
		{"{\"a\":\"b\x01\"}", false}, // control character
		{`[]`, false},                // not an object
		{`{"a":{"b":"c"}}`, false},   // nested
		{`{"a" "b"}`, false},         // no colon
		{`{"a":"b" "c":"d"}`, false}, // no comma
	}
	for _, tt := range tests {
		body := []byte(tt.body)
		fast := parseFlatFast(body)
		if (fast != nil) != tt.fast {
			t.Errorf("%q: fast path took it: %v, want %v", tt.body, fast != nil, tt.fast)
			continue
		}
		full, err := parseFull(body)
		if fast != nil {
			if err != nil {
				t.Fatalf("%q: fast path accepted what the full parser refuses: %v", tt.body, err)
			}
			sameRequest(t, body, fast, full)
		}
		got, gerr := ParseRequest(body)
		if (gerr == nil) != (err == nil) || gerr != nil && gerr.Error() != err.Error() {
			t.Errorf("%q: ParseRequest error %v, full parser %v", tt.body, gerr, err)
		}
		if gerr == nil {
			sameRequest(t, body, got, full)
		}
	}
}

// FuzzParseRequestFast: whatever the fast path accepts, the full parser
// accepts with the same keys, values and raw texts.
func FuzzParseRequestFast(f *testing.F) {
	addValidSeeds(f)
	for _, s := range []string{`{"a":"b"}`, ` {"a" : "b" , "c":""} `, `{"a":"\/"}`, "{\"a\":\"\x7f\"}", `{"a":"b"}}`, `{,}`, `{"a":"b",,"c":"d"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return // ParseRequest refuses before either path
		}
		fast := parseFlatFast(body)
		if fast == nil {
			return
		}
		full, err := parseFull(body)
		if err != nil {
			t.Fatalf("%q: fast path accepted, full parser: %v", body, err)
		}
		sameRequest(t, body, fast, full)
	})
}

// FuzzSignStreaming: Sign is SM3 of SignString, whatever the fields.
func FuzzSignStreaming(f *testing.F) {
	f.Add("appkey", "k", "baohanfile", strings.Repeat("QUJD", 20000), "s3cret")
	f.Add("", "", "sign", "x", "")
	f.Add("b", "中文", "a", "&=", "秘密")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, secret string) {
		fields := map[string]string{k1: v1, k2: v2, "timestamp": "2026-11-27 12:00:00"}
		d := sm3.Sum([]byte(SignString(fields, secret)))
		if got, want := Sign(fields, secret), hex.EncodeToString(d[:]); got != want {
			t.Fatalf("Sign %s, SM3(SignString) %s", got, want)
		}
	})
}

func TestSignStringUnchanged(t *testing.T) {
	// The string of the profile, written out by hand.
	fields := map[string]string{"b": "2", "a": "1", "Z": "0", "empty": "", "sign": "x"}
	if got, want := SignString(fields, "s"), "Z=0&a=1&b=2&appsecret=s"; got != want {
		t.Fatalf("SignString %q, want %q", got, want)
	}
	// A body encoded by encoding/json parses the same both ways.
	b, _ := json.Marshal(map[string]string{"a": "<&>", "b": "\u2028"})
	fast := parseFlatFast(b)
	full, err := parseFull(b)
	if err != nil {
		t.Fatal(err)
	}
	if fast != nil {
		sameRequest(t, b, fast, full)
	}
}

func BenchmarkParseRequestUploadFull(b *testing.B) {
	body := MarshalFields(map[string]string{"appkey": "k", "baohanfile": base64Of(512 << 10)})
	fastParse = false
	defer func() { fastParse = true }()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignUpload(b *testing.B) {
	fields := map[string]string{"appkey": "k", "applyno": "BH20261127K7M2Q9XH4T3A", "baohanfile": base64Of(512 << 10)}
	b.SetBytes(int64(len(fields["baohanfile"])))
	b.ReportAllocs()
	for b.Loop() {
		Sign(fields, "secret")
	}
}

// FuzzMarshalFields: the direct encoding is byte for byte encoding/json's.
func FuzzMarshalFields(f *testing.F) {
	f.Add("appkey", "k", "baohanfile", "QUJD+/==", "a")
	f.Add("a", "\"quoted\"", "b", "back\\slash", "")
	f.Add("中", "文", "x", "\u2028", "<&>")
	f.Add("", "", "k", "\x7f\x01", "~")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, v3 string) {
		fields := map[string]string{k1: v1, k2: v2, "z": v3}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(fields); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimRight(buf.Bytes(), "\n")
		if got := MarshalFields(fields); !bytes.Equal(got, want) {
			t.Fatalf("MarshalFields %s, encoding/json %s", got, want)
		}
	})
}

func BenchmarkMarshalFieldsUpload(b *testing.B) {
	fields := map[string]string{"appkey": "k", "applyno": "BH20261127K7M2Q9XH4T3A", "baohanfile": base64Of(512 << 10), "sign": strings.Repeat("a", 64)}
	b.SetBytes(int64(len(fields["baohanfile"])))
	b.ReportAllocs()
	for b.Loop() {
		MarshalFields(fields)
	}
}
