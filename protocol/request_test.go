package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
		offset           int64
	}{
		{"empty", ``, `empty body: expected one flat JSON object`, 0},
		{"blank", " \r\n\t", `empty body: expected one flat JSON object`, 0},
		{"not utf-8", "{\"a\":\"\xff\"}", `body is not valid UTF-8: invalid byte 0xff at offset 6`, 6},
		{"gbk", "{\"a\":\"\xd6\xd0\xb9\xfa\"}", `body is not valid UTF-8: invalid byte 0xd6 at offset 6`, 6},
		{"truncated utf-8", "{\"a\":\"\xe4\xb8\"}", `body is not valid UTF-8: invalid byte 0xe4 at offset 6`, 6},
		{"not json", `appkey=x&sign=y`, `body is not valid JSON: invalid character 'a' looking for beginning of value at offset 1`, 1},
		{"array", `[{"a":"b"}]`, `body is a JSON array, expected one flat JSON object`, 0},
		{"string", `"{\"a\":\"b\"}"`, `body is a JSON string, expected one flat JSON object`, 0},
		{"number", `42`, `body is a JSON number, expected one flat JSON object`, 0},
		{"null", `null`, `body is JSON null, expected one flat JSON object`, 0},
		{"bool", `true`, `body is a JSON boolean, expected one flat JSON object`, 0},
		{"duplicate", `{"applyno":"a","sign":"x","applyno":"b"}`, `duplicate key "applyno" in the JSON object at offset 26`, 26},
		{"duplicate escaped", `{"applyno":"a","\u0061pplyno":"b"}`, `duplicate key "applyno" in the JSON object at offset 15`, 15},
		{"nested object", `{"a":"b","data":{"applyno":"x"}}`, `field "data" is a nested JSON object; values must be strings (a list is sent as a JSON string)`, 16},
		{"nested array", `{"filelist":[{"fileurl":"x"}]}`, `field "filelist" is a JSON array; values must be strings (a list is sent as a JSON string)`, 12},
		{"empty key", `{"":"x"}`, `empty key in the JSON object at offset 1`, 1},
		{"unterminated", `{"a":"b"`, `body is not valid JSON: unexpected end of input at offset 8`, 8},
		{"unterminated string", `{"a":"b`, `body is not valid JSON: unexpected end of input at offset 5`, 5},
		{"missing colon", `{"a" "b"}`, `body is not valid JSON: invalid character '"' after object key at offset 5`, 5},
		{"trailing comma", `{"a":"b",}`, `body is not valid JSON: invalid character '}' looking for beginning of object key string at offset 9`, 9},
		{"single quotes", `{'a':'b'}`, `body is not valid JSON: invalid character '\'' at offset 1`, 1},
		{"two objects", `{"a":"b"}{"c":"d"}`, `unexpected data after the JSON object at offset 9`, 9},
		{"garbage after", "{\"a\":\"b\"}\n\nx", `unexpected data after the JSON object at offset 11`, 11},
		{"bad escape", `{"a":"\x"}`, `body is not valid JSON: invalid character 'x' in string escape code at offset 6`, 6},
		{"control char", "{\"a\":\"b\tc\"}", `body is not valid JSON: invalid character '\t' in string literal at offset 6`, 6},
		{"bom then array", "\xef\xbb\xbf[]", `body is a JSON array, expected one flat JSON object`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseRequest = %v, want error", r.Fields)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, want *ParseError", err)
			}
			if pe.Offset != tt.offset {
				t.Errorf("offset = %d, want %d", pe.Offset, tt.offset)
			}
		})
	}
}

