package protocol

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// An invalidCase is a valid golden request with some fields changed, and
// the exact violation messages Validate must give, in order.
type invalidCase struct {
	iface Interface
	name  string
	set   map[string]string // field -> raw JSON value; "" deletes the field
	want  []string
}

func q(s string) string { return jsonStr(s) }

// invalidCases lists the golden invalid requests. The systematic ones
// (every required field missing, every bounded field one character too
// long) come from the spec tables; the expected messages are written here.
func invalidCases() []invalidCase {
	var cs []invalidCase
	add := func(i Interface, name string, set map[string]string, want ...string) {
		cs = append(cs, invalidCase{i, name, set, want})
	}
	for _, i := range All {
		for _, f := range SpecOf(i).Fields {
			if f.Required {
				add(i, "missing-"+f.Name, map[string]string{f.Name: ""},
					fmt.Sprintf("field %q is required", f.Name))
			}
			if f.Max > 0 {
				add(i, "toolong-"+f.Name, map[string]string{f.Name: q(strings.Repeat("中", f.Max+1))},
					fmt.Sprintf("field %q is longer than %d characters (%d)", f.Name, f.Max, f.Max+1))
			}
			if f.Kind == Identifier {
				add(i, "control-"+f.Name, map[string]string{f.Name: q("BH\r\nX-Injected: 1")},
					fmt.Sprintf("field %q must not contain control characters, got U+000D at byte 2", f.Name))
				add(i, "nul-"+f.Name, map[string]string{f.Name: q("BH\u0000001")},
					fmt.Sprintf("field %q must not contain a NUL character (at byte 2)", f.Name))
			}
		}
		id := "applyno"
		if i == InvoiceNotice {
			id = "baohanno"
		}
		add(i, "empty-"+id, map[string]string{id: `""`}, fmt.Sprintf("field %q is required", id))
		add(i, "null-"+id, map[string]string{id: `null`}, fmt.Sprintf("field %q is required", id))
		// A number is checked as its text (and signed so).
		add(i, "number-"+id, map[string]string{id: strings.Repeat("1", 51)},
			fmt.Sprintf("field %q is longer than 50 characters (51)", id))
		add(i, "badtime-timestamp", map[string]string{"timestamp": q("2024/03/15 09:30:00")},
			`field "timestamp" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got "2024/03/15 09:30:00"`)
	}

	tm := func(field, got string) string {
		return fmt.Sprintf("field %q must be a time like \"2024-03-15 09:30:00\" (yyyy-MM-dd HH:mm:ss, UTC+8), got %q", field, got)
	}
	// Timestamps: strictly yyyy-MM-dd HH:mm:ss, a real date.
	for name, v := range map[string]string{
		"iso8601":      "2024-03-15T14:05:12",
		"onedigithour": "2024-03-15 9:05:12",
		"nosecond":     "2024-03-15 14:05",
		"feb30":        "2024-02-30 14:05:12",
		"hour24":       "2024-03-15 24:00:00",
		"zone":         "2024-03-15 14:05:12+08:00",
		"millis":       "2024-03-15 14:05:12.123",
		"epoch":        "1710482712",
		"fullwidth":    "２０２４-03-15 14:05:12",
	} {
		add(BaohanNotice, "badtime-timestamp-"+name, map[string]string{"timestamp": q(v)}, tm("timestamp", v))
	}
	add(BaohanNotice, "badtime-generatetime", map[string]string{"generatetime": q("2024年3月15日")}, tm("generatetime", "2024年3月15日"))
	add(BaohanRestore, "badtime-kaibiaotime", map[string]string{"kaibiaotime": q("2024-03-28")}, tm("kaibiaotime", "2024-03-28"))
	add(QuitNotice, "badtime-tuibaotime", map[string]string{"tuibaotime": q("20240320164458")}, tm("tuibaotime", "20240320164458"))

	// Decimals: non-negative, plain.
	dec := func(field, like, got string) string {
		return fmt.Sprintf("field %q must be a decimal string like %q, got %q", field, like, got)
	}
	add(BaohanNotice, "baddecimal-rate-permille", map[string]string{"rate": q("5‰")}, dec("rate", "0.005", "5‰"))
	add(BaohanNotice, "baddecimal-rate-percent", map[string]string{"rate": q("0.5%")}, dec("rate", "0.005", "0.5%"))
	for name, v := range map[string]string{
		"negative":  "-100.00",
		"plus":      "+100.00",
		"exponent":  "1e2",
		"leaddot":   ".5",
		"trailing":  "100.",
		"space":     " 100.00",
		"comma":     "1,000.00",
		"twodots":   "1.000.00",
		"fullwidth": "１００.００",
		"yuan":      "100.00元",
		"chinese":   "壹佰元整",
	} {
		add(BaohanNotice, "baddecimal-cost-"+name, map[string]string{"cost": q(v)}, dec("cost", "200.00", v))
	}
	add(InvoiceApply, "baddecimal-amount", map[string]string{"amount": q("100元")}, dec("amount", "200.00", "100元"))
	add(ClaimsNotice, "baddecimal-payeramount", map[string]string{"payeramount": q("2万")}, dec("payeramount", "20000.00", "2万"))
	// Numbers and booleans are checked as their text.
	add(BaohanNotice, "number-cost", map[string]string{"cost": `1e2`}, dec("cost", "200.00", "1e2"))
	add(BaohanNotice, "bool-applystatus", map[string]string{"applystatus": `true`}, `field "applystatus" must be "1" (审核通过) or "0" (审核未通过), got "true"`)
	add(BaohanNotice, "number-applystatus", map[string]string{"applystatus": `2`}, `field "applystatus" must be "1" (审核通过) or "0" (审核未通过), got "2"`)

	// Enums.
	add(BaohanNotice, "badenum-applystatus", map[string]string{"applystatus": q("2")},
		`field "applystatus" must be "1" (审核通过) or "0" (审核未通过), got "2"`)
	add(BaohanNotice, "badenum-applystatus-words", map[string]string{"applystatus": q("通过")},
		`field "applystatus" must be "1" (审核通过) or "0" (审核未通过), got "通过"`)
	add(InvoiceNotice, "badenum-applystatus", map[string]string{"applystatus": q("success")},
		`field "applystatus" must be "1" (审核通过) or "0" (审核未通过), got "success"`)
	add(QuitNotice, "badenum-applystatus", map[string]string{"applystatus": q("01")},
		`field "applystatus" must be "1" (退保成功) or "0" (退保失败), got "01"`)
	add(UploadBaohanFile, "badenum-filetype", map[string]string{"filetype": q("3")},
		`field "filetype" must be "1" (密文) or "2" (明文), got "3"`)
	add(BaohanFileCompleteNotice, "badenum-filetype", map[string]string{"filetype": q("0")},
		`field "filetype" must be "1" (密文) or "2" (明文), got "0"`)
	add(InvoiceApply, "badenum-type", map[string]string{"type": q("专票")},
		`field "type" must be "0" (普票) or "1" (专票), got "专票"`)

	// Conditional rules.
	add(InvoiceApply, "special-without-address", map[string]string{"address": ""},
		`field "address" is required when "type" is "1" (专票)`)
	add(InvoiceApply, "special-without-bank-details", map[string]string{"address": `""`, "phone": "", "bank": `null`, "account": ""},
		`field "address" is required when "type" is "1" (专票)`,
		`field "phone" is required when "type" is "1" (专票)`,
		`field "bank" is required when "type" is "1" (专票)`,
		`field "account" is required when "type" is "1" (专票)`)
	add(InvoiceApply, "special-bad-address-and-missing-phone", map[string]string{"address": q(strings.Repeat("路", 501)), "phone": ""},
		`field "address" is longer than 500 characters (501)`,
		`field "phone" is required when "type" is "1" (专票)`)
	add(QuitNotice, "success-without-tuibaotime", map[string]string{"tuibaotime": ""},
		`field "tuibaotime" is required when "applystatus" is "1" (退保成功)`)
	add(QuitNotice, "success-empty-tuibaotime", map[string]string{"tuibaotime": `""`},
		`field "tuibaotime" is required when "applystatus" is "1" (退保成功)`)

	// index, baohanfile, baohanfilemd5.
	idx := func(got string) string {
		return fmt.Sprintf("field \"index\" must be a non-negative decimal integer like \"1\", got %q", got)
	}
	for name, v := range map[string]string{"negative": "-1", "fraction": "1.0", "letter": "a", "huge": "99999999999999999999", "space": "1 ", "chinese": "一"} {
		add(UploadBaohanFile, "badindex-"+name, map[string]string{"index": q(v)}, idx(v))
	}
	add(UploadBaohanFile, "number-index", map[string]string{"index": `-1`}, idx("-1"))
	add(UploadBaohanFile, "badbase64-chars", map[string]string{"baohanfile": q("SGVsbG8*V29ybGQ=")},
		`field "baohanfile" must be standard base64 (A-Z a-z 0-9 + /, padded with =): bad data at offset 7`)
	add(UploadBaohanFile, "badbase64-urlsafe", map[string]string{"baohanfile": q("-_-_")},
		`field "baohanfile" must be standard base64 (A-Z a-z 0-9 + /, padded with =): bad data at offset 0`)
	add(UploadBaohanFile, "badbase64-unpadded", map[string]string{"baohanfile": q("SGVsbG8")},
		`field "baohanfile" must be standard base64 (A-Z a-z 0-9 + /, padded with =): bad data at offset 4`)
	add(UploadBaohanFile, "badbase64-hex", map[string]string{"baohanfile": q("48656c6c6f2")},
		`field "baohanfile" must be standard base64 (A-Z a-z 0-9 + /, padded with =): bad data at offset 8`)
	hd := func(got string) string {
		return fmt.Sprintf("field \"baohanfilemd5\" must be a hex digest (64 hex characters for SM3, 32 for MD5), got %q", got)
	}
	add(BaohanFileCompleteNotice, "baddigest-sha1", map[string]string{"baohanfilemd5": q("da39a3ee5e6b4b0d3255bfef95601890afd80709")}, hd("da39a3ee5e6b4b0d3255bfef95601890afd80709"))
	add(BaohanFileCompleteNotice, "baddigest-base64", map[string]string{"baohanfilemd5": q("1B2M2Y8AsgTpgAmY7PhCfg==")}, hd("1B2M2Y8AsgTpgAmY7PhCfg=="))
	add(BaohanFileCompleteNotice, "baddigest-nonhex", map[string]string{"baohanfilemd5": q("g41d8cd98f00b204e9800998ecf8427e")}, hd("g41d8cd98f00b204e9800998ecf8427e"))

	// filelist.
	fl := func(rest string) string { return `field "filelist" ` + rest }
	add(ClaimsNotice, "badfilelist-notjson", map[string]string{"filelist": q("claim1.pdf,claim2.pdf")},
		fl(`must be a JSON array like [{"fileurl":"https://..."}], got "claim1.pdf,claim2.pdf"`))
	add(ClaimsNotice, "badfilelist-object", map[string]string{"filelist": q(`{"fileurl":"https://zb.cn/a.pdf"}`)},
		fl(`must be a JSON array like [{"fileurl":"https://..."}], got "{\"fileurl\":\"https://zb.cn/a.pdf\"}"`))
	add(ClaimsNotice, "badfilelist-null", map[string]string{"filelist": q(`null`)},
		fl(`must be a JSON array like [{"fileurl":"https://..."}], got "null"`))
	add(ClaimsNotice, "badfilelist-strings", map[string]string{"filelist": q(`["https://zb.example.cn/a.pdf"]`)},
		fl(`item 1 must be an object with a non-empty string "fileurl", got "https://zb.example.cn/a.pdf"`))
	add(ClaimsNotice, "badfilelist-nofileurl", map[string]string{"filelist": q(`[{"fileurl":"https://zb.example.cn/a.pdf"},{"url":"https://zb.example.cn/b.pdf"}]`)},
		fl(`item 2 has no "fileurl"`))
	add(ClaimsNotice, "badfilelist-emptyurl", map[string]string{"filelist": q(`[{"fileurl":" "}]`)},
		fl(`item 1: "fileurl" is empty`))
	add(ClaimsNotice, "badfilelist-numberurl", map[string]string{"filelist": q(`[{"fileurl":123}]`)},
		fl(`item 1: "fileurl" must be a string, got 123`))
	add(ClaimsNotice, "badfilelist-nested-array", map[string]string{"filelist": `[{"fileurl":"https://zb.example.cn/a.pdf"}]`},
		"") // parse error, see TestInvalidGolden
	add(ClaimsNotice, "badfilelist-truncated", map[string]string{"filelist": q(`[{"fileurl":"https://zb.example.cn/a.pdf"}`)},
		fl(`must be a JSON array like [{"fileurl":"https://..."}], got "[{\"fileurl\":\"https://zb.example.cn/a.pdf…"`))

	// The optional claim outcome interfaces (EXTENSIONS.md §1).
	add(ClaimsResultNotice, "badenum-compensatestatus", map[string]string{"compensatestatus": q("4")},
		`field "compensatestatus" must be "1" (待赔付), "2" (已赔付), "3" (不予赔付) or "9" (其他), got "4"`)
	add(ClaimsResultNotice, "badtime-compensatedate", map[string]string{"compensatedate": q("2024-04-18")}, tm("compensatedate", "2024-04-18"))
	add(ClaimsResultNotice, "badenum-compensateway", map[string]string{"compensateway": q("3")},
		`field "compensateway" must be "1" (保险公司赔付) or "2" (投标单位赔付), got "3"`)
	add(ClaimsResultNotice, "badtime-transferdate", map[string]string{"transferdate": q("20240418140500")}, tm("transferdate", "20240418140500"))
	add(ClaimsResultNotice, "baddecimal-compensateamount", map[string]string{"compensateamount": q("-20000.00")}, dec("compensateamount", "20000.00", "-20000.00"))
	add(ClaimsResultNotice, "badfilelist-transferfilelist", map[string]string{"transferfilelist": q("voucher.pdf")},
		`field "transferfilelist" must be a JSON array like [{"fileurl":"https://..."}], got "voucher.pdf"`)
	add(ClaimsResultNotice, "refused-without-remark", map[string]string{"compensatestatus": q("3"), "compensateremark": ""},
		`field "compensateremark" is required when "compensatestatus" is "3" (不予赔付)`)
	add(ClaimsResultNotice, "other-without-remark", map[string]string{"compensatestatus": q("9")},
		`field "compensateremark" is required when "compensatestatus" is "9" (其他)`)
	add(ClaimsRepayNotice, "badenum-repaystatus", map[string]string{"repaystatus": q("2")},
		`field "repaystatus" must be "1" (已追偿) or "0" (未追偿), got "2"`)
	add(ClaimsRepayNotice, "badtime-repaydate", map[string]string{"repaydate": q("2024/06/01 10:00:00")}, tm("repaydate", "2024/06/01 10:00:00"))
	add(ClaimsRepayNotice, "baddecimal-repayamount", map[string]string{"repayamount": q("2万")}, dec("repayamount", "20000.00", "2万"))
	add(ClaimsRepayNotice, "badenum-iszbrcooperate", map[string]string{"iszbrcooperate": q("是")},
		`field "iszbrcooperate" must be "1" (配合) or "0" (不配合), got "是"`)

	// Several violations: table order, then conditional rules, then extras.
	add(BaohanNotice, "several", map[string]string{"appkey": "", "rate": q("5‰"), "applystatus": q("Y"), "urgent": `true`},
		`field "appkey" is required`,
		`field "rate" must be a decimal string like "0.005", got "5‰"`,
		`field "applystatus" must be "1" (审核通过) or "0" (审核未通过), got "Y"`)
	return cs
}

