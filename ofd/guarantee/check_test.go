package guarantee_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/internal/ofdtest"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// issuer makes the documents of the issuing flow for the Check tests.
type issuer struct {
	t     *testing.T
	pki   *ofdtest.PKI
	seals map[*smx509.Certificate]*ses.Seal // made once each: the pictures take time
}

func (is issuer) signer(p ofdtest.Party, name string, bidder bool) ses.Signer {
	is.t.Helper()
	seal := is.seals[p.Cert]
	if seal == nil {
		mk := guarantee.InstitutionSeal
		if bidder {
			mk = guarantee.BidderSeal
		}
		var err error
		if seal, err = mk(p.Key, p.Cert, name, p.Cert.NotBefore, p.Cert.NotAfter); err != nil {
			is.t.Fatal(err)
		}
		is.seals[p.Cert] = seal
	}
	return ses.Signer{Key: p.Key, Cert: p.Cert, Seal: seal}
}

// agreement is the sample agreement signed by p (unsigned when p is nil),
// with padding bytes of random content attached before signing.
func (is issuer) agreement(p *ofdtest.Party, applyNo string, padding int) []byte {
	is.t.Helper()
	a := sampleAgreement()
	a.ApplyNo = applyNo
	doc, err := guarantee.BuildAgreement(a)
	if err != nil {
		is.t.Fatal(err)
	}
	if padding > 0 {
		pad := make([]byte, padding)
		rand.Read(pad)
		if doc, err = guarantee.Attach(doc, "扫描件.bin", pad); err != nil {
			is.t.Fatal(err)
		}
	}
	if p == nil {
		return doc
	}
	doc, err = guarantee.SignAgreement(doc, is.signer(*p, a.Bidder, true), now)
	if err != nil {
		is.t.Fatal(err)
	}
	return doc
}

// cipher is the ciphertext guarantee with agreement attached (none when
// nil), sealed by sealer (unsealed when nil).
func (is issuer) cipher(agreement []byte, sealer *ofdtest.Party) []byte {
	is.t.Helper()
	o := opts()
	if agreement != nil {
		o.Attachments = []ofd.Attachment{{Name: guarantee.AgreementAttachmentName, Format: "ofd", Data: agreement}}
	}
	doc, err := guarantee.Build(sampleData(is.t, true), o)
	if err != nil {
		is.t.Fatal(err)
	}
	return is.seal(doc, sealer)
}

func (is issuer) seal(doc []byte, sealer *ofdtest.Party) []byte {
	is.t.Helper()
	if sealer == nil {
		return doc
	}
	doc, err := guarantee.Seal(doc, is.signer(*sealer, "测试融资担保股份有限公司", false), now)
	if err != nil {
		is.t.Fatal(err)
	}
	return doc
}

// plain is the plaintext guarantee merged with cipher and sealed.
func (is issuer) plain(cipher []byte) []byte {
	is.t.Helper()
	p, err := guarantee.Build(sampleData(is.t, false), opts())
	if err != nil {
		is.t.Fatal(err)
	}
	merged, err := guarantee.Merge(p, cipher)
	if err != nil {
		is.t.Fatal(err)
	}
	return is.seal(merged, &is.pki.Institution)
}

// plainPage is a one-page sealed document that names baohanNo on its
// page only (no CustomData), with agreement attached.
func (is issuer) plainPage(text string, agreement []byte) []byte {
	is.t.Helper()
	b := ofd.NewBuilder(ofd.Info{Title: "投标保函", Created: now})
	b.AddPage().Text(20, 30, ofd.TextStyle{Font: b.Font("宋体", "宋体"), Size: 5}, text)
	if err := b.Attach(ofd.Attachment{Name: "委托协议.ofd", Format: "ofd", Data: agreement}); err != nil {
		is.t.Fatal(err)
	}
	doc, err := b.Bytes()
	if err != nil {
		is.t.Fatal(err)
	}
	doc, err = ses.Sign(doc, is.signer(is.pki.Institution, "测试融资担保股份有限公司", false), ses.SignOptions{Time: now})
	if err != nil {
		is.t.Fatal(err)
	}
	return doc
}

