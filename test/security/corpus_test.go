package security

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// badCase is one hostile request and what its answer must say.
type badCase struct {
	name   string
	iface  protocol.Interface
	body   []byte
	length int64 // >0: send a body of this many bytes, declared in Content-Length, without building it
	status int   // expected HTTP status (0: 200)
	want   string
}

// Values that look like SQL, paths, shell or markup.
var evilValues = []string{
	"1' OR '1'='1",
	"'; DROP TABLE plat_applications; --",
	`1" OR "1"="1`,
	"../../etc/passwd",
	"..\\..\\windows\\win.ini",
	"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
	"/etc/passwd",
	"a\x00b",
	"$(touch /tmp/pwned)",
	"<script>alert(1)</script>",
	"BH' UNION SELECT key_sealed FROM plat_sections --",
	"\u202e\u0000",
}

// base returns the golden valid request of i (protocol/testdata/valid)
// as fields, for appkey, stamped now; the institution's interfaces get
// platformcode.
func base(i protocol.Interface, appkey, platformCode string, now time.Time) map[string]string {
	b, err := os.ReadFile(filepath.Join("..", "..", "protocol", "testdata", "valid", string(i)+".json"))
	if err != nil {
		panic(err)
	}
	var f map[string]string
	if err := json.Unmarshal(b, &f); err != nil {
		panic(fmt.Sprintf("%s: %v", i, err))
	}
	delete(f, "sign")
	f["appkey"] = appkey
	f["timestamp"] = protocol.FormatTime(now)
	if _, ok := f["platformcode"]; ok {
		f["platformcode"] = platformCode
	}
	return f
}

// signedBody marshals fields with their sign.
func signedBody(f map[string]string, secret string) []byte {
	g := map[string]string{}
	for k, v := range f {
		g[k] = v
	}
	delete(g, "sign")
	g["sign"] = protocol.Sign(g, secret)
	return protocol.MarshalFields(g)
}