// TestInvalidGolden checks every golden invalid request: Validate gives
// exactly the messages of its .want file. With -update, the files are
// written from invalidCases.
func TestInvalidGolden(t *testing.T) {
	if *update {
		writeInvalidGoldens(t)
	}
	n := 0
	for _, i := range All {
		dir := filepath.Join("testdata", "invalid", string(i))
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(files) == 0 {
			t.Fatalf("no golden invalid requests for %s in %s", i, dir)
		}
		for _, name := range files {
			n++
			t.Run(string(i)+"/"+strings.TrimSuffix(filepath.Base(name), ".json"), func(t *testing.T) {
				body := readFile(t, name)
				want := strings.TrimRight(string(readFile(t, strings.TrimSuffix(name, ".json")+".want")), "\n")
				var got string
				r, err := ParseRequest(body)
				if err != nil {
					got = "parse: " + err.Error()
				} else {
					var lines []string
					for _, v := range Validate(i, r) {
						lines = append(lines, v.Message)
					}
					got = strings.Join(lines, "\n")
				}
				if got != want {
					t.Errorf("\n got: %s\nwant: %s", got, want)
				}
				if want == "" {
					t.Errorf("golden %s expects no violation", name)
				}
			})
		}
	}
	if n < 200 {
		t.Errorf("only %d golden invalid requests", n)
	}
}