func TestParseRequestValues(t *testing.T) {
	body := "\xef\xbb\xbf {\n \"cost\" : 20000.00 , \"rate\":5E-3,\"ok\":true,\"no\":false,\"n\":null," +
		`"s":"\u4e2d\u6587\/\"q\"","e":"","url":"https://a.cn/x?a=1&b=2","jbrname":"王小明"}`
	r, err := ParseRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	wantFields := map[string]string{
		"cost": "20000.00", "rate": "5E-3", "ok": "true", "no": "false", "n": "",
		"s": `中文/"q"`, "e": "", "url": "https://a.cn/x?a=1&b=2", "jbrname": "王小明",
	}
	if len(r.Fields) != len(wantFields) {
		t.Fatalf("fields = %v", r.Fields)
	}
	for k, v := range wantFields {
		if r.Fields[k] != v {
			t.Errorf("%s = %q, want %q", k, r.Fields[k], v)
		}
	}
	if got := strings.Join(r.Keys, ","); got != "cost,rate,ok,no,n,s,e,url,jbrname" {
		t.Errorf("keys = %s", got)
	}
	wantTypes := map[string]JSONType{"cost": JSONNumber, "rate": JSONNumber, "ok": JSONBoolean, "no": JSONBoolean, "n": JSONNull, "s": JSONString, "jbrname": JSONString, "absent": JSONString}
	for k, v := range wantTypes {
		if r.Type(k) != v {
			t.Errorf("Type(%s) = %s, want %s", k, r.Type(k), v)
		}
	}
	wantRaw := map[string]string{"cost": "20000.00", "s": `\u4e2d\u6587\/\"q\"`, "n": "null", "ok": "true", "jbrname": "王小明", "e": ""}
	for k, v := range wantRaw {
		if string(r.raw[k]) != v {
			t.Errorf("raw %s = %q, want %q", k, r.raw[k], v)
		}
	}
	if !bytes.Equal(r.Raw, []byte(body)) {
		t.Error("Raw is not the body as received")
	}
	if !r.Has("e") || !r.Has("n") || r.Has("absent") {
		t.Error("Has")
	}
	if r.Get("absent") != "" {
		t.Error("Get of an absent field")
	}
}

func TestParseRequestHostile(t *testing.T) {
	t.Run("10 MB value", func(t *testing.T) {
		big := strings.Repeat("A", 10<<20)
		r, err := ParseRequest([]byte(`{"baohanfile":"` + big + `"}`))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Get("baohanfile")) != 10<<20 {
			t.Fatal("value cut")
		}
	})
	t.Run("10 MB garbage", func(t *testing.T) {
		_, err := ParseRequest(bytes.Repeat([]byte("x"), 10<<20))
		if err == nil || !strings.HasPrefix(err.Error(), "body is not valid JSON") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("10 MB unterminated", func(t *testing.T) {
		_, err := ParseRequest([]byte(`{"a":"` + strings.Repeat("b", 10<<20)))
		if err == nil || !strings.Contains(err.Error(), "unexpected end of input") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("deep nesting value", func(t *testing.T) {
		body := `{"a":` + strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20) + `}`
		_, err := ParseRequest([]byte(body))
		if err == nil || err.Error() != `field "a" is a JSON array; values must be strings (a list is sent as a JSON string)` {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("deep nesting body", func(t *testing.T) {
		_, err := ParseRequest([]byte(strings.Repeat("[", 1<<20)))
		if err == nil || err.Error() != `body is a JSON array, expected one flat JSON object` {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("many keys", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < 100000; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i) + `":"v"`)
		}
		b.WriteString("}")
		r, err := ParseRequest([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Keys) != 100000 {
			t.Fatalf("%d keys", len(r.Keys))
		}
	})
	t.Run("NUL and invalid UTF-8 in a key", func(t *testing.T) {
		_, err := ParseRequest([]byte("{\"a\xc0\":\"b\"}"))
		if err == nil || err.Error() != "body is not valid UTF-8: invalid byte 0xc0 at offset 3" {
			t.Fatalf("err = %v", err)
		}
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestNewRequest(t *testing.T) {
	r := NewRequest(map[string]string{"b": "2", "a": "<&>", "c": ""})
	if string(r.Raw) != `{"a":"<&>","b":"2","c":""}` {
		t.Fatalf("Raw = %s", r.Raw)
	}
	if strings.Join(r.Keys, ",") != "a,b,c" {
		t.Fatalf("Keys = %v", r.Keys)
	}
	p, err := ParseRequest(r.Raw)
	if err != nil || p.Get("a") != "<&>" {
		t.Fatalf("round trip: %v %v", p, err)
	}
}

func TestBusinessFields(t *testing.T) {
	r, err := ParseRequest([]byte(`{"appkey":"K","timestamp":"2024-03-15 09:30:00","sign":"ab","applyno":"A1","baohanno":"","repaystatus":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := r.BusinessFields()
	if len(got) != 3 || got["applyno"] != "A1" || got["repaystatus"] != "1" || got["baohanno"] != "" {
		t.Fatalf("BusinessFields = %v", got)
	}
	if _, ok := got["baohanno"]; !ok {
		t.Error("an empty field is a field: two requests differing in it are not the same")
	}
}
