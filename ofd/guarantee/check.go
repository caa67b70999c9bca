package guarantee

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

// Rules a received guarantee is checked against (Violation.Rule), in the
// order Check applies them.
const (
	RuleDocument  = "document"  // the file is an OFD document that reads
	RuleIdentity  = "identity"  // it is the application's guarantee: baohanno, applyno, filetype
	RuleSeals     = "seals"     // it is sealed and every seal verifies against the trust roots
	RuleCoverage  = "coverage"  // every entry is covered by a seal
	RuleSealer    = "sealer"    // every seal is the institution's
	RuleCipher    = "cipher"    // filetype 2: the attached ciphertext guarantee is the one accepted
	RuleAgreement = "agreement" // the 保函委托协议 signed by the bidder is attached
)

// AgreementAttachmentName is the name under which the institution
// attaches the signed agreement to the ciphertext guarantee (Check finds
// an agreement under any name).
const AgreementAttachmentName = "保函委托协议.ofd"

// DefaultMaxAgreementSize bounds an attached OFD that Check reads as the
// agreement: an agreement is a few pages and a seal (tens of KB), and it
// is read into memory, unlike the guarantee, whose large entries are
// hashed as a stream.
const DefaultMaxAgreementSize = 8 << 20

// Expectation is what a received guarantee must be (Check).
type Expectation struct {
	// ApplyNo and BaohanNo are the application's; the document must name
	// them. Empty: not checked.
	ApplyNo, BaohanNo string
	// FileType is 1 (ciphertext guarantee) or 2 (plaintext guarantee,
	// the merge); 0: not checked.
	FileType int
	// Roots are the trust roots every certificate (the seals' and the
	// bidder's) must chain to; nil checks integrity only (see ses.Verify).
	Roots *smx509.CertPool
	// Institution says whether cert may seal the guarantee (nil error).
	// It is asked for the signer of every seal of the guarantee. Nil: any
	// signer.
	Institution func(cert *smx509.Certificate) error
	// Bidder says whether cert is the bidder's (nil error). Nil: the
	// agreement is not looked for.
	Bidder func(cert *smx509.Certificate) error
	// CreditCode reads the 统一社会信用代码 of a signer's certificate,
	// for the verdict and the refusals (the platform reads it where the
	// CA that issued the certificate puts it). Nil: Subject SERIALNUMBER
	// (pki.CreditCode with pki.InSerialNumber).
	CreditCode func(cert *smx509.Certificate) (string, error)
	// CipherSM3 is the SM3 (hex) of the ciphertext guarantee accepted for
	// the application; for filetype 2, an attached 密文保函.ofd must be it.
	// Empty: not checked.
	CipherSM3 string
	// MaxAgreementSize bounds an attached OFD read as the agreement
	// (default DefaultMaxAgreementSize).
	MaxAgreementSize int64
}

// Verdict is what Check found.
type Verdict struct {
	// Seals is the verification of the guarantee's own seals.
	Seals *ses.Report `json:"seals,omitempty"`
	// Agreement is the attached agreement signed by the bidder.
	Agreement *SignedAgreement `json:"agreement,omitempty"`
	// CipherSM3 is the SM3 of the attached 密文保函.ofd (filetype 2).
	CipherSM3 string `json:"cipher_sm3,omitempty"`
}

// SignedAgreement is the agreement found attached to a guarantee.
type SignedAgreement struct {
	Attachment string `json:"attachment"`
	// Signer and SignerCode are the subject CN and credit code (Subject
	// SERIALNUMBER) of the bidder's certificate that signed it.
	Signer     string      `json:"signer,omitempty"`
	SignerCode string      `json:"signer_code,omitempty"`
	Seals      *ses.Report `json:"seals,omitempty"`
	// InCipher: a plaintext guarantee (filetype 2) whose agreement is not
	// attached to it directly but carried inside the attached ciphertext
	// guarantee, which is the one accepted (and checked) before.
	InCipher bool `json:"in_cipher,omitempty"`
}

// Violation is a rule a guarantee breaks: the rule and what, precisely,
// breaks it (the entry, the signature and certificate, both values).
type Violation struct {
	Rule string
	Msg  string
}

func (v *Violation) Error() string { return v.Msg }

func violation(rule, format string, a ...any) *Violation {
	return &Violation{Rule: rule, Msg: fmt.Sprintf(format, a...)}
}