// TestInvalidGoldenCoverage checks that the golden files cover every rule
// of every table: each required field missing, each bounded field too
// long, and each formatted field broken.
func TestInvalidGoldenCoverage(t *testing.T) {
	for _, i := range All {
		dir := filepath.Join("testdata", "invalid", string(i))
		wants := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(dir, "*.want"))
		all := ""
		for _, f := range files {
			b := readFile(t, f)
			wants[strings.TrimSuffix(filepath.Base(f), ".want")] = true
			all += string(b)
		}
		for _, f := range SpecOf(i).Fields {
			if f.Required && !wants["missing-"+f.Name] {
				t.Errorf("%s: no golden for missing %s", i, f.Name)
			}
			if f.Max > 0 && !wants["toolong-"+f.Name] {
				t.Errorf("%s: no golden for overlong %s", i, f.Name)
			}
			if f.Kind != Text && !strings.Contains(all, fmt.Sprintf("field %q must ", f.Name)) {
				t.Errorf("%s: no golden for a badly formatted %s (%s)", i, f.Name, f.Kind)
			}
		}
		for _, r := range SpecOf(i).Rules {
			if !strings.Contains(all, "is required when") {
				t.Errorf("%s: no golden for rule %s", i, r.Name)
			}
		}
	}
}

