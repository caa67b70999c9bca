package institution

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// validRequests are well-formed business fields of each served interface
// (the application need not exist: the field rules come first).
var validRequests = map[protocol.Interface]map[string]string{
	protocol.BaohanApply:   {"applyno": "P-1", "applydata": "QUFBQUFBQUFBQUFBQUFBQQ==", "digitalenvelope": "ZW52ZWxvcGU="},
	protocol.BaohanRestore: {"applyno": "P-1", "baohanno": "B-1", "kaibiaotime": "2026-01-02 09:30:00", "key": "AAAAAAAAAAAAAAAAAAAAAA=="},
	protocol.InvoiceApply: {"applyno": "P-1", "baohanno": "B-1", "biddername": "某公司", "biddercode": "91110000000000000X",
		"amount": "100.00", "type": "0"},
	protocol.QuitApply:    {"applyno": "P-1", "baohanno": "B-1", "reason": "项目变更"},
	protocol.CancelNotice: {"applyno": "P-1", "baohanno": "B-1"},
	protocol.ClaimsNotice: {"applyno": "P-1", "baohanno": "B-1", "applyusername": "张三", "applyuserphone": "13800000000"},
	protocol.GiveupApply:  {"applyno": "P-1"},
}

func TestServedInterfacesFieldRules(t *testing.T) {
	e := newEnv(t, false)
	type tc struct {
		name   string
		iface  protocol.Interface
		change map[string]string // "" deletes
		want   string
	}
	var cases []tc
	// Every required field missing, and every field one character too long.
	for i := range validRequests {
		for _, f := range protocol.SpecOf(i).Fields {
			switch f.Name {
			case "appkey", "sign", "timestamp":
				continue
			}
			if f.Required {
				cases = append(cases, tc{fmt.Sprintf("%s/%s missing", i, f.Name), i, map[string]string{f.Name: deleteField},
					fmt.Sprintf("field %q is required", f.Name)})
			}
			if f.Max > 0 && f.Name != "platformcode" {
				long := strings.Repeat("9", f.Max+1)
				cases = append(cases, tc{fmt.Sprintf("%s/%s too long", i, f.Name), i, map[string]string{f.Name: long},
					fmt.Sprintf("field %q is longer than %d characters (%d)", f.Name, f.Max, f.Max+1)})
			}
		}
	}
	cases = append(cases,
		tc{"invoice type 1 needs the bank details", protocol.InvoiceApply, map[string]string{"type": "1", "address": "北京", "phone": "010", "bank": "某行"},
			`field "account" is required when "type" is "1" (专票)`},
		tc{"kaibiaotime format", protocol.BaohanRestore, map[string]string{"kaibiaotime": "2026-13-01"},
			`field "kaibiaotime" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got "2026-13-01"`},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := map[string]string{}
			for k, v := range validRequests[c.iface] {
				f[k] = v
			}
			for k, v := range c.change {
				f[k] = v
			}
			e.advance(time.Second)
			r := e.call(c.iface, f)
			if r.Code != 0 || r.Message != c.want {
				t.Errorf("got %d %q, want 0 %q", r.Code, r.Message, c.want)
			}
		})
	}
}

func TestPipelineChecks(t *testing.T) {
	e := newEnv(t, false)
	signed := func(f map[string]string, secret string) []byte {
		f["sign"] = protocol.Sign(f, secret)
		return protocol.MarshalFields(f)
	}
	base := func() map[string]string {
		e.advance(time.Second)
		return map[string]string{"appkey": testAppKey, "timestamp": protocol.FormatTime(e.clock()), "platformcode": testPlatCode, "applyno": "P-9"}
	}
	unknownApplyNo := `applyno "P-9" is unknown at this institution (platformcode "TESTPLAT")`
	for _, i := range []protocol.Interface{protocol.GiveupApply} {
		if r := e.post(i, signed(base(), testSecret)); r.Code != 0 || r.Message != unknownApplyNo {
			t.Errorf("valid request for an unknown applyno: %+v", r)
		}
		r := e.post(i, signed(base(), "wrong-secret"))
		if r.Code != 0 || !strings.HasPrefix(r.Message, "sign mismatch") {
			t.Errorf("wrong sign: %+v", r)
		}
		f := base()
		f["timestamp"] = protocol.FormatTime(e.clock().Add(-time.Hour))
		stale := regexp.MustCompile(`^timestamp "` + f["timestamp"] + `" is 1h0m[0-9]+s behind the receiver's clock \([0-9 :-]+\); the allowed difference is 10m0s$`)
		if r := e.post(i, signed(f, testSecret)); r.Code != 0 || !stale.MatchString(r.Message) {
			t.Errorf("stale timestamp: %+v", r)
		}
		f = base()
		body := signed(f, testSecret)
		first := e.post(i, body)
		if r := e.post(i, body); r.Code != first.Code || r.Message != first.Message || string(r.Data) != string(first.Data) {
			t.Errorf("retry: %+v, want the first answer %+v", r, first)
		}
		f["bak3"] = "" // not signed: the same sign, another body
		if r := e.post(i, signed(f, testSecret)); r.Code != 0 || r.Message != `replayed request: this sign was already received from appkey "test-inst"; send a new request with a new timestamp and sign` {
			t.Errorf("replay: %+v", r)
		}
		f = base()
		f["appkey"] = "nobody"
		if r := e.post(i, signed(f, testSecret)); r.Code != 0 || r.Message != `unknown appkey "nobody"` {
			t.Errorf("unknown appkey: %+v", r)
		}
		f = base()
		f["platformcode"] = "OTHER"
		if r := e.post(i, signed(f, testSecret)); r.Code != 0 || r.Message != `platformcode "OTHER" does not belong to appkey "test-inst" (its platform "testplat" has platformcode "TESTPLAT")` {
			t.Errorf("platformcode: %+v", r)
		}
	}
	if r := e.post(protocol.GiveupApply, []byte("hello")); r.Code != 0 || r.Message != "body is not valid JSON: invalid character 'h' looking for beginning of value at offset 1" {
		t.Errorf("not JSON: %+v", r)
	}
	if r := e.call(protocol.BaohanNotice, map[string]string{"applyno": "A"}); r.Code != 0 || r.Message != `interface "baohannotice" is not served here (it is served by the platform)` {
		t.Errorf("platform's interface: %+v", r)
	}
	// Illegal transitions through the wire, each with its message.
	tok := e.apply("T-1", "1000")
	_ = tok
	e.advance(time.Second)
	if r := e.call(protocol.CancelNotice, map[string]string{"applyno": "T-1", "baohanno": "X"}); r.Code != 0 ||
		r.Message != `applyno "T-1" has no guarantee yet (it is received): baohanno "X" is unknown` {
		t.Errorf("cancel before issue: %+v", r)
	}
	e.advance(time.Second)
	if r := e.call(protocol.BaohanApply, map[string]string{"applyno": "T-2", "applydata": "bm90IGNpcGhlcg==", "digitalenvelope": "ZW52ZWxvcGU="}); r.Code != 0 ||
		r.Message != "applydata: 10 bytes is not SM4 ciphertext (a multiple of 16 bytes)" {
		t.Errorf("bad applydata: %+v", r)
	}
}