// addAfter adds an entry to a sealed document: content no seal covers.
func addAfter(t *testing.T, doc []byte, name string) []byte {
	t.Helper()
	pkg, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := pkg.Add(name, []byte("<x>追加</x>"), now); err != nil {
		t.Fatal(err)
	}
	b, err := pkg.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flipIn changes old to new in the entry name of a sealed document.
func flipIn(t *testing.T, doc []byte, name, old, new string) []byte {
	t.Helper()
	pkg, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pkg.File(name)
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not hold %q", name, old)
	}
	b = bytes.Replace(b, []byte(old), []byte(new), 1)
	if err := pkg.Replace(name, b, now); err != nil {
		t.Fatal(err)
	}
	out, err := pkg.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sm3Hex(b []byte) string {
	s := sm3.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestCheck: what a platform receives is checked against the
// application: the guarantee the issuing flow makes (ciphertext, and the
// plaintext merged with it) holds; each rule is broken once and named,
// with the values, entry or certificate concerned.
func TestCheck(t *testing.T) {
	pki := ofdtest.NewPKI(t)
	is := issuer{t: t, pki: pki, seals: map[*smx509.Certificate]*ses.Seal{}}
	other := pki.Issue(t, "另一家建设有限公司", "91330000MA00THER0L", 9)
	const applyNo, baohanNo = "SQ202611270001", "BH20261127000123"

	signed := is.agreement(&pki.Bidder, applyNo, 0)
	cipher := is.cipher(signed, &pki.Institution)
	noAgreement := is.cipher(nil, &pki.Institution)
	lazyAgreement := is.agreement(&pki.Bidder, applyNo, ofd.LazyThreshold+1<<10)

	expect := func(fileType int) guarantee.Expectation {
		return guarantee.Expectation{ApplyNo: applyNo, BaohanNo: baohanNo, FileType: fileType, Roots: pki.Pool,
			Institution: func(c *smx509.Certificate) error {
				if !c.Equal(pki.Institution.Cert) {
					return errors.New("not the pinned seal certificate")
				}
				return nil
			},
			Bidder: func(c *smx509.Certificate) error {
				if !c.Equal(pki.Bidder.Cert) {
					return fmt.Errorf("the bidder is %s", pki.Bidder.Cert.Subject.SerialNumber)
				}
				return nil
			},
			CipherSM3: sm3Hex(cipher),
		}
	}
	with := func(fileType int, f func(*guarantee.Expectation)) guarantee.Expectation {
		e := expect(fileType)
		f(&e)
		return e
	}

	for _, c := range []struct {
		name   string
		doc    []byte
		e      guarantee.Expectation
		lazy   bool
		rule   string   // "" : holds
		want   []string // in the message
		signer string   // of the agreement found
		inCiph bool
	}{
		{name: "ciphertext guarantee as issued", doc: cipher, e: expect(1), signer: "测试建设工程有限公司"},
		{name: "ciphertext guarantee, opened lazily, agreement in the zip", doc: is.cipher(lazyAgreement, &pki.Institution), e: expect(1), lazy: true, signer: "测试建设工程有限公司"},
		{name: "plaintext guarantee merged with it", doc: is.plain(cipher), e: expect(2), signer: "测试建设工程有限公司"},
		{name: "plaintext guarantee whose agreement is inside the ciphertext one", doc: is.plain(noAgreement),
			e: with(2, func(e *guarantee.Expectation) { e.CipherSM3 = sm3Hex(noAgreement) }), inCiph: true},
		{name: "the number on the page, no CustomData", doc: is.plainPage("保函编号："+baohanNo, signed), e: expect(0), signer: "测试建设工程有限公司"},

		{name: "another application's baohanno", doc: cipher, e: with(1, func(e *guarantee.Expectation) { e.BaohanNo = "BH-OTHER" }),
			rule: guarantee.RuleIdentity, want: []string{"baohanno", baohanNo, "BH-OTHER"}},
		{name: "another application's applyno", doc: cipher, e: with(1, func(e *guarantee.Expectation) { e.ApplyNo = "SQ-OTHER" }),
			rule: guarantee.RuleIdentity, want: []string{"applyno", applyNo, "SQ-OTHER"}},
		{name: "a ciphertext guarantee sent as the plaintext", doc: cipher, e: expect(2),
			rule: guarantee.RuleIdentity, want: []string{"filetype", `"1"`, `"2"`}},
		{name: "no number at all", doc: is.plainPage("投标保函", signed), e: expect(0),
			rule: guarantee.RuleIdentity, want: []string{"names no baohanno", baohanNo}},
		{name: "not sealed", doc: is.cipher(signed, nil), e: expect(1),
			rule: guarantee.RuleSeals, want: []string{"carries no seal"}},
		{name: "changed after sealing", doc: flipIn(t, cipher, "Doc_0/Pages/Page_0/Content.xml", baohanNo, "BH20261127000999"), e: expect(1),
			rule: guarantee.RuleSeals, want: []string{"Content.xml", "changed"}},
		{name: "content added after the seal", doc: addAfter(t, cipher, "Doc_0/Res/追加.xml"), e: expect(1),
			rule: guarantee.RuleCoverage, want: []string{"/Doc_0/Res/追加.xml"}},
		{name: "sealed with the bidder's certificate", doc: is.cipher(signed, &pki.Bidder), e: expect(1),
			rule: guarantee.RuleSealer, want: []string{"测试建设工程有限公司", "91330000MA00TET02F", "not the pinned seal certificate"}},
		{name: "no agreement", doc: noAgreement, e: expect(1),
			rule: guarantee.RuleAgreement, want: []string{"no OFD attachment"}},
		{name: "the agreement unsigned", doc: is.cipher(is.agreement(nil, applyNo, 0), &pki.Institution), e: expect(1),
			rule: guarantee.RuleAgreement, want: []string{guarantee.AgreementAttachmentName, "carries no seal"}},
		{name: "the agreement signed by another", doc: is.cipher(is.agreement(&other, applyNo, 0), &pki.Institution), e: expect(1),
			rule: guarantee.RuleAgreement, want: []string{"not signed by the bidder", "91330000MA00THER0L", "the bidder is 91330000MA00TET02F"}},
		{name: "another application's agreement", doc: is.cipher(is.agreement(&pki.Bidder, "SQ-OTHER", 0), &pki.Institution), e: expect(1),
			rule: guarantee.RuleAgreement, want: []string{"the agreement's applyno", "SQ-OTHER", applyNo}},
		{name: "an agreement too large to read", doc: cipher, e: with(1, func(e *guarantee.Expectation) { e.MaxAgreementSize = 1 << 10 }),
			rule: guarantee.RuleAgreement, want: []string{"more than the 1024"}},
		{name: "the plaintext guarantee carrying another ciphertext guarantee", doc: is.plain(noAgreement), e: expect(2),
			rule: guarantee.RuleCipher, want: []string{guarantee.CipherAttachmentName, sm3Hex(noAgreement), sm3Hex(cipher)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pkg *ofd.Package
			var err error
			if c.lazy {
				pkg, err = ofd.OpenReaderAtLazy(bytes.NewReader(c.doc), int64(len(c.doc)), ofd.DefaultLimits)
			} else {
				pkg, err = ofd.Open(c.doc)
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := guarantee.Check(pkg, c.e)
			if c.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.e.Bidder != nil && (v.Agreement == nil || v.Agreement.Signer != c.signer || v.Agreement.InCipher != c.inCiph) {
					t.Fatalf("agreement %+v, want signed by %q (in the ciphertext guarantee: %v)", v.Agreement, c.signer, c.inCiph)
				}
				if v.Seals == nil || !v.Seals.OK() {
					t.Fatalf("seals %+v", v.Seals)
				}
				return
			}
			var viol *guarantee.Violation
			if !errors.As(err, &viol) {
				t.Fatalf("err %v, want a violation of %s", err, c.rule)
			}
			if viol.Rule != c.rule {
				t.Errorf("rule %s, want %s: %s", viol.Rule, c.rule, viol.Msg)
			}
			for _, w := range c.want {
				if !strings.Contains(viol.Msg, w) {
					t.Errorf("%q does not name %q", viol.Msg, w)
				}
			}
		})
	}
}
