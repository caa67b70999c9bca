package guarantee_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

func TestSample(t *testing.T) {
	tp := ofdtest.NewPKI(t)
	inst := guarantee.Party{Key: tp.Institution.Key, Cert: tp.Institution.Cert}
	bidder := guarantee.Party{Key: tp.Bidder.Key, Cert: tp.Bidder.Cert}
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
		rep, err := ses.Verify(doc, tp.Pool)
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
		arep, err := ses.Verify(agr.Data, tp.Pool)
		if err != nil || !arep.OK() || arep.Signatures[0].Signer != bidder.Cert.Subject.CommonName {
			t.Errorf("plaintext=%v: agreement: %v %+v", tt.plaintext, err, arep)
		}
	}
}

// TestSampleFromCA: the parties are issued in the CA directory the first
// time and loaded from it the second; the sample chains to that CA.
func TestSampleFromCA(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	roots, err := gm.LoadTrustRoots(filepath.Join(dir, pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		issued []string
	}{
		{[]string{"institution certificate " + filepath.Join(dir, "银行.cert.pem"), "bidder certificate " + filepath.Join(dir, "投标人.cert.pem")}},
		{nil},
	} {
		doc, parties, issued, err := guarantee.SampleFromCA(dir, "银行", "投标人", time.Now().In(guarantee.CST), false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(issued, tt.issued) || parties[0].Cert.Subject.CommonName != "银行" || parties[1].Cert.Subject.CommonName != "投标人" {
			t.Errorf("issued %q, parties %q %q; want %q", issued, parties[0].Cert.Subject.CommonName, parties[1].Cert.Subject.CommonName, tt.issued)
		}
		if rep, err := ses.Verify(doc, roots.Pool()); err != nil || !rep.OK() || !rep.TrustChecked {
			t.Errorf("the sample does not verify against its CA: %v %+v", err, rep)
		}
	}
	if _, _, _, err := guarantee.SampleFromCA(t.TempDir(), "银行", "投标人", now, false); err == nil {
		t.Error("no CA in the directory: no error")
	}
}
