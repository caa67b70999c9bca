package issues

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// TestSealCheck: the platform took any guarantee file with some valid
// seal. An institution (its appsecret is all it takes) could upload, for
// its own application, content added after the seal, a document sealed
// with a bidder's CA certificate or with another institution's seal (all
// chain to the same trust roots), another application's guarantee, and a
// ciphertext guarantee without the 保函委托协议 or with one signed by
// another bidder; each was accepted as the guarantee (code 1,
// cipher_received). Each must be refused with code 0 and a message naming
// the entry, the certificate or both numbers, and the application must
// stay approved. A guarantee made as the institution makes it is
// accepted.
func TestSealCheck(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithChunkSize(256<<10))
	ctx := context.Background()
	otherInst, err := s.PKI.CA.Issue("另一家融资担保有限公司", testca.Institution)
	if err != nil {
		t.Fatal(err)
	}
	otherBidder, err := s.PKI.CA.Issue("另一家建设工程有限公司", testca.Bidder)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Plat.RegisterBidder(ctx, platform.BidderInput{Name: otherBidder.Name, CreditCode: otherBidder.CreditCode,
		CertPEM: string(otherBidder.CertPEM)}); err != nil {
		t.Fatal(err)
	}
	inst := s.AsInstitution()
	// approved makes an application the institution approves by hand
	// (the bidder never comes, so the real institution stays idle).
	n := 0
	approved := func() (applyNo, baohanNo string) {
		t.Helper()
		n++
		applyNo = s.Apply(s.Section(time.Hour).No)
		s.Token(applyNo, 10*time.Second)
		baohanNo = "HXDB-SEAL-" + applyNo[len(applyNo)-8:]
		r, err := inst.Call(protocol.BaohanNotice, map[string]string{"applyno": applyNo, "baohanno": baohanNo, "instname": harness.InstitutionName,
			"generatetime": protocol.FormatTime(s.Clock.Now()), "rate": "0.005", "cost": "4000.00", "applystatus": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 1 {
			t.Fatalf("baohannotice: %q", r.Message)
		}
		return applyNo, baohanNo
	}
	otherApply, otherBaohan := approved()

	for _, c := range []struct {
		name string
		spec func(applyNo, baohanNo string) harness.GuaranteeSpec
		want func(applyNo, baohanNo string) []string // named in the refusal; nil: accepted
	}{
		{"as the institution issues it", func(a, b string) harness.GuaranteeSpec {
			return harness.GuaranteeSpec{ApplyNo: a, BaohanNo: b}
		}, nil},
		{"content added after the seal", func(a, b string) harness.GuaranteeSpec {
			return harness.GuaranteeSpec{ApplyNo: a, BaohanNo: b, After: map[string][]byte{"Doc_0/Res/追加条款.xml": []byte("<x>保函自动展期</x>")}}
		}, names("/Doc_0/Res/追加条款.xml", "no seal covers")},
		{"sealed with the bidder's certificate", func(a, b string) harness.GuaranteeSpec {
			return harness.GuaranteeSpec{ApplyNo: a, BaohanNo: b, Sealer: s.PKI.Bidder}
		}, names(harness.BidderName, harness.BidderCode, "bidder")},
		{"sealed by another institution", func(a, b string) harness.GuaranteeSpec {
			return harness.GuaranteeSpec{ApplyNo: a, BaohanNo: b, Sealer: otherInst}
		}, names(otherInst.Name, otherInst.CreditCode, harness.InstitutionName)},
		{"another application's guarantee", func(a, b string) harness.GuaranteeSpec {
			return harness.GuaranteeSpec{ApplyNo: otherApply, BaohanNo: otherBaohan}
		}, func(_, b string) []string { return []string{"baohanno", otherBaohan, b} }},
		{"no agreement", func(a, b string) harness.GuaranteeSpec {
			return harness.GuaranteeSpec{ApplyNo: a, BaohanNo: b, NoAgreement: true}
		}, names("保函委托协议")},
		{"the agreement signed by another bidder", func(a, b string) harness.GuaranteeSpec {
			return harness.GuaranteeSpec{ApplyNo: a, BaohanNo: b, AgreementSigner: otherBidder}
		}, names("保函委托协议.ofd", otherBidder.CreditCode, harness.BidderCode)},
	} {
		t.Run(c.name, func(t *testing.T) {
			applyNo, baohanNo := approved()
			doc, err := s.GuaranteeOFD(c.spec(applyNo, baohanNo))
			if err != nil {
				t.Fatal(err)
			}
			r, err := inst.Upload(applyNo, baohanNo, "1", doc, 256<<10)
			if err != nil {
				t.Fatal(err)
			}
			state := s.PlatApp(applyNo).State
			if c.want == nil {
				if r.Code != 1 || state != platform.CipherReceived {
					t.Fatalf("code %d %q, state %s; want accepted", r.Code, r.Message, state)
				}
				return
			}
			want := c.want(applyNo, baohanNo)
			if r.Code != 0 {
				t.Fatalf("accepted (code %d, state %s); want code 0 naming %q", r.Code, state, want)
			}
			t.Logf("refused: %s", r.Message)
			for _, w := range want {
				if !strings.Contains(r.Message, w) {
					t.Errorf("the refusal does not name %q", w)
				}
			}
			if state != platform.Approved {
				t.Errorf("state %s after the refusal, want approved", state)
			}
		})
	}
}

// names is a want that does not depend on the application.
func names(ws ...string) func(string, string) []string {
	return func(string, string) []string { return ws }
}
