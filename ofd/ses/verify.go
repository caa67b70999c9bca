package ses

import (
	"bytes"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// Status is the outcome of one check.
type Status string

// Statuses. A signature holds when none of its checks failed; warnings
// are reported and do not fail it.
const (
	StatusOK      Status = "ok"
	StatusFail    Status = "fail"
	StatusWarn    Status = "warn"
	StatusSkipped Status = "skipped"
)

// Names of the checks, stable for scripts (--json).
const (
	CheckSignatureFile = "signature-file"     // Signatures.xml entry → Signature.xml parses
	CheckReference     = "reference"          // one CheckValue = base64 SM3 of the entry
	CheckCoverage      = "coverage"           // OFD.xml and the document root are protected
	CheckSignedValue   = "signed-value"       // SignedValue.dat is a DER SES_Signature v4
	CheckDataHash      = "data-hash"          // TBS_Sign.dataHash = SM3(Signature.xml)
	CheckPropertyInfo  = "property-info"      // TBS_Sign.propertyInfo names this Signature.xml
	CheckDocSignature  = "document-signature" // SM2 over DER(TBS_Sign) by the signer's certificate
	CheckSealSignature = "seal-signature"     // SM2 over DER(SES_SealInfo) by the seal maker
	CheckSealFile      = "seal-file"          // Seal.esl equals the seal inside TBS_Sign
	CheckSealHolder    = "seal-holder"        // the signer's certificate is in the seal's certList
	CheckSealValidity  = "seal-validity"      // signing time within the seal's validity
	CheckCertValidity  = "cert-validity"      // signing time within the signer's (and maker's) certificate validity
	CheckChain         = "chain"              // certificates chain to the trust roots
	CheckStamp         = "stamp"              // StampAnnots name existing pages
)

// Check is one verification step.
type Check struct {
	Name   string `json:"check"`
	Entry  string `json:"entry,omitempty"` // the package entry concerned, as a location ("/Doc_0/...")
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Result is the verification of one signature.
type Result struct {
	ID           string              `json:"id"`
	Type         string              `json:"type"`
	Path         string              `json:"signature"` // location of Signature.xml
	Signer       string              `json:"signer"`    // subject CN of the signer's certificate
	SignerOrg    string              `json:"signer_org,omitempty"`
	SealName     string              `json:"seal_name,omitempty"`
	SealID       string              `json:"seal_id,omitempty"`
	SealMaker    string              `json:"seal_maker,omitempty"` // subject CN of the seal maker's certificate
	Time         time.Time           `json:"time"`                 // TBS_Sign.timeInfo
	Stamps       []string            `json:"stamps,omitempty"`     // "page N" of each StampAnnot
	Checks       []Check             `json:"checks"`
	SignerCert   *smx509.Certificate `json:"-"`
	Seal         *Seal               `json:"-"`
	TBS          []byte              `json:"-"` // DER TBS_Sign as signed
	SignatureDER []byte              `json:"-"` // DER SEQUENCE{r,s} over TBS
}

// OK reports whether no check failed.
func (r *Result) OK() bool { return r.Failure() == nil }

// Failure is the first failed check, or nil.
func (r *Result) Failure() *Check {
	for i := range r.Checks {
		if r.Checks[i].Status == StatusFail {
			return &r.Checks[i]
		}
	}
	return nil
}

// Failures are all failed checks.
func (r *Result) Failures() []Check { return r.filter(StatusFail) }

// Warnings are all checks with warnings.
func (r *Result) Warnings() []Check { return r.filter(StatusWarn) }

func (r *Result) filter(s Status) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == s {
			out = append(out, c)
		}
	}
	return out
}

func (r *Result) add(name, entry string, st Status, format string, a ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Entry: entry, Status: st, Detail: fmt.Sprintf(format, a...)})
}

// Report is the verification of every signature of a document.
type Report struct {
	Signatures []*Result `json:"signatures"`
	// TrustChecked is true when trust roots were given: certificate chains
	// and validity periods were enforced.
	TrustChecked bool `json:"trust_checked"`
	// Unprotected lists entries no signature covers (other than
	// Signatures.xml): content added after the last signature.
	Unprotected []string `json:"unprotected,omitempty"`
}

