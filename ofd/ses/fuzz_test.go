package ses_test

import (
	"testing"
	"time"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// FuzzVerify changes the signature files of a signed document: Verify
// must report, never panic, and never pass a changed SignedValue.dat or
// Signature.xml.
func FuzzVerify(f *testing.F) {
	pki := ofdtest.NewPKI(f)
	signed, err := ses.Sign(sampleDoc(f), institutionSigner(f, pki), ses.SignOptions{Time: signTime,
		Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 10, Y: 10, W: 40, H: 40}}}})
	if err != nil {
		f.Fatal(err)
	}
	base, err := ofd.Open(signed)
	if err != nil {
		f.Fatal(err)
	}
	value, _ := base.File("Doc_0/Signs/Sign_0/SignedValue.dat")
	sigXML, _ := base.File("Doc_0/Signs/Sign_0/Signature.xml")
	sigs, _ := base.File("Doc_0/Signs/Signatures.xml")
	f.Add(value, sigXML, sigs)
	f.Fuzz(func(t *testing.T, v, x, s []byte) {
		p := base.Clone()
		_ = p.Replace("Doc_0/Signs/Sign_0/SignedValue.dat", v, time.Time{})
		_ = p.Replace("Doc_0/Signs/Sign_0/Signature.xml", x, time.Time{})
		_ = p.Replace("Doc_0/Signs/Signatures.xml", s, time.Time{})
		rep, err := ses.VerifyPackage(p, pki.Pool)
		_ = ses.Appearances(p)
		if err != nil {
			return
		}
		if rep.OK() && (string(v) != string(value) || string(x) != string(sigXML)) {
			t.Fatalf("changed signature files verify")
		}
	})
}

// FuzzParseSeal feeds arbitrary DER to the seal parser.
func FuzzParseSeal(f *testing.F) {
	pki := ofdtest.NewPKI(f)
	f.Add(institutionSigner(f, pki).Seal.Raw)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ses.ParseSeal(b)
		if err != nil {
			return
		}
		_ = s.Verify()
		_ = s.Holds(pki.Institution.Cert)
	})
}