// Check verifies a received guarantee document against e:
//
//   - document: the package reads as an OFD document;
//   - identity: its CustomData baohanno, applyno and filetype (what Build
//     writes), where present, are the application's; without a
//     CustomData baohanno the pages must show the application's baohanno;
//   - seals: it carries seals (GB/T 38540) and each verifies, chained to
//     e.Roots;
//   - coverage: no entry is outside every seal (content added after the
//     last seal is not part of what was sealed);
//   - sealer: e.Institution accepts the signer of every seal;
//   - cipher (filetype 2): an attached 密文保函.ofd (Merge) is, byte for
//     byte, the ciphertext guarantee accepted before (e.CipherSM3);
//   - agreement (when e.Bidder is set): an attached OFD is the agreement
//     (保函委托协议): not larger than e.MaxAgreementSize, naming no other
//     application in its CustomData, every signature valid and chained,
//     no content outside them, and signed by a certificate e.Bidder
//     accepts. A plaintext guarantee satisfies this also through its
//     attached ciphertext guarantee when that is the one accepted.
//
// The error is a *Violation naming the first rule broken; the verdict
// holds what was found up to there. Large entries of a package opened
// with ofd.OpenReaderAtLazy are hashed as a stream; only an attached
// agreement is read into memory, within MaxAgreementSize.
func Check(pkg *ofd.Package, e Expectation) (*Verdict, error) {
	v := &Verdict{}
	doc, err := ofd.Read(pkg)
	if err != nil {
		return v, violation(RuleDocument, "the file does not read as an OFD document: %v", err)
	}
	if err := checkIdentity(doc, e, "the document", false); err != nil {
		return v, err
	}
	rep, err := ses.VerifyPackage(pkg, e.Roots)
	v.Seals = rep
	if err := sealFailure(rep, err); err != "" {
		return v, violation(RuleSeals, "seal verification failed: %s", err)
	}
	if len(rep.Unprotected) > 0 {
		return v, violation(RuleCoverage, "content no seal covers: %s (entries added after the last seal are not part of the sealed guarantee)",
			listEntries(rep.Unprotected))
	}
	if e.Institution != nil {
		for _, s := range rep.Signatures {
			if err := e.Institution(s.SignerCert); err != nil {
				return v, violation(RuleSealer, "seal %s (%s) is signed with %s, which is not the institution's seal: %v",
					s.ID, s.Path, e.describeCert(s.SignerCert), err)
			}
		}
	}
	cipherOK := false
	if e.FileType == 2 {
		if a, ok := doc.Attachment(CipherAttachmentName); ok {
			sum, err := entrySM3(pkg, a.Path)
			if err != nil {
				return v, violation(RuleCipher, "the attachment %s (%s) cannot be read: %v", CipherAttachmentName, "/"+a.Path, err)
			}
			v.CipherSM3 = sum
			if e.CipherSM3 != "" {
				if subtle.ConstantTimeCompare([]byte(sum), []byte(strings.ToLower(e.CipherSM3))) != 1 {
					return v, violation(RuleCipher, "the attachment %s is not the ciphertext guarantee accepted for applyno %s: SM3 %s, accepted %s",
						CipherAttachmentName, e.ApplyNo, sum, strings.ToLower(e.CipherSM3))
				}
				cipherOK = true
			}
		}
	}
	if e.Bidder == nil {
		return v, nil
	}
	var reasons []string
	for _, a := range doc.Attachments {
		if !isOFD(a) || a.Name == CipherAttachmentName {
			continue
		}
		ag, err := checkAgreement(pkg, a, e)
		if err == nil {
			v.Agreement = ag
			return v, nil
		}
		reasons = append(reasons, fmt.Sprintf("attachment %s: %v", a.Name, err))
	}
	if cipherOK {
		v.Agreement = &SignedAgreement{Attachment: CipherAttachmentName, InCipher: true}
		return v, nil
	}
	if len(reasons) == 0 {
		return v, violation(RuleAgreement, "no agreement (保函委托协议) is attached: the document has no OFD attachment, and the agreement signed by the bidder with its CA certificate must be")
	}
	return v, violation(RuleAgreement, "no agreement (保函委托协议) signed by the bidder is attached: %s", strings.Join(reasons, "; "))
}

// checkAgreement checks one attached OFD as the agreement.
func checkAgreement(pkg *ofd.Package, a *ofd.Attachment, e Expectation) (*SignedAgreement, error) {
	limit := e.MaxAgreementSize
	if limit <= 0 {
		limit = DefaultMaxAgreementSize
	}
	if size := entrySize(pkg, a.Path); size > limit {
		return nil, fmt.Errorf("%d bytes, more than the %d an agreement may have", size, limit)
	}
	b := a.Data
	if b == nil {
		var err error
		if b, err = pkg.ReadFile(a.Path); err != nil {
			return nil, fmt.Errorf("cannot be read: %v", err)
		}
	}
	apkg, err := ofd.OpenLimits(b, ofd.Limits{MaxEntries: 1024, MaxEntrySize: limit, MaxTotalSize: 4 * limit})
	if err != nil {
		return nil, fmt.Errorf("not an OFD package: %v", err)
	}
	ad, err := ofd.Read(apkg)
	if err != nil {
		return nil, fmt.Errorf("does not read as an OFD document: %v", err)
	}
	if err := checkIdentity(ad, Expectation{ApplyNo: e.ApplyNo, BaohanNo: e.BaohanNo}, "the agreement", true); err != nil {
		return nil, err
	}
	rep, err := ses.VerifyPackage(apkg, e.Roots)
	if f := sealFailure(rep, err); f != "" {
		return nil, fmt.Errorf("its signatures do not verify: %s", f)
	}
	if len(rep.Unprotected) > 0 {
		return nil, fmt.Errorf("content no signature covers: %s", listEntries(rep.Unprotected))
	}
	var others []string
	for _, s := range rep.Signatures {
		err := e.Bidder(s.SignerCert)
		if err == nil {
			return &SignedAgreement{Attachment: a.Name, Signer: s.Signer, SignerCode: e.creditCode(s.SignerCert), Seals: rep}, nil
		}
		others = append(others, fmt.Sprintf("signature %s is by %s: %v", s.ID, e.describeCert(s.SignerCert), err))
	}
	return nil, fmt.Errorf("not signed by the bidder (%s)", strings.Join(others, "; "))
}

