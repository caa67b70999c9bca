package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm/testca"
)

func TestSealedGuaranteeVerifies(t *testing.T) {
	ca, err := testca.New("测试CA")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue("测试担保公司", testca.Institution)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := SealedGuarantee(id)
	if err != nil {
		t.Fatal(err)
	}
	g := GuaranteeInfo{ApplyNo: "A1", BaohanNo: "BH1", InstName: id.Name, BidderName: "投标人", BidderCode: "91110000000000000X",
		Amount: "20000.00", BiaoduanNo: "BD-001", BiaoduanName: "某某工程", Zbr: "某某招标人", Plain: true, Issued: time.Now()}
	file, err := mk(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	summary, text, err := DefaultVerifier(file, []*smx509.Certificate{ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BD-001", "某某工程", "某某招标人", "BH1"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q: %s", want, text)
		}
	}
	if !strings.Contains(summary, "chained to the trust roots") {
		t.Errorf("summary %q", summary)
	}
	// Another CA's root: the chain fails.
	other, _ := testca.New("别的CA")
	if _, _, err := DefaultVerifier(file, []*smx509.Certificate{other.Cert}); err == nil {
		t.Error("verified against an unrelated root")
	}
	// A flipped byte: not an OFD, or seals fail.
	bad := append([]byte(nil), file...)
	bad[len(bad)/2] ^= 0xff
	if _, _, err := DefaultVerifier(bad, nil); err == nil {
		t.Error("a damaged file verified")
	}
}
