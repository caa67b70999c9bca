package ses_test

import (
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// Verify checks every seal of a document: the digests of the entries it
// protects, the SM2 signatures of signer and seal maker, the seal's holder
// and validity, and, with trust roots, the certificate chains. A changed
// entry is named.
func ExampleVerify() {
	// A one-page document sealed by an institution of a test CA.
	ca, err := testca.New("示例CA")
	if err != nil {
		panic(err)
	}
	inst, err := ca.Issue("示例融资担保有限公司", testca.Institution)
	if err != nil {
		panic(err)
	}
	b := ofd.NewBuilder(ofd.Info{Title: "示例", Created: time.Now()})
	b.AddPage().Text(25, 30, ofd.TextStyle{Font: b.Font("宋体", "宋体"), Size: 5}, "投标保函")
	doc, err := b.Bytes()
	if err != nil {
		panic(err)
	}
	seal, err := ses.MakeSeal(inst.Key, inst.Cert, ses.SealSpec{Type: ses.SealTypeOrganization, Name: "示例融资担保有限公司保函专用章",
		Holders: []*smx509.Certificate{inst.Cert}, ValidStart: inst.Cert.NotBefore, ValidEnd: inst.Cert.NotAfter})
	if err != nil {
		panic(err)
	}
	signed, err := ses.Sign(doc, ses.Signer{Key: inst.Key, Cert: inst.Cert, Seal: seal}, ses.SignOptions{
		Time: time.Now(), Stamps: []ses.Stamp{{Page: 0, Box: ofd.Box{X: 130, Y: 220, W: 40, H: 40}}}})
	if err != nil {
		panic(err)
	}

	rep, err := ses.Verify(signed, ca.Pool())
	if err != nil {
		panic(err)
	}
	for _, r := range rep.Signatures {
		fmt.Println(r.Signer, r.SealName, r.Stamps, r.OK())
	}
	fmt.Println("document verified:", rep.OK(), "chains checked:", rep.TrustChecked)

	// Someone edits the page after sealing.
	pkg, err := ofd.Open(signed)
	if err != nil {
		panic(err)
	}
	content, _ := pkg.File("Doc_0/Pages/Page_0/Content.xml")
	edited := append([]byte(nil), content...)
	edited[len(edited)/2] ^= 1
	if err := pkg.Replace("Doc_0/Pages/Page_0/Content.xml", edited, time.Time{}); err != nil {
		panic(err)
	}
	tampered, _ := pkg.Bytes()
	rep, _ = ses.Verify(tampered, ca.Pool())
	f := rep.Signatures[0].Failure()
	fmt.Println("document verified:", rep.OK(), "first failure:", f.Name, f.Entry)
	// Output:
	// 示例融资担保有限公司 示例融资担保有限公司保函专用章 [page 1] true
	// document verified: true chains checked: true
	// document verified: false first failure: reference /Doc_0/Pages/Page_0/Content.xml
}
