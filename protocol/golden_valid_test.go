package protocol

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidGolden checks, for each of the 14 + 2 interfaces, a realistic valid
// request: it parses, meets every rule, and its sign verifies; the sign in
// the file is cross-checked through a second path (the sign string built
// by refSignString, hashed by openssl).
func TestValidGolden(t *testing.T) {
	for _, i := range All {
		t.Run(string(i), func(t *testing.T) {
			name := filepath.Join("testdata", "valid", string(i)+".json")
			body := readFile(t, name)
			fields := decodeFlat(t, body)
			want := refSignString(fields, testSecret)
			if *update {
				sign := openssl(t, "sm3", "", want)
				var err error
				body, err = replaceSign(body, sign)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, name, body)
				fields = decodeFlat(t, body)
			}
			sent := fields["sign"]
			if len(sent) != 64 {
				t.Fatalf("%s has no sign (run go test -run TestValidGolden -update)", name)
			}
			if got := openssl(t, "sm3", "", want); got != sent {
				t.Fatalf("openssl dgst -sm3 of the sign string = %s, file has %s", got, sent)
			}

			r, err := ParseRequest(body)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if vs := Validate(i, r); len(vs) > 0 {
				t.Fatalf("Validate: %v", vs)
			}
			if got := SignString(r.Fields, testSecret); got != want {
				t.Fatalf("SignString:\n got %s\nwant %s", got, want)
			}
			if got := Sign(r.Fields, testSecret); got != sent {
				t.Fatalf("Sign = %s, want %s", got, sent)
			}
			if res := Verify(r, testSecret); !res.OK || res.Diagnosis() != "sign ok" {
				t.Fatalf("Verify: %+v %s", res, res.Diagnosis())
			}
			if res := Verify(r, testSecret+"x"); res.OK {
				t.Fatal("Verify with a wrong secret succeeded")
			}
			// Every field of the interface's struct decodes and encodes back.
			spec := SpecOf(i)
			for _, f := range spec.Fields {
				if _, ok := fields[f.Name]; !ok && f.Required {
					t.Errorf("valid file lacks required field %q", f.Name)
				}
			}
		})
	}
}

func replaceSign(body []byte, sign string) ([]byte, error) {
	for _, old := range []string{`"sign": ""`} {
		if bytes.Contains(body, []byte(old)) {
			return bytes.Replace(body, []byte(old), []byte(`"sign": "`+sign+`"`), 1), nil
		}
	}
	// re-sign: replace the existing 64-hex value
	k := bytes.Index(body, []byte(`"sign": "`))
	if k < 0 {
		return nil, errNoSign
	}
	start := k + len(`"sign": "`)
	end := bytes.IndexByte(body[start:], '"')
	return []byte(string(body[:start]) + sign + string(body[start+end:])), nil
}

type errString string

func (e errString) Error() string { return string(e) }

const errNoSign = errString("no \"sign\" field")

func TestValidGoldenStructs(t *testing.T) {
	// Decode into the interface's struct and Encode back: the same
	// non-empty fields, for every interface.
	for _, i := range All {
		body := readFile(t, filepath.Join("testdata", "valid", string(i)+".json"))
		r, err := ParseRequest(body)
		if err != nil {
			t.Fatal(err)
		}
		v := SpecOf(i).New()
		if err := Decode(r, v); err != nil {
			t.Fatal(err)
		}
		enc := Encode(v)
		for _, f := range SpecOf(i).Fields {
			if got, want := enc[f.Name], r.Get(f.Name); got != want {
				t.Errorf("%s: %s round trip = %q, want %q", i, f.Name, got, want)
			}
		}
		for k := range enc {
			if SpecOf(i).Field(k) == nil {
				t.Errorf("%s: struct has field %q not in the spec table", i, k)
			}
		}
		if strings.Contains(string(body), "jbrname") && enc["jbrname"] != "" {
			t.Errorf("%s: extra field leaked into the struct", i)
		}
	}
}