// rawBody writes an object whose values are raw JSON texts, keys sorted.
func rawBody(f map[string]string) []byte {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for n, k := range keys {
		if n > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		b.WriteString(f[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func quoted(f map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range f {
		j, _ := json.Marshal(v)
		out[k] = string(j)
	}
	return out
}

func with(f map[string]string, kv ...string) map[string]string {
	g := map[string]string{}
	for k, v := range f {
		g[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		g[kv[i]] = kv[i+1]
	}
	return g
}

func without(f map[string]string, k string) map[string]string {
	g := with(f)
	delete(g, k)
	return g
}

// corpus generates the hostile requests for every interface served by
// side. Signed cases carry a valid sign, so the answer must be about
// the field, not the sign.
func corpus(side protocol.Side, appkey, secret, platformCode string, now time.Time) []badCase {
	var cs []badCase
	seq := 0
	stamp := func(f map[string]string) map[string]string {
		// a distinct timestamp per request: no two signs alike, no replay
		seq++
		return with(f, "timestamp", protocol.FormatTime(now.Add(-time.Duration(seq%500)*time.Second)))
	}
	for _, i := range protocol.ServedBySide(side) {
		spec := protocol.SpecOf(i)
		f := base(i, appkey, platformCode, now)
		add := func(name string, body []byte, want string) {
			cs = append(cs, badCase{name: string(i) + "/" + name, iface: i, body: body, want: want})
		}
		for _, fd := range spec.Fields {
			if fd.Required {
				if fd.Name == "sign" {
					add("missing sign", protocol.MarshalFields(stamp(f)), `"sign"`)
					continue
				}
				if fd.Name == "timestamp" { // stamp would put it back
					add("missing timestamp", signedBody(without(f, fd.Name), secret), fd.Name)
					add("empty timestamp", signedBody(with(f, fd.Name, ""), secret), fd.Name)
				} else {
					add("missing "+fd.Name, signedBody(stamp(without(f, fd.Name)), secret), fd.Name)
					add("empty "+fd.Name, signedBody(stamp(with(f, fd.Name, "")), secret), fd.Name)
				}
			}
			if fd.Max > 0 && fd.Name != "sign" && fd.Name != "appkey" {
				g := with(f, fd.Name, strings.Repeat("长", fd.Max+1))
				if fd.Name != "timestamp" {
					g = stamp(g)
				}
				add("overlong "+fd.Name, signedBody(g, secret), fd.Name)
			}
			// Numbers and booleans are accepted as their text (docs/PROFILE.md,
			// Dialects), checked by the field's rules like any string:
			// only nested values are refused for their type.
			for _, typ := range []string{"[]", `["x"]`, "{}", `{"a":"b"}`} {
				if fd.Name == "sign" {
					continue
				}
				g := stamp(f)
				// signed over the value as sent (a number's text), as a
				// peer that sends numbers would sign it
				sf := with(g, fd.Name, typ)
				if fd.Name == "timestamp" {
					sf = with(f, fd.Name, typ)
					g = f
				}
				raw := quoted(g)
				raw[fd.Name] = typ
				raw["sign"] = `"` + protocol.Sign(sf, secret) + `"`
				add("type "+fd.Name+"="+typ, rawBody(raw), fd.Name)
			}
			// non-UTF-8 bytes in the value (invalid JSON text, too)
			g := quoted(stamp(f))
			g[fd.Name] = "\"abc\xff\xfe\x80\""
			add("non-utf8 "+fd.Name, rawBody(g), "UTF-8")
		}
		for _, field := range []string{"applyno", "baohanno"} {
			if spec.Field(field) == nil {
				continue
			}
			if i == protocol.BaohanApply {
				continue // a new applyno: any text is accepted (TestHostileIdentifiers); NUL: test/issues
			}
			for n, v := range evilValues {
				// The applyno is unknown (the golden one, or the evil one):
				// the answer must say so.
				want := "applyno|baohanno"
				if strings.ContainsRune(v, 0) && field == "applyno" {
					want = "" // NUL: any precise refusal (the rule may name the byte, not the field)
				}
				add(fmt.Sprintf("evil %s %d", field, n), signedBody(stamp(with(f, field, v)), secret), want)
			}
		}
		// whole-body shapes
		add("empty body", nil, "")
		add("whitespace", []byte(" \n\t "), "")
		add("not json", []byte("applyno=1&sign=2"), "")
		add("array", []byte(`[{"appkey":"x"}]`), "")
		add("string", []byte(`"appkey"`), "")
		add("null", []byte(`null`), "")
		add("truncated", signedBody(stamp(f), secret)[:40], "")
		add("trailing garbage", append(signedBody(stamp(f), secret), []byte(`{"x":1}`)...), "")
		add("duplicate key", []byte(strings.Replace(string(signedBody(stamp(f), secret)), `{`, `{"appkey":"other",`, 1)), "")
		add("deeply nested object", []byte(strings.Repeat(`{"a":`, 100000)+`"x"`+strings.Repeat(`}`, 100000)), "")
		add("deeply nested array", []byte(strings.Repeat(`[`, 100000)+strings.Repeat(`]`, 100000)), "")
		add("nested value", []byte(`{"appkey":{"a":{"b":[1,2,{"c":null}]}}}`), "appkey")
		many := quoted(stamp(f))
		for k := 0; k < 20000; k++ {
			many[fmt.Sprintf("x%05d", k)] = `"y"`
		}
		add("20000 fields", rawBody(many), "")
		add("long key", rawBody(with(quoted(stamp(f)), strings.Repeat("k", 100000), `"v"`)), "")
		add("escaped NUL key", []byte(`{"app\u0000key":"x","sign":"y"}`), "")
		add("lone surrogate", rawBody(with(quoted(stamp(f)), "applyno", `"\ud800"`)), "")
		add("unsigned", protocol.MarshalFields(stamp(without(f, "sign"))), "sign")
		add("wrong secret", signedBody(stamp(f), "not-the-secret"), "sign mismatch")
		add("unknown appkey", signedBody(stamp(with(f, "appkey", "1' OR '1'='1")), secret), "appkey")
		add("stale timestamp", signedBody(with(f, "timestamp", "2001-01-01 00:00:00"), secret), "timestamp")
		add("bad timestamp", signedBody(with(f, "timestamp", "2024-13-45 25:61:61"), secret), "timestamp")
		cs = append(cs, badCase{name: string(i) + "/over the limit", iface: i, length: 17 << 20, status: 413, want: "larger than"})
	}
	return cs
}
