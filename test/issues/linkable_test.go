package issues

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// TestProjectFieldsNotLinkable: the four project fields travel encrypted
// (SM4-ECB) so that the institution cannot tell which section a bidder
// bids on before the opening (名单保密). With one key per section and a
// deterministic cipher, every application of a section carries the same
// ciphertexts: an institution that underwrites two bidders of a section
// sees at once that they compete with each other, before the opening —
// exactly what the list secrecy is to prevent (collusion, 围标串标).
// baohanrestore carries the key per applyno, so nothing on the wire needs
// the key to be the section's: a key per application (random, or derived
// from the section key and the applyno) keeps the wire format and makes
// the ciphertexts unlinkable.
func TestProjectFieldsNotLinkable(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	ctx := context.Background()
	other, err := s.PKI.CA.Issue("另一家建设有限公司", testca.Bidder, testca.WithCreditCode("91110000MA01BDD027"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Plat.RegisterBidder(ctx, platform.BidderInput{Name: other.Name, CreditCode: other.CreditCode, CertPEM: string(other.CertPEM)}); err != nil {
		t.Fatal(err)
	}
	sec := s.Section(time.Hour)
	a1 := s.Apply(sec.No)
	a2, err := s.Plat.Apply(ctx, platform.ApplyInput{SectionNo: sec.No, BidderCode: other.CreditCode, Institution: harness.InstitutionName, Product: harness.Product})
	if err != nil {
		t.Fatal(err)
	}
	s.Token(a1, 10*time.Second)
	s.Token(a2.ApplyNo, 10*time.Second)
	seen := map[string]protocol.ApplyData{}
	for _, ex := range s.InstDoor.Exchanges() {
		var f map[string]string
		json.Unmarshal(ex.Request, &f)
		if f["applydata"] == "" {
			continue
		}
		ct, _ := base64.StdEncoding.DecodeString(f["digitalenvelope"])
		for _, id := range []*testca.Identity{s.PKI.Bidder, other} {
			key, err := gm.SM2Decrypt(id.Key, ct, gm.C1C3C2)
			if err != nil {
				continue
			}
			plain, err := gm.DecryptField(key, f["applydata"])
			if err != nil {
				t.Fatal(err)
			}
			var ad protocol.ApplyData
			if err := json.Unmarshal([]byte(plain), &ad); err != nil {
				t.Fatal(err)
			}
			seen[f["applyno"]] = ad
		}
	}
	d1, d2 := seen[a1], seen[a2.ApplyNo]
	if d1.BiaoduanNo == "" || d2.BiaoduanNo == "" {
		t.Fatalf("applydata of both applications not seen: %+v", seen)
	}
	for _, p := range [][3]string{{"biaoduanno", d1.BiaoduanNo, d2.BiaoduanNo}, {"biaoduanname", d1.BiaoduanName, d2.BiaoduanName},
		{"zbr", d1.Zbr, d2.Zbr}, {"zbrorgnum", d1.ZbrOrgNum, d2.ZbrOrgNum}} {
		if p[1] == p[2] {
			t.Errorf("%s: the two bidders' applications carry the same ciphertext %.24s…: the institution links them to one section before the opening", p[0], p[1])
		}
	}
}
