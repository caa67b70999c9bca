package protocol

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestSignString(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{"sorted, sign and empty dropped",
			map[string]string{"timestamp": "2024-03-15 09:30:00", "appkey": "k", "sign": "abc", "bak1": "", "applyno": "A1"},
			"appkey=k&applyno=A1&timestamp=2024-03-15 09:30:00&appsecret=S"},
		{"byte-wise: uppercase first",
			map[string]string{"appkey": "k", "Reason": "r", "_x": "u", "Zeta": "z"},
			"Reason=r&Zeta=z&_x=u&appkey=k&appsecret=S"},
		{"values as sent, no encoding",
			map[string]string{"url": "https://a.cn/?a=1&b=2", "name": "中文 名", "list": `[{"fileurl":"x"}]`, "cost": "20000.00"},
			`cost=20000.00&list=[{"fileurl":"x"}]&name=中文 名&url=https://a.cn/?a=1&b=2&appsecret=S`},
		{"nothing but sign", map[string]string{"sign": "x"}, "&appsecret=S"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SignString(tt.fields, "S"); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
			if got, want := Sign(tt.fields, "S"), openssl(t, "sm3", "", tt.want); got != want {
				t.Errorf("Sign = %s, openssl = %s", got, want)
			}
		})
	}
}

func TestSignKnownVector(t *testing.T) {
	// SM3("abc") from GB/T 32905 appendix A: the sign of no fields with
	// secret "bc" would be SM3("&appsecret=bc"); check the primitive on
	// the standard vector through an empty-string secret trick instead.
	fields := map[string]string{}
	if got := SignString(fields, "abc"); got != "&appsecret=abc" {
		t.Fatal(got)
	}
	if got := sm3hex("abc"); got != "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0" {
		t.Fatalf("SM3(abc) = %s", got)
	}
}

func TestVerify(t *testing.T) {
	fields := map[string]string{"appkey": "k", "timestamp": "2024-03-15 09:30:00", "applyno": "A1"}
	sign := Sign(fields, testSecret)
	mk := func(sign string) *Request {
		f := map[string]string{"sign": sign}
		for k, v := range fields {
			f[k] = v
		}
		return NewRequest(f)
	}
	tests := []struct {
		name string
		sign string
		ok   bool
		diag string
	}{
		{"ok", sign, true, "sign ok"},
		{"uppercase", strings.ToUpper(sign), true, "sign ok (sent in uppercase hex; accepted, signs are compared case-insensitively)"},
		{"missing", "", false, `field "sign" is missing or empty`},
		{"wrong", Sign(fields, "other"), false, "none of the known variants matched (check the appsecret; " + SignRule + ")"},
		{"short", sign[:40], false, "sign must be 64 hex characters (SM3), got 40 characters; none of the known variants matched (check the appsecret; " + SignRule + ")"},
		{"not hex", "签名", false, `sign must be 64 hex characters (SM3), got "签名"; none of the known variants matched (check the appsecret; ` + SignRule + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Verify(mk(tt.sign), testSecret)
			if res.OK != tt.ok || res.Diagnosis() != tt.diag {
				t.Errorf("OK=%v %q\nwant OK=%v %q", res.OK, res.Diagnosis(), tt.ok, tt.diag)
			}
			if res.Expected != sign {
				t.Errorf("Expected = %s, want %s", res.Expected, sign)
			}
			if strings.Contains(res.Diagnosis(), sign) || strings.Contains(res.Diagnosis(), testSecret) {
				t.Error("the diagnosis leaks the expected sign or the secret")
			}
		})
	}
}

// TestVerifyRawValues: a sloppy peer sends numbers; the sign is over the
// literal text as sent, so it verifies, and Validate flags the type.
func TestVerifyRawValues(t *testing.T) {
	str := `appkey=k&cost=20000.00&rate=5E-3&urgent=true&appsecret=` + testSecret
	sign := openssl(t, "sm3", "", str)
	body := `{"cost":20000.00,"rate":5E-3,"urgent":true,"memo":null,"appkey":"k","sign":"` + sign + `"}`
	r, err := ParseRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if res := Verify(r, testSecret); !res.OK {
		t.Fatalf("Verify: %s", res.Diagnosis())
	}
}

// The diagnosis goldens: one request signed the wrong way per known
// variant. The body is written here; each sign string is spelled out here
// and hashed by openssl, independently of the package.
const diagnoseBody = `{
  "appkey": "BH-FI-3201-0001",
  "timestamp": "2024-03-15 14:05:12",
  "applyno": "JS2024031500017",
  "baohanno": "BH3201202403150017",
  "payername": "",
  "payeraccount": null,
  "instname": "中国建设银行股份有限公司南京城南支行",
  "generatetime": "2024-03-15 14:02:37",
  "rate": "0.0050",
  "cost": "100.00",
  "applystatus": "1",
  "Remark": " 首次投保 ",
  "jbrname": "王\u5c0f明",
  "sign": "%SIGN%"
}
`

