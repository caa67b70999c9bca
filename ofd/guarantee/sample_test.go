package guarantee_test

import (
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
	"github.com/baohan-dev/baohan/ofd/ses"
)

func TestSample(t *testing.T) {
	pki := ofdtest.NewPKI(t)
	inst := guarantee.Party{Key: pki.Institution.Key, Cert: pki.Institution.Cert}
	bidder := guarantee.Party{Key: pki.Bidder.Key, Cert: pki.Bidder.Cert}
	// The merged plaintext guarantee carries the sealed ciphertext one as
	// an attachment and is sealed once more, on both forms' seal areas.
	for _, tt := range []struct {
		plaintext bool
		stamps    string
	}{
		{false, "page 1"},
		{true, "page 1, page 2"},
	} {
		doc, err := guarantee.Sample(inst, bidder, now, tt.plaintext)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ses.Verify(doc, pki.Pool)
		if err != nil || !rep.OK() || len(rep.Signatures) != 1 {
			t.Fatalf("plaintext=%v: %v, report %+v", tt.plaintext, err, rep)
		}
		sig := rep.Signatures[0]
		if sig.Signer != inst.Cert.Subject.CommonName || strings.Join(sig.Stamps, ", ") != tt.stamps {
			t.Errorf("plaintext=%v: sealed by %q on %v", tt.plaintext, sig.Signer, sig.Stamps)
		}
		d := read(t, doc)
		// The project name is plaintext on the first page of the plaintext
		// guarantee only.
		if got := strings.Contains(d.Pages[0].Text(), "某市城北片区道路改造工程施工第一标段"); got != tt.plaintext {
			t.Errorf("plaintext=%v: first page shows the project name: %v", tt.plaintext, got)
		}
		if !strings.Contains(d.Pages[0].Text(), "BH"+now.Format("20060102150405")) {
			t.Errorf("plaintext=%v: no guarantee number from the clock on page 1", tt.plaintext)
		}
		agr, ok := d.Attachment(guarantee.AgreementAttachment)
		if !ok {
			t.Fatalf("plaintext=%v: no agreement attached", tt.plaintext)
		}
		arep, err := ses.Verify(agr.Data, pki.Pool)
		if err != nil || !arep.OK() || arep.Signatures[0].Signer != bidder.Cert.Subject.CommonName {
			t.Errorf("plaintext=%v: agreement: %v %+v", tt.plaintext, err, arep)
		}
	}
}