func writeInvalidGoldens(t *testing.T) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join("testdata", "invalid")); err != nil {
		t.Fatal(err)
	}
	for _, c := range invalidCases() {
		base := readFile(t, filepath.Join("testdata", "valid", string(c.iface)+".json"))
		r, err := ParseRequest(base)
		if err != nil {
			t.Fatal(err)
		}
		var pairs []jsonPair
		for _, k := range r.Keys {
			raw, changed := c.set[k]
			switch {
			case !changed:
				pairs = append(pairs, jsonPair{k, jsonStr(r.Fields[k])})
			case raw != "":
				pairs = append(pairs, jsonPair{k, raw})
			}
		}
		var extra []string
		for k := range c.set {
			if !r.Has(k) && c.set[k] != "" {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra { // before sign, as senders do
			pairs = append(pairs[:len(pairs)-1], jsonPair{k, c.set[k]}, pairs[len(pairs)-1])
		}
		dir := filepath.Join("testdata", "invalid", string(c.iface))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		want := strings.Join(c.want, "\n")
		if c.name == "badfilelist-nested-array" {
			want = `parse: field "filelist" is a JSON array; values must be strings (a list is sent as a JSON string)`
		}
		writeFile(t, filepath.Join(dir, c.name+".json"), writeObject(pairs))
		writeFile(t, filepath.Join(dir, c.name+".want"), []byte(want+"\n"))
	}
}
