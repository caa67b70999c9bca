package issues

import (
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
)

// TestClaimsBoundedByTheGuarantee: the institution pays what the
// guarantee guarantees, no more. The platform checks its own claims
// against the bond, but an institution serves platforms of other vendors
// too and must not take the caller's word: it acknowledges (code 1) a
// claimsnotice of 99,999,999.00 on an 800,000.00 guarantee, and a second
// full claim on top of a first (1,600,000.00 demanded on 800,000.00).
// A claim over the guaranteed amount, alone or with the claims before it,
// must be refused with code 0 naming payeramount and the amount
// guaranteed. (The same claim sent twice stays idempotent.)
func TestClaimsBoundedByTheGuarantee(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	baohanNo := s.PlatApp(applyNo).BaohanNo
	claim := func(amount, reason string) *protocol.Response {
		r, err := s.AsPlatform().Call(protocol.ClaimsNotice, map[string]string{"applyno": applyNo, "baohanno": baohanNo,
			"payeraccount": "32001881236052500123", "payeramount": amount, "applyusername": "江苏华信招标代理有限公司 周敏",
			"applyuserphone": "025-86660123", "reason": reason, "filelist": `[{"fileurl":"https://zb.example.cn/f/1.pdf"}]`})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := claim("99999999.00", "超额索赔"); r.Code != 0 || !strings.Contains(r.Message, "payeramount") {
		t.Errorf("a claim of 99999999.00 on a guarantee of 800000.00: code %d %q", r.Code, r.Message)
	} else {
		t.Logf("over the bond: %q", r.Message)
	}
	if r := claim("800000.00", "中标人无正当理由拒绝签订合同"); r.Code != 1 {
		t.Fatalf("a claim of the full amount: code %d %q", r.Code, r.Message)
	}
	if r := claim("800000.00", "中标人无正当理由拒绝签订合同"); r.Code != 1 {
		t.Errorf("the same claim again (a retry): code %d %q", r.Code, r.Message)
	}
	if r := claim("800000.00", "中标人未按要求提交履约担保"); r.Code != 0 || !strings.Contains(r.Message, "payeramount") {
		t.Errorf("a second full claim (1600000.00 demanded on 800000.00): code %d %q", r.Code, r.Message)
	}
}