type kv struct{ k, v string }

// canonicalPairs are the body's signed fields in byte-wise key order.
var canonicalPairs = []kv{
	{"Remark", " 首次投保 "},
	{"appkey", "BH-FI-3201-0001"},
	{"applyno", "JS2024031500017"},
	{"applystatus", "1"},
	{"baohanno", "BH3201202403150017"},
	{"cost", "100.00"},
	{"generatetime", "2024-03-15 14:02:37"},
	{"instname", "中国建设银行股份有限公司南京城南支行"},
	{"jbrname", "王小明"},
	{"rate", "0.0050"},
	{"timestamp", "2024-03-15 14:05:12"},
}

func join(pairs []kv, val func(kv) string) string {
	var parts []string
	for _, p := range pairs {
		v := p.v
		if val != nil {
			v = val(p)
		}
		parts = append(parts, p.k+"="+v)
	}
	return strings.Join(parts, "&")
}

func replaceValue(pairs []kv, k, v string) []kv {
	out := append([]kv(nil), pairs...)
	for i := range out {
		if out[i].k == k {
			out[i].v = v
		}
	}
	return out
}

func escapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	return b.String()
}

type diagnoseCase struct {
	name string
	sign func(t *testing.T) string
	want string
}

func diagnoseCases() []diagnoseCase {
	S := testSecret
	pairs := join(canonicalPairs, nil)
	canonical := pairs + "&appsecret=" + S
	sm3 := func(s string) func(t *testing.T) string {
		return func(t *testing.T) string { return openssl(t, "sm3", "", s) }
	}
	matches := func(variant string) string {
		return "it matches a known variant: " + variant + " (" + SignRule + ")"
	}
	insert := func(pairs []kv, after string, p kv) []kv {
		var out []kv
		for _, q := range pairs {
			out = append(out, q)
			if q.k == after {
				out = append(out, p)
			}
		}
		return out
	}
	caseless := append([]kv(nil), canonicalPairs[1:10]...) // appkey .. rate
	caseless = append(caseless, canonicalPairs[0], canonicalPairs[10])
	return []diagnoseCase{
		{"ok", sm3(canonical), "sign ok"},
		{"uppercase", func(t *testing.T) string { return strings.ToUpper(openssl(t, "sm3", "", canonical)) },
			"sign ok (sent in uppercase hex; accepted, signs are compared case-insensitively)"},
		{"missing", func(*testing.T) string { return "" }, `field "sign" is missing or empty`},
		{"wrong-secret", sm3(pairs + "&appsecret=" + S[:len(S)-1] + "0"),
			"none of the known variants matched (check the appsecret; " + SignRule + ")"},
		{"hmac", func(t *testing.T) string { return openssl(t, "sm3", S, pairs) },
			matches(`HMAC-SM3 keyed with the appsecret over the string without "&appsecret="`)},
		{"hmac-appsecret", func(t *testing.T) string { return openssl(t, "sm3", S, canonical) },
			matches(`HMAC-SM3 keyed with the appsecret over the string with "&appsecret=<appsecret>"`)},
		{"key", sm3(pairs + "&key=" + S),
			matches(`"&key=<appsecret>" appended instead of "&appsecret=<appsecret>"`)},
		{"bare", sm3(pairs + S),
			matches(`the appsecret appended bare, without "appsecret="`)},
		{"bare-amp", sm3(pairs + "&" + S),
			matches(`the appsecret appended bare, without "appsecret="`)},
		{"prepended", sm3(S + pairs),
			matches(`the appsecret put in front of the string instead of "&appsecret=<appsecret>" at the end`)},
		{"sorted-in", sm3(join(insert(canonicalPairs, "applystatus", kv{"appsecret", S}), nil)),
			matches(`"appsecret=<appsecret>" sorted in among the fields instead of appended last`)},
		{"empty-kept", sm3(join(insert(insert(canonicalPairs, "jbrname", kv{"payeraccount", ""}), "payeraccount", kv{"payername", ""}), nil) + "&appsecret=" + S),
			matches(`empty or null fields kept in the string (leave them out)`)},
		{"empty-kept-null-text", sm3(join(insert(insert(canonicalPairs, "jbrname", kv{"payeraccount", "null"}), "payeraccount", kv{"payername", ""}), nil) + "&appsecret=" + S),
			matches(`empty or null fields kept in the string (leave them out)`)},
		{"caseless-sort", sm3(join(caseless, nil) + "&appsecret=" + S),
			matches(`keys sorted case-insensitively (sort byte-wise: "Z" before "a")`)},
		{"numbers-plain", sm3(join(replaceValue(replaceValue(canonicalPairs, "cost", "100"), "rate", "0.005"), nil) + "&appsecret=" + S),
			matches(`numbers re-formatted before signing ("cost" sent as "100.00", signed as "100"; sign the values as sent)`)},
		{"numbers-float", sm3(join(replaceValue(replaceValue(canonicalPairs, "cost", "100.0"), "rate", "0.005"), nil) + "&appsecret=" + S),
			matches(`numbers re-formatted before signing ("cost" sent as "100.00", signed as "100.0"; sign the values as sent)`)},
		{"numbers-float-all", sm3(join(replaceValue(replaceValue(replaceValue(canonicalPairs, "cost", "100.0"), "rate", "0.005"), "applystatus", "1.0"), nil) + "&appsecret=" + S),
			matches(`numbers re-formatted before signing ("cost" sent as "100.00", signed as "100.0"; sign the values as sent)`)},
		{"json-escapes", sm3(join(replaceValue(canonicalPairs, "jbrname", `王\u5c0f明`), nil) + "&appsecret=" + S),
			matches(`values signed with their JSON escapes undecoded ("jbrname" signed as "王\u5c0f明" instead of "王小明"; sign the decoded values)`)},
		{"unicode-escaped", sm3(join(canonicalPairs, func(p kv) string { return escapeAll(p.v) }) + "&appsecret=" + S),
			matches(`non-ASCII characters signed as \uXXXX escapes (sign the UTF-8 text as sent)`)},
		{"url-encoded", sm3(join(canonicalPairs, func(p kv) string { return url.QueryEscape(p.v) }) + "&appsecret=" + S),
			matches(`values URL-encoded before signing (sign them as sent)`)},
		{"trimmed", sm3(join(replaceValue(canonicalPairs, "Remark", "首次投保"), nil) + "&appsecret=" + S),
			matches(`values trimmed of spaces before signing (sign them as sent)`)},
		{"md5", func(t *testing.T) string { return openssl(t, "md5", "", canonical) },
			"sign must be 64 hex characters (SM3), got 32 characters; " + matches(`MD5 instead of SM3 over the right string`)},
		{"sha256", func(t *testing.T) string { return openssl(t, "sha256", "", canonical) },
			matches(`SHA-256 instead of SM3 over the right string`)},
	}
}

