package institution

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

func TestClaimsBoundedByTheBond(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testClaimsBounded(t, false) })
	t.Run("postgres", func(t *testing.T) { testClaimsBounded(t, true) })
}

func testClaimsBounded(t *testing.T, pg bool) {
	e := newEnv(t, pg)
	e.issue("C-1") // bond 200000.00
	a := e.app("C-1")
	claim := func(amount, reason string) map[string]string {
		f := map[string]string{"applyno": "C-1", "baohanno": a.BaohanNo, "applyusername": "张三", "applyuserphone": "13800000000",
			"payeraccount": "6222000000000000000", "reason": reason, "filelist": `[{"fileurl":"https://ggzy.example.cn/f/1.pdf"}]`}
		if amount != "" {
			f["payeramount"] = amount
		}
		return f
	}
	steps := []struct {
		name, amount, reason string
		code                 int
		message              string // the whole refusal
	}{
		{"over the bond alone", "200000.01", "超额", 0,
			"payeramount 200000.01 exceeds the guaranteed amount: guarantee " + a.BaohanNo + " guarantees 200000.00 (bzjamount), no claim before; at most 200000.00 can be claimed"},
		{"far over the bond", "99999999.00", "超额", 0,
			"payeramount 99999999.00 exceeds the guaranteed amount: guarantee " + a.BaohanNo + " guarantees 200000.00 (bzjamount), no claim before; at most 200000.00 can be claimed"},
		{"nothing demanded", "0.00", "零", 0,
			"payeramount 0.00: a claim demands a positive amount (leave payeramount out to claim what the guarantee still covers)"},
		{"a first claim within the bond", "120000.00", "拒签合同", 1, ""},
		{"the same claim again (a retry)", "120000.00", "拒签合同", 1, ""},
		{"a second claim over what is left", "80000.01", "未提交履约担保", 0,
			"payeramount 80000.01 exceeds what guarantee " + a.BaohanNo + " still covers: it guarantees 200000.00 (bzjamount), 120000.00 already claimed by 1 claim(s), so at most 80000.00 can still be claimed (200000.01 demanded in all)"},
		{"a second claim of what is left", "80000.00", "未提交履约担保", 1, ""},
		{"the first claim again", "120000.00", "拒签合同", 1, ""},
		{"a third claim of one fen", "0.01", "另一事由", 0,
			"payeramount 0.01 exceeds what guarantee " + a.BaohanNo + " still covers: it guarantees 200000.00 (bzjamount), 200000.00 already claimed by 2 claim(s), so at most 0.00 can still be claimed (200000.01 demanded in all)"},
		{"a claim without an amount when nothing is left", "", "余额", 0,
			"payeramount: not stated, so the claim is for what guarantee " + a.BaohanNo + " still covers, and nothing is left: the guaranteed amount (bzjamount) is 200000.00, 200000.00 already claimed by 2 claim(s)"},
	}
	for _, st := range steps {
		e.advance(time.Second)
		r := e.call(protocol.ClaimsNotice, claim(st.amount, st.reason))
		if r.Code != st.code || (st.code == 0 && r.Message != st.message) {
			t.Errorf("%s: code %d %q, want code %d %q", st.name, r.Code, r.Message, st.code, st.message)
		}
	}
	claims, err := e.svc.Claims(context.Background())
	if err != nil || len(claims) != 2 {
		t.Fatalf("claims recorded: %d %v", len(claims), err)
	}
	d, err := e.svc.Detail(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var accepted, refused int
	for _, ev := range d.History {
		switch ev.Event {
		case string(protocol.ClaimsNotice):
			accepted++
		case "claim_refused":
			refused++
			if !strings.HasPrefix(ev.Detail, "payeramount") {
				t.Errorf("refused claim in the history: %q", ev.Detail)
			}
		}
	}
	if accepted != 2 || refused != 6 {
		t.Errorf("history: %d claims, %d refused; want 2 and 6", accepted, refused)
	}
}

// A claim that states no amount claims what is left: accepted while
// something is, and the guarantee counts as claimed in full after it.
func TestClaimWithoutAmountClaimsTheBalance(t *testing.T) {
	e := newEnv(t, false)
	e.issue("C-2")
	a := e.app("C-2")
	base := map[string]string{"applyno": "C-2", "baohanno": a.BaohanNo, "applyusername": "张三", "applyuserphone": "13800000000"}
	with := func(kv ...string) map[string]string {
		f := map[string]string{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f[kv[i]] = kv[i+1]
		}
		return f
	}
	e.advance(time.Second)
	if r := e.call(protocol.ClaimsNotice, with("payeramount", "50000.00", "reason", "甲")); r.Code != 1 {
		t.Fatalf("a claim of 50000.00: %+v", r)
	}
	e.advance(time.Second)
	if r := e.call(protocol.ClaimsNotice, with("reason", "乙")); r.Code != 1 {
		t.Fatalf("a claim of the balance: %+v", r)
	}
	e.advance(time.Second)
	if r := e.call(protocol.ClaimsNotice, with("reason", "乙")); r.Code != 1 {
		t.Fatalf("the claim of the balance again: %+v", r)
	}
	e.advance(time.Second)
	want := "payeramount 1.00 exceeds what guarantee " + a.BaohanNo + " still covers: it guarantees 200000.00 (bzjamount), 200000.00 already claimed by 2 claim(s), so at most 0.00 can still be claimed (200001.00 demanded in all)"
	if r := e.call(protocol.ClaimsNotice, with("payeramount", "1.00", "reason", "丙")); r.Code != 0 || r.Message != want {
		t.Errorf("a claim after the balance was claimed: %+v", r)
	}
}

// Two different claims at once that each fit the bond but not together:
// one is accepted, the other refused, on both databases.
func TestConcurrentClaimsShareTheBond(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, pg)
			e.issue("C-3")
			a := e.app("C-3")
			const n = 4
			codes := make([]int, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				f := map[string]string{"appkey": testAppKey, "timestamp": protocol.FormatTime(e.clock()), "platformcode": testPlatCode,
					"applyno": "C-3", "baohanno": a.BaohanNo, "applyusername": "张三", "applyuserphone": "13800000000",
					"payeramount": "150000.00", "reason": "事由" + string(rune('A'+i))}
				f["sign"] = protocol.Sign(f, testSecret)
				body := protocol.MarshalFields(f)
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.Post(e.srv.URL+"/"+string(protocol.ClaimsNotice), "application/json", bytes.NewReader(body))
					if err != nil {
						errs[i] = err
						return
					}
					defer resp.Body.Close()
					var r protocol.Response
					errs[i] = json.NewDecoder(resp.Body).Decode(&r)
					codes[i] = r.Code
				}()
			}
			wg.Wait()
			ok := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				ok += codes[i]
			}
			if ok != 1 {
				t.Errorf("%d of %d claims of 150000.00 on a bond of 200000.00 accepted, want 1 (codes %v)", ok, n, codes)
			}
			claims, err := e.svc.Claims(context.Background())
			if err != nil || len(claims) != 1 {
				t.Errorf("claims recorded: %d %v", len(claims), err)
			}
		})
	}
}