// OK reports whether the document has at least one signature and every
// signature holds. A document without signatures is not verified.
func (r *Report) OK() bool {
	if len(r.Signatures) == 0 {
		return false
	}
	for _, s := range r.Signatures {
		if !s.OK() {
			return false
		}
	}
	return true
}

// ErrNotSigned is returned by Verify for a document without signatures.
var ErrNotSigned = errors.New("the document has no signatures")

// Verify checks every signature of an OFD document: each reference's
// CheckValue, the SES_Signature's dataHash over Signature.xml, the SM2
// signature over TBS_Sign, the seal maker's signature over SES_SealInfo,
// the seal's holder list and validity, and, when roots is not nil, the
// certificate chains and validity at the signing time. Without roots,
// chains are not checked and expired certificates or seals are warnings:
// the report then says the document is intact and signed by the
// certificates shown, not that they are trusted.
//
// The error is for documents that cannot be read as far as their
// signature list (it names the entry), and ErrNotSigned.
func Verify(doc []byte, roots *smx509.CertPool) (*Report, error) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, err
	}
	return VerifyPackage(pkg, roots)
}

// VerifyReaderAt is Verify on a zip of size bytes read from r (a file,
// a blob) with ofd.OpenReaderAtLazy and the given limits: only the small
// entries (XML, signature values, seal files) are held in memory, large
// protected entries are inflated and hashed as a stream, so memory does
// not grow with the document. A large entry that cannot be inflated
// (corrupt, or inflating past its header) fails its reference check.
func VerifyReaderAt(r io.ReaderAt, size int64, lim ofd.Limits, roots *smx509.CertPool) (*Report, error) {
	pkg, err := ofd.OpenReaderAtLazy(r, size, lim)
	if err != nil {
		return nil, err
	}
	return VerifyPackage(pkg, roots)
}

// VerifyPackage is Verify on an opened package.
func VerifyPackage(pkg *ofd.Package, roots *smx509.CertPool) (*Report, error) {
	list, err := ofd.ReadSignatureIndex(pkg)
	if err != nil {
		return nil, err
	}
	if len(list.Entries) == 0 {
		return &Report{TrustChecked: roots != nil}, ErrNotSigned
	}
	rep := &Report{TrustChecked: roots != nil}
	covered := map[string]bool{list.Signatures: true}
	pages := pageIDs(pkg)
	for _, ref := range list.Entries {
		res := verifyOne(pkg, list, ref, roots, pages, covered)
		rep.Signatures = append(rep.Signatures, res)
	}
	for _, n := range pkg.Names() {
		if !covered[n] {
			rep.Unprotected = append(rep.Unprotected, "/"+n)
		}
	}
	return rep, nil
}