// TestDiagnoseGolden checks the one-line diagnosis of a request signed
// each known wrong way (testdata/diagnose/<case>.json and .want). The sign
// in each file is recomputed through openssl from the spelled-out string.
func TestDiagnoseGolden(t *testing.T) {
	dir := filepath.Join("testdata", "diagnose")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, c := range diagnoseCases() {
		t.Run(c.name, func(t *testing.T) {
			name := filepath.Join(dir, c.name+".json")
			sign := c.sign(t)
			if *update {
				writeFile(t, name, []byte(strings.Replace(diagnoseBody, "%SIGN%", sign, 1)))
				writeFile(t, strings.TrimSuffix(name, ".json")+".want", []byte(c.want+"\n"))
			}
			body := readFile(t, name)
			if want := strings.Replace(diagnoseBody, "%SIGN%", sign, 1); string(body) != want {
				t.Fatalf("%s does not hold the sign openssl computes (%s); run with -update", name, sign)
			}
			r, err := ParseRequest(body)
			if err != nil {
				t.Fatal(err)
			}
			res := Verify(r, testSecret)
			want := strings.TrimRight(string(readFile(t, strings.TrimSuffix(name, ".json")+".want")), "\n")
			if got := res.Diagnosis(); got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
			for _, id := range res.IDs {
				seen[id] = true
			}
		})
	}
	for _, v := range KnownVariants {
		if !seen[v.ID] {
			t.Errorf("no golden for variant %s", v.ID)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	for in, want := range map[float64]string{
		100: "100.0", 0.005: "0.005", 20000000: "2.0E7", 1.5e-5: "1.5E-5", 0: "0.0", 1234567.5: "1234567.5",
	} {
		if got := formatFloat(in); got != want {
			t.Errorf("formatFloat(%v) = %s, want %s", in, got, want)
		}
	}
}

func TestVerifyLargeNotDiagnosed(t *testing.T) {
	fields := map[string]string{"appkey": "k", "baohanfile": strings.Repeat("QUJD", DiagnoseLimit/4)}
	sign := Sign(fields, "other")
	fields["sign"] = sign
	res := Verify(NewRequest(fields), testSecret)
	want := "the request is too large to try the known variants (" + SignRule + ")"
	if res.OK || !res.Undiagnosed || res.Diagnosis() != want {
		t.Fatalf("%+v\n%s", res, res.Diagnosis())
	}
	fields["sign"] = Sign(fields, testSecret)
	if !Verify(NewRequest(fields), testSecret).OK {
		t.Fatal("a large request with the right sign fails")
	}
}