// checkIdentity compares the document's CustomData (and, without a
// baohanno there, its text) with the expected numbers. An agreement
// (partOf) needs name neither number, but must name no other: its empty
// values are not compared (BuildAgreement leaves baohanno empty when the
// guarantee has no number yet).
func checkIdentity(d *ofd.Document, e Expectation, what string, partOf bool) error {
	type field struct{ name, value string }
	want := []field{{"baohanno", e.BaohanNo}, {"applyno", e.ApplyNo}}
	if e.FileType != 0 {
		want = append(want, field{"filetype", strconv.Itoa(e.FileType)})
	}
	for _, w := range want {
		if w.value == "" {
			continue
		}
		found := false
		for _, c := range d.Info.Custom {
			if c.Name != w.name {
				continue
			}
			found = true
			got := strings.TrimSpace(c.Value)
			if got != w.value && !(partOf && got == "") {
				return violation(RuleIdentity, "%s's %s is %q (OFD.xml CustomData %s), the application's is %q",
					what, w.name, c.Value, w.name, w.value)
			}
		}
		if !found && !partOf && w.name == "baohanno" && !strings.Contains(d.Text(), w.value) {
			return violation(RuleIdentity, "%s names no baohanno: OFD.xml has no CustomData baohanno and the pages do not show the application's baohanno %q",
				what, w.value)
		}
	}
	return nil
}

// sealFailure describes why a document's seals do not hold, "" when they do.
func sealFailure(rep *ses.Report, err error) string {
	switch {
	case errors.Is(err, ses.ErrNotSigned):
		return "the OFD carries no seal (GB/T 38540 signature)"
	case err != nil:
		return err.Error()
	case !rep.OK():
		for _, s := range rep.Signatures {
			if c := s.Failure(); c != nil {
				msg := fmt.Sprintf("signature %s by %q: check %s failed", s.ID, s.Signer, c.Name)
				if c.Entry != "" {
					msg += " on " + c.Entry
				}
				if c.Detail != "" {
					msg += ": " + c.Detail
				}
				return msg
			}
		}
		return "no signature verified"
	}
	return ""
}

// creditCode is the credit code of c as e reads it, "" for none.
func (e *Expectation) creditCode(c *smx509.Certificate) string {
	read := e.CreditCode
	if read == nil {
		read = func(c *smx509.Certificate) (string, error) { return pki.CreditCode(c, pki.InSerialNumber) }
	}
	code, _ := read(c)
	return code
}

// describeCert names a certificate in a refusal: subject, credit code,
// serial number and issuer.
func (e *Expectation) describeCert(c *smx509.Certificate) string {
	if c == nil {
		return "no certificate"
	}
	code := e.creditCode(c)
	if code == "" {
		code = "none"
	}
	org := ""
	if len(c.Subject.Organization) > 0 && c.Subject.Organization[0] != c.Subject.CommonName {
		org = fmt.Sprintf(", O %q", c.Subject.Organization[0])
	}
	return fmt.Sprintf("the certificate of %q%s (credit code %s, serial %s, issued by %q)",
		c.Subject.CommonName, org, code, c.SerialNumber.Text(16), c.Issuer.CommonName)
}

func listEntries(names []string) string {
	const most = 5
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

func isOFD(a *ofd.Attachment) bool {
	return strings.EqualFold(strings.TrimSpace(a.Format), "ofd") || strings.EqualFold(path.Ext(a.Name), ".ofd")
}

func entrySize(pkg *ofd.Package, name string) int64 {
	for _, e := range pkg.Entries() {
		if e.Name == name {
			return e.Size()
		}
	}
	return 0
}

// entrySM3 hashes an entry as a stream (a lazy entry is never held whole).
func entrySM3(pkg *ofd.Package, name string) (string, error) {
	rc, err := pkg.OpenFile(name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sm3.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