// entrySM3 hashes an entry as a stream (a lazy entry is never held whole).
func entrySM3(pkg *ofd.Package, name string) ([sm3.Size]byte, error) {
	var sum [sm3.Size]byte
	rc, err := pkg.OpenFile(name)
	if err != nil {
		return sum, err
	}
	defer rc.Close()
	h := sm3.New()
	if _, err := io.Copy(h, rc); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

func pageIDs(pkg *ofd.Package) map[string]int {
	d, err := ofd.Read(pkg)
	if err != nil {
		return nil
	}
	m := map[string]int{}
	for i, p := range d.Pages {
		m[strconv.FormatUint(p.ID, 10)] = i
	}
	return m
}

func verifyOne(pkg *ofd.Package, list *ofd.SignatureIndex, ref ofd.SignaturesEntry, roots *smx509.CertPool, pages map[string]int, covered map[string]bool) *Result {
	res := &Result{ID: ref.ID, Type: ref.Type, Path: ref.BaseLoc}
	if res.Type == "" {
		res.Type = "Seal"
	}
	sigsLoc := "/" + list.Signatures
	if strings.TrimSpace(ref.ID) == "" {
		res.add(CheckSignatureFile, sigsLoc, StatusFail, "a Signature entry has no ID")
	} else if list.Count(ref.ID) > 1 {
		res.add(CheckSignatureFile, sigsLoc, StatusFail, "signature ID %s is used twice", ref.ID)
	}
	if ref.Type != "" && ref.Type != "Seal" && ref.Type != "Sign" {
		res.add(CheckSignatureFile, sigsLoc, StatusFail, "signature %s: Type %q is neither Seal nor Sign", ref.ID, ref.Type)
	}
	sigName, err := ofd.Resolve(list.Signatures, ref.BaseLoc)
	if err != nil {
		res.add(CheckSignatureFile, sigsLoc, StatusFail, "signature %s: BaseLoc %q: %v", ref.ID, ref.BaseLoc, err)
		return res
	}
	res.Path = "/" + sigName
	sigXML, ok := pkg.File(sigName)
	if !ok {
		res.add(CheckSignatureFile, sigsLoc, StatusFail, "signature %s: BaseLoc %q names no entry", ref.ID, ref.BaseLoc)
		return res
	}
	covered[sigName] = true
	sig, err := ofd.ParseSignature(sigXML)
	if err != nil {
		res.add(CheckSignatureFile, res.Path, StatusFail, "%v", err)
		// The SES structure still tells who signed and whether the
		// Signature.xml bytes are the signed ones.
		sig = &ofd.Signature{}
	} else {
		res.add(CheckSignatureFile, res.Path, StatusOK, "")
	}

	// 1. Every reference.
	if len(sig.References) > 0 {
		cm := strings.ToUpper(sig.CheckMethod)
		if cm != "" && cm != "SM3" && sig.CheckMethod != OIDSM3.String() {
			res.add(CheckReference, res.Path, StatusFail, "CheckMethod %q: only SM3 is supported", sig.CheckMethod)
		} else {
			refd := map[string]bool{}
			for _, r := range sig.References {
				name, err := ofd.Resolve(sigName, r.FileRef)
				if err != nil {
					res.add(CheckReference, r.FileRef, StatusFail, "%v", err)
					continue
				}
				loc := "/" + name
				refd[name] = true
				covered[name] = true
				if !pkg.Has(name) {
					res.add(CheckReference, loc, StatusFail, "protected entry is missing")
					continue
				}
				want, err := base64.StdEncoding.DecodeString(r.CheckValue)
				if err != nil {
					res.add(CheckReference, loc, StatusFail, "CheckValue is not base64: %v", err)
					continue
				}
				got, err := entrySM3(pkg, name)
				if err != nil {
					res.add(CheckReference, loc, StatusFail, "entry cannot be read: %v", err)
					continue
				}
				if subtle.ConstantTimeCompare(want, got[:]) != 1 {
					res.add(CheckReference, loc, StatusFail, "entry changed: SM3 %s, signed %s", base64.StdEncoding.EncodeToString(got[:]), r.CheckValue)
					continue
				}
				res.add(CheckReference, loc, StatusOK, "")
			}
			for _, must := range []string{"OFD.xml", list.DocRoot} {
				if must != "" && !refd[must] {
					res.add(CheckCoverage, "/"+must, StatusWarn, "the signature does not protect this entry")
				}
			}
		}
	} else if err == nil {
		res.add(CheckReference, res.Path, StatusFail, "the signature protects no entry (no References)")
	}

	// 2. SignedValue.dat.
	valueName := ""
	if sig.SignedValue != "" {
		valueName, err = ofd.Resolve(sigName, sig.SignedValue)
		if err != nil {
			res.add(CheckSignedValue, res.Path, StatusFail, "SignedValue %q: %v", sig.SignedValue, err)
			return res
		}
	} else {
		// Signature.xml unreadable: the usual place.
		valueName = strings.TrimSuffix(sigName, "Signature.xml") + "SignedValue.dat"
	}
	valueLoc := "/" + valueName
	value, ok := pkg.File(valueName)
	if !ok {
		res.add(CheckSignedValue, res.Path, StatusFail, "SignedValue %s names no entry", valueLoc)
		return res
	}
	covered[valueName] = true
	var ss pSESSignature
	rest, err := asn1.Unmarshal(value, &ss)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d bytes after the SES_Signature", len(rest))
	}
	if err != nil {
		res.add(CheckSignedValue, valueLoc, StatusFail, "not a DER SES_Signature: %v", err)
		return res
	}
	var tbs pTBSSign
	if rest, err := asn1.Unmarshal(ss.ToSign.FullBytes, &tbs); err != nil || len(rest) > 0 {
		res.add(CheckSignedValue, valueLoc, StatusFail, "TBS_Sign: %v", errOr(err, "trailing bytes"))
		return res
	}
	if tbs.Version != Version {
		res.add(CheckSignedValue, valueLoc, StatusFail, "SES_Signature version %d: only version 4 (GB/T 38540) is supported", tbs.Version)
		return res
	}
	res.Time = tbs.TimeInfo
	res.TBS = tbs.Raw
	cert, err := smx509.ParseCertificate(ss.Cert)
	if err != nil {
		res.add(CheckSignedValue, valueLoc, StatusFail, "signer certificate: %v", err)
		return res
	}
	res.SignerCert = cert
	res.Signer = cert.Subject.CommonName
	if len(cert.Subject.Organization) > 0 {
		res.SignerOrg = cert.Subject.Organization[0]
	}
	seal, sealErr := ParseSeal(tbs.ESeal.FullBytes)
	if sealErr == nil {
		res.Seal = seal
		res.SealName, res.SealID = seal.Name, seal.ESID
		res.SealMaker = seal.MakerCert.Subject.CommonName
	}
	res.add(CheckSignedValue, valueLoc, StatusOK, "")

	// 3. dataHash = SM3(Signature.xml).
	sum := sm3.Sum(sigXML)
	if !bytes.Equal(tbs.DataHash.RightAlign(), sum[:]) {
		res.add(CheckDataHash, res.Path, StatusFail, "Signature.xml changed: SM3 %x, signed %x", sum[:], tbs.DataHash.RightAlign())
	} else {
		res.add(CheckDataHash, res.Path, StatusOK, "")
	}
	if loc, err := ofd.Resolve("", tbs.PropertyInfo); err != nil || loc != sigName {
		res.add(CheckPropertyInfo, valueLoc, StatusWarn, "propertyInfo %q does not name %s", tbs.PropertyInfo, res.Path)
	}

	// 4. The SM2 signature over TBS_Sign.
	res.SignatureDER = ss.Signature.RightAlign()
	switch pub, ok := sm2Public(cert); {
	case !ss.SignatureAlgID.Equal(OIDSM2WithSM3):
		res.add(CheckDocSignature, valueLoc, StatusFail, "signature algorithm %v, want SM2 with SM3", ss.SignatureAlgID)
	case !ok:
		res.add(CheckDocSignature, valueLoc, StatusFail, "signer certificate %q has no SM2 key", res.Signer)
	case !gm.SM2Verify(pub, tbs.Raw, res.SignatureDER):
		res.add(CheckDocSignature, valueLoc, StatusFail, "the SM2 signature over TBS_Sign does not verify with %q", res.Signer)
	default:
		res.add(CheckDocSignature, valueLoc, StatusOK, "")
	}

	// 5. The seal.
	if sealErr != nil {
		res.add(CheckSealSignature, valueLoc, StatusFail, "%v", sealErr)
	} else {
		if err := seal.Verify(); err != nil {
			res.add(CheckSealSignature, valueLoc, StatusFail, "%v", err)
		} else {
			res.add(CheckSealSignature, valueLoc, StatusOK, "")
		}
		if seal.Holds(cert) {
			res.add(CheckSealHolder, valueLoc, StatusOK, "")
		} else {
			res.add(CheckSealHolder, valueLoc, StatusFail, "signer %q is not in the certList of seal %q", res.Signer, seal.Name)
		}
	}
	if sig.SealBaseLoc != "" {
		name, err := ofd.Resolve(sigName, sig.SealBaseLoc)
		if err != nil {
			res.add(CheckSealFile, res.Path, StatusFail, "Seal BaseLoc %q: %v", sig.SealBaseLoc, err)
		} else if esl, ok := pkg.File(name); !ok {
			res.add(CheckSealFile, res.Path, StatusFail, "Seal BaseLoc %q names no entry", sig.SealBaseLoc)
		} else if !bytes.Equal(esl, tbs.ESeal.FullBytes) {
			res.add(CheckSealFile, "/"+name, StatusFail, "the seal file differs from the seal inside SignedValue.dat")
		} else {
			res.add(CheckSealFile, "/"+name, StatusOK, "")
		}
	}

	// 6. Validity and trust.
	enforce := StatusWarn
	note := " (not enforced without trust roots)"
	if roots != nil {
		enforce, note = StatusFail, ""
	}
	at := tbs.TimeInfo
	certs := []*smx509.Certificate{cert}
	roles := []string{"signer"}
	if seal != nil && !seal.MakerCert.Equal(cert) {
		certs = append(certs, seal.MakerCert)
		roles = append(roles, "seal maker")
	}
	if roots == nil {
		res.add(CheckChain, valueLoc, StatusSkipped, "untrusted root: no trust roots given, chain not checked")
	} else {
		var bad []string
		for i, c := range certs {
			if reason := verifyChain(c, roots, at); reason != "" {
				bad = append(bad, fmt.Sprintf("%s certificate %q: %s", roles[i], c.Subject.CommonName, reason))
			}
		}
		if len(bad) == 0 {
			res.add(CheckChain, valueLoc, StatusOK, "")
		} else {
			res.add(CheckChain, valueLoc, StatusFail, "%s", strings.Join(bad, "; "))
		}
	}

	if seal != nil {
		if seal.ValidAt(at) {
			res.add(CheckSealValidity, valueLoc, StatusOK, "")
		} else {
			res.add(CheckSealValidity, valueLoc, enforce, "signed %s, seal %q valid %s to %s%s", fmtTime(at), seal.Name, fmtTime(seal.ValidStart), fmtTime(seal.ValidEnd), note)
		}
	}
	validity := StatusOK
	var vdetail []string
	for i, c := range certs {
		if at.Before(c.NotBefore) || at.After(c.NotAfter) {
			validity = enforce
			vdetail = append(vdetail, fmt.Sprintf("%s certificate %q valid %s to %s, signed %s", roles[i], c.Subject.CommonName, fmtTime(c.NotBefore), fmtTime(c.NotAfter), fmtTime(at)))
		}
	}
	if validity == StatusOK {
		res.add(CheckCertValidity, valueLoc, StatusOK, "")
	} else {
		res.add(CheckCertValidity, valueLoc, validity, "%s%s", strings.Join(vdetail, "; "), note)
	}
	// 7. Stamps on existing pages.
	for _, a := range sig.StampAnnots {
		if pages == nil {
			res.add(CheckStamp, res.Path, StatusWarn, "pages unreadable: StampAnnot %s not checked", a.ID)
			continue
		}
		i, ok := pages[strings.TrimSpace(a.PageRef)]
		if !ok {
			res.add(CheckStamp, res.Path, StatusFail, "StampAnnot %s: PageRef %q is not a page ID", a.ID, a.PageRef)
			continue
		}
		res.Stamps = append(res.Stamps, "page "+strconv.Itoa(i+1))
	}
	sort.SliceStable(res.Checks, func(i, j int) bool { return rank(res.Checks[i].Status) < rank(res.Checks[j].Status) })
	return res
}

// rank orders checks: failures first, then the rest in check order.
func rank(s Status) int {
	if s == StatusFail {
		return 0
	}
	return 1
}

// verifyChain checks c against roots at the signing time. An expired
// certificate hides whether its issuer is trusted at all; then the chain
// is also tried inside the certificate's validity, and both reasons are
// given.
func verifyChain(c *smx509.Certificate, roots *smx509.CertPool, at time.Time) string {
	opts := smx509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}}
	_, err := c.Verify(opts)
	if err == nil {
		return ""
	}
	reason := chainReason(err)
	var ci smx509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == smx509.Expired {
		opts.CurrentTime = c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2)
		if _, err := c.Verify(opts); err != nil {
			reason = chainReason(err) + "; and " + reason
		}
	}
	return reason
}

func chainReason(err error) string {
	var ua smx509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return "untrusted root (the issuer is not among the trust roots)"
	}
	var ci smx509.CertificateInvalidError
	if errors.As(err, &ci) && ci.Reason == smx509.Expired {
		return "a certificate of the chain is outside its validity at the signing time"
	}
	return err.Error()
}

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

func fmtTime(t time.Time) string { return t.In(CST).Format("2006-01-02 15:04:05") }
