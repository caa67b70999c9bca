package institution

import (
	"testing"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/transport"
)

// FuzzApplyCiphertexts: whatever a platform sends as applydata and
// digitalenvelope, the check answers (no panic) and accepts only
// well-shaped ciphertexts.
func FuzzApplyCiphertexts(f *testing.F) {
	f.Add("QUFBQUFBQUFBQUFBQUFBQQ==", "ZW52ZWxvcGU=", "c1c3c2")
	f.Add("", "", "asn1")
	f.Add("!!!", "MIIB", "c1c2c3")
	f.Fuzz(func(t *testing.T, applyData, envelope, layout string) {
		p := Platform{Peer: config.Peer{Name: "p", AppKey: "k", AppSecret: "s", SM2Layout: layout}}
		tp, err := p.Transport()
		if err != nil {
			return
		}
		ps, err := newPeerSet([]Platform{p}, map[string]*transport.Peer{"p": tp})
		if err != nil {
			t.Fatal(err)
		}
		_, _, _ = checkApplyCiphertexts(applyData, envelope, ps.byName["p"])
	})
}

// FuzzDecryptProject: any key and ciphertexts give fields or a refusal
// naming the field.
func FuzzDecryptProject(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), "QUFBQUFBQUFBQUFBQUFBQQ==", "x", "", "")
	f.Fuzz(func(t *testing.T, key []byte, a, b, c, d string) {
		if len(key) != 16 {
			return
		}
		_, err := decryptProject(key, Project{BiaoduanNo: a, BiaoduanName: b, Zbr: c, ZbrOrgNum: d})
		if err != nil && !baohan.IsRefusal(err) {
			t.Fatalf("not a refusal: %v", err)
		}
	})
}
