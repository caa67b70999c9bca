package protocol

import (
	"path/filepath"
	"strings"
	"testing"
)

func validRequest(t *testing.T, i Interface) *Request {
	t.Helper()
	r, err := ParseRequest(readFile(t, filepath.Join("testdata", "valid", string(i)+".json")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestValidateBoundaries: a text field of exactly Max characters passes,
// counted in characters (a 200-character Chinese name is 600 bytes).
func TestValidateBoundaries(t *testing.T) {
	for _, i := range All {
		for _, f := range SpecOf(i).Fields {
			if f.Max == 0 || f.Kind != Text {
				continue
			}
			for _, ch := range []string{"中", "a", "𠮷"} {
				r := validRequest(t, i)
				r.Fields[f.Name] = strings.Repeat(ch, f.Max)
				if vs := Validate(i, r); len(vs) > 0 {
					t.Errorf("%s.%s with %d × %q: %v", i, f.Name, f.Max, ch, vs)
				}
			}
		}
	}
}

func TestValidateConditionalsPass(t *testing.T) {
	r := validRequest(t, InvoiceApply)
	r.Fields["type"] = InvoiceOrdinary
	for _, k := range []string{"address", "phone", "bank", "account"} {
		delete(r.Fields, k)
	}
	if vs := Validate(InvoiceApply, r); len(vs) > 0 {
		t.Errorf("普票 without bank details: %v", vs)
	}
	q := validRequest(t, QuitNotice)
	q.Fields["applystatus"] = StatusRefused
	delete(q.Fields, "tuibaotime")
	if vs := Validate(QuitNotice, q); len(vs) > 0 {
		t.Errorf("退保失败 without tuibaotime: %v", vs)
	}
	c := validRequest(t, ClaimsNotice)
	for _, fl := range []string{"", "[]", ` [ {"fileurl":"a","name":"x"} ] `} {
		c.Fields["filelist"] = fl
		if vs := Validate(ClaimsNotice, c); len(vs) > 0 {
			t.Errorf("filelist %q: %v", fl, vs)
		}
	}
	u := validRequest(t, UploadBaohanFile)
	for _, idx := range []string{"0", "1", "007", "123456"} {
		u.Fields["index"] = idx
		if vs := Validate(UploadBaohanFile, u); len(vs) > 0 {
			t.Errorf("index %q: %v", idx, vs)
		}
	}
	f := validRequest(t, BaohanFileCompleteNotice)
	for _, d := range []string{"d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E"} {
		f.Fields["baohanfilemd5"] = d
		if vs := Validate(BaohanFileCompleteNotice, f); len(vs) > 0 {
			t.Errorf("digest %q: %v", d, vs)
		}
	}
}

func TestIsDecimal(t *testing.T) {
	for _, s := range []string{"0", "5", "0.005", "20000.00", "007", "1234567890123456789012345.123"} {
		if !IsDecimal(s) {
			t.Errorf("IsDecimal(%q) = false", s)
		}
	}
	for _, s := range []string{"", ".", "-1", "+1", "1e3", ".5", "5.", " 5", "5 ", "1,000", "5‰", "1.2.3", "０", "NaN", "Infinity", "0x10"} {
		if IsDecimal(s) {
			t.Errorf("IsDecimal(%q) = true", s)
		}
	}
}

func TestValidateUnknownInterface(t *testing.T) {
	vs := Validate("cancelnotice", NewRequest(nil))
	if len(vs) != 1 || vs[0].Message != `unknown interface "cancelnotice"` {
		t.Fatal(vs)
	}
}

func TestViolationFieldsAndRules(t *testing.T) {
	r := validRequest(t, BaohanNotice)
	r.Fields["rate"] = "5‰"
	delete(r.Fields, "instname")
	vs := Validate(BaohanNotice, r)
	if len(vs) != 2 || vs[0].Field != "instname" || vs[0].Rule != RuleRequired || vs[1].Field != "rate" || vs[1].Rule != RuleDecimal {
		t.Fatalf("%+v", vs)
	}
}

func TestJoinViolations(t *testing.T) {
	vs := []Violation{{Message: "a"}, {Message: "b"}, {Message: "c"}}
	if got := JoinViolations(vs, 0); got != "a; b; c" {
		t.Error(got)
	}
	if got := JoinViolations(vs, 2); got != "a; b; and 1 more" {
		t.Error(got)
	}
	if got := JoinViolations(nil, 2); got != "" {
		t.Error(got)
	}
}

func TestValidateApplyData(t *testing.T) {
	good := `{"biddername":"南京金陵路桥建设工程有限公司","biddercode":"91320104MA1N2X3Y4K",` +
		`"biaoduanno":"q1w2e3r4t5y6u7i8o9p0AA==","biaoduanname":"Zm9vYmFyYmF6cXV4MTIzNA==",` +
		`"bzjamount":"20000.00","zbr":"bWFya2V0MTIzNDU2Nzg5MA==","zbrorgnum":""}`
	d, vs := ValidateApplyData([]byte(good))
	if len(vs) > 0 || d == nil || d.BidderName != "南京金陵路桥建设工程有限公司" || d.BzjAmount != "20000.00" {
		t.Fatalf("%+v %v", d, vs)
	}
	tests := []struct {
		in   string
		want []string
	}{
		{`{"biddername":"x","biddercode":"y","biaoduanno":"a","biaoduanname":"b","bzjamount":"2万","zbr":"c"}`,
			[]string{`field "bzjamount" must be a decimal string like "20000.00", got "2万"`}},
		{`{"biddername":"x","bzjamount":20000}`, // a number is checked as its text
			[]string{`field "biddercode" is required`, `field "biaoduanno" is required`, `field "biaoduanname" is required`,
				`field "zbr" is required`}},
		{`{"biddername":"x","biddercode":"y","biaoduanno":"a","biaoduanname":"b","bzjamount":2e4,"zbr":"c"}`,
			[]string{`field "bzjamount" must be a decimal string like "20000.00", got "2e4"`}},
		{`{"biddername":"` + strings.Repeat("名", 201) + `","biddercode":"y","biaoduanno":"a","biaoduanname":"b","bzjamount":"1","zbr":"c","zbrorgnum":"` + strings.Repeat("x", 201) + `"}`,
			[]string{`field "biddername" is longer than 200 characters (201)`, `field "zbrorgnum" is longer than 200 characters (201)`}},
		{`not json`, []string{`applydata: body is not valid JSON: invalid character 'o' in literal null (expecting 'u') at offset 2`}},
		{`[]`, []string{`applydata: body is a JSON array, expected one flat JSON object`}},
	}
	for _, tt := range tests {
		_, vs := ValidateApplyData([]byte(tt.in))
		var got []string
		for _, v := range vs {
			got = append(got, v.Message)
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// Binary fields in hex (a peer's encoding = "hex") are half as long again
// as in base64: they get the base64 maximum × 3/2; baohanfile may be hex.
func TestValidateHexBinaryFields(t *testing.T) {
	base := map[string]string{"appkey": "k", "timestamp": "2024-03-15 09:30:00", "platformcode": "P", "applyno": "A1", "sign": "x",
		"applydata": strings.Repeat("ab", 1400)}
	for _, tt := range []struct {
		env  string
		want string
	}{
		{strings.Repeat("0a", 113), ""},
		{strings.Repeat("0a", 150), ""},
		{strings.Repeat("0a", 151), `field "digitalenvelope" is longer than 300 characters (302)`},
		{strings.Repeat("x", 201), `field "digitalenvelope" is longer than 200 characters (201)`},
	} {
		f := map[string]string{"digitalenvelope": tt.env}
		for k, v := range base {
			f[k] = v
		}
		var got []string
		for _, v := range Validate(BaohanApply, NewRequest(f)) {
			got = append(got, v.Message)
		}
		if strings.Join(got, "\n") != tt.want {
			t.Errorf("%d characters: %q, want %q", len(tt.env), got, tt.want)
		}
	}
	up := map[string]string{"appkey": "k", "timestamp": "2024-03-15 09:30:00", "applyno": "A1", "baohanno": "B1", "filetype": "1",
		"index": "1", "sign": "x", "baohanfile": "00ff10"}
	if vs := Validate(UploadBaohanFile, NewRequest(up)); len(vs) > 0 {
		t.Errorf("hex baohanfile: %v", vs)
	}
}
