package protocol

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func addValidSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "valid", "*.json"))
	more, _ := filepath.Glob(filepath.Join("testdata", "diagnose", "*.json"))
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{``, `{}`, `[]`, `{"a":1}`, `{"a":{"b":[]}}`, "{\"a\":\"\xff\"}", `{"a":"b","a":"c"}`, `{"a":null,"b":true,"c":-1e400}`, "\xef\xbb\xbf{}"} {
		f.Add([]byte(s))
	}
}

// FuzzParseRequest: never panics; on success the result is consistent
// and a re-encoding of string-only fields parses back to the same values.
func FuzzParseRequest(f *testing.F) {
	addValidSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			if r != nil {
				t.Fatal("result and error")
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatal("accepted invalid UTF-8")
		}
		if len(r.Keys) != len(r.Fields) {
			t.Fatalf("%d keys, %d fields", len(r.Keys), len(r.Fields))
		}
		for _, k := range r.Keys {
			if k == "" {
				t.Fatal("empty key accepted")
			}
			if _, ok := r.Fields[k]; !ok {
				t.Fatalf("key %q has no field", k)
			}
		}
		if len(r.Types) == 0 {
			back, err := ParseRequest(MarshalFields(r.Fields))
			if err != nil {
				t.Fatalf("re-encoded body does not parse: %v", err)
			}
			for k, v := range r.Fields {
				if back.Fields[k] != v {
					t.Fatalf("%q: %q became %q", k, v, back.Fields[k])
				}
			}
		}
	})
}

// FuzzVerify: never panics; a request signed with Sign verifies, and one
// with any other secret does not.
func FuzzVerify(f *testing.F) {
	addValidSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			return
		}
		res := Verify(r, testSecret) // any sign, including garbage
		if res.OK != strings.EqualFold(r.Get("sign"), res.Expected) {
			t.Fatalf("OK = %v for sign %q, expected %s", res.OK, r.Get("sign"), res.Expected)
		}
		if d := res.Diagnosis(); d == "" || strings.Contains(d, "\n") {
			t.Fatalf("diagnosis %q", d)
		}
		r.Fields["sign"] = Sign(r.Fields, testSecret)
		if !Verify(r, testSecret).OK {
			t.Fatal("own sign does not verify")
		}
		if Verify(r, testSecret+"!").OK {
			t.Fatal("verifies with another secret")
		}
	})
}

// FuzzValidate: never panics for any interface; every violation names a
// rule and has a one-line message.
func FuzzValidate(f *testing.F) {
	addValidSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			return
		}
		for _, i := range All {
			for _, v := range Validate(i, r) {
				if v.Rule == "" || v.Message == "" || strings.Contains(v.Message, "\n") {
					t.Fatalf("%s: bad violation %+v", i, v)
				}
			}
		}
		ValidateApplyData(body)
	})
}
