package ses

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// Signer is who signs: the SM2 key, its certificate (which must be in the
// seal's certList) and the seal whose picture appears on the page.
type Signer struct {
	Key  crypto.Signer // *sm2.PrivateKey or any crypto.Signer that does SM2 with the default user ID
	Cert *smx509.Certificate
	Seal *Seal
}

// Stamp places the seal's picture: Page is the page index from 0, Box the
// rectangle in millimetres. The picture is drawn over Box.
type Stamp struct {
	Page int
	Box  ofd.Box
}

// SignOptions tune Sign.
type SignOptions struct {
	// Time is the signing time (TBS_Sign.timeInfo, SignatureDateTime, the
	// new zip entries' times). Required: pass the caller's clock.
	Time time.Time
	// Stamps are where the seal appears; none makes an invisible
	// signature.
	Stamps []Stamp
	// Final protects Signatures.xml too, closing the document: a later
	// signature would break this one. By default signatures continue
	// (续签): Signatures.xml is left out of the references so that later
	// seals can be added without breaking earlier ones.
	Final bool
	// Provider names the signing software; default ProviderName "baohan".
	Provider ofd.Provider
}

// CST is China Standard Time, used for SignatureDateTime.
var CST = time.FixedZone("CST", 8*3600)

// Sign seals an OFD document (GB/T 38540 v4, GB/T 33190 §18) and returns
// the new package. Entries already in the document are written back byte
// for byte; Sign adds Doc_0/Signs/Sign_N/{Seal.esl, Signature.xml,
// SignedValue.dat}, rewrites Signatures.xml (never protected in
// continue-sign mode) and, for the first signature only, adds the
// Signatures element to OFD.xml. It refuses to rewrite an entry that an
// existing signature protects.
//
// Signature.xml lists every other entry of the package with
// base64(SM3(entry)) as CheckValue; SignedValue.dat is DER SES_Signature
// whose TBS_Sign carries the seal, the time, SM3(Signature.xml) and the
// location of Signature.xml, signed with SM2-SM3 (user ID
// 1234567812345678, DER SEQUENCE{r,s} in a BIT STRING).
func Sign(doc []byte, s Signer, opt SignOptions) ([]byte, error) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, fmt.Errorf("ses: sign: %w", err)
	}
	if err := SignPackage(pkg, s, opt); err != nil {
		return nil, err
	}
	return pkg.Bytes()
}

// SignPackage is Sign on a package in memory, which it changes.
func SignPackage(pkg *ofd.Package, s Signer, opt SignOptions) error {
	if s.Key == nil || s.Cert == nil || s.Seal == nil {
		return errors.New("ses: sign: signer key, certificate and seal are required")
	}
	if err := keyMatches(s.Key, s.Cert); err != nil {
		return fmt.Errorf("ses: sign: %w", err)
	}
	if !s.Seal.Holds(s.Cert) {
		return fmt.Errorf("ses: sign: certificate %q is not in the certList of seal %q", s.Cert.Subject.CommonName, s.Seal.Name)
	}
	if opt.Time.IsZero() {
		return errors.New("ses: sign: SignOptions.Time is required (the signing clock)")
	}
	t := opt.Time.Truncate(time.Second)
	if opt.Provider.ProviderName == "" {
		opt.Provider = ofd.Provider{ProviderName: "baohan", Company: "baohan", Version: "1.0"}
	}

	d, err := ofd.Read(pkg)
	if err != nil {
		return fmt.Errorf("ses: sign: %w", err)
	}
	protected, err := protectedEntries(pkg, d)
	if err != nil {
		return fmt.Errorf("ses: sign: %w", err)
	}
	put := func(name string, data []byte) error {
		if by, ok := protected[ofd.Name(name)]; ok {
			return fmt.Errorf("ses: sign: %s is protected by signature %s; adding a signature would change it and break that one", name, by)
		}
		return pkg.Put(name, data, t)
	}

	// Signatures.xml, and its reference from OFD.xml for the first one.
	dir := d.Dir()
	sigsName := d.Signatures
	sigs := &ofd.Signatures{}
	if sigsName == "" {
		sigsName = dir + "/Signs/Signatures.xml"
		raw, _ := pkg.File("OFD.xml")
		updated, err := ofd.AddSignaturesRef(raw, "/"+sigsName)
		if err != nil {
			return fmt.Errorf("ses: sign: %w", err)
		}
		if err := put("OFD.xml", updated); err != nil {
			return err
		}
	} else if raw, ok := pkg.File(sigsName); ok {
		if sigs, err = ofd.ParseSignatures(raw); err != nil {
			return fmt.Errorf("ses: sign: %s: %w", sigsName, err)
		}
	}

	// The new signature's directory and IDs.
	signsDir := path.Dir(sigsName)
	n := 0
	for hasPrefix(pkg, fmt.Sprintf("%s/Sign_%d/", signsDir, n)) {
		n++
	}
	sdir := fmt.Sprintf("%s/Sign_%d", signsDir, n)
	nextID := sigs.MaxID()
	newID := func() string { nextID++; return strconv.FormatUint(nextID, 10) }
	sigID := newID()

	var annots []ofd.StampAnnot
	for _, st := range opt.Stamps {
		if st.Page < 0 || st.Page >= len(d.Pages) {
			return fmt.Errorf("ses: sign: stamp on page %d, the document has %d pages", st.Page+1, len(d.Pages))
		}
		if st.Box.W <= 0 || st.Box.H <= 0 {
			return fmt.Errorf("ses: sign: stamp box %v is empty", st.Box)
		}
		annots = append(annots, ofd.StampAnnot{ID: newID(), PageRef: strconv.FormatUint(d.Pages[st.Page].ID, 10), Boundary: st.Box.String()})
	}

	sealName := sdir + "/Seal.esl"
	if err := pkg.Add(sealName, s.Seal.Raw, t); err != nil {
		return fmt.Errorf("ses: sign: %w", err)
	}

	// References: every entry but Signatures.xml (unless Final) and the
	// two files this signature is made of.
	sigXMLName, valueName := sdir+"/Signature.xml", sdir+"/SignedValue.dat"
	sig := &ofd.Signature{
		Provider:          opt.Provider,
		SignatureMethod:   OIDSM2WithSM3.String(),
		SignatureDateTime: t.In(CST).Format("2006-01-02 15:04:05"),
		CheckMethod:       "SM3",
		StampAnnots:       annots,
		SealBaseLoc:       "/" + sealName,
		SignedValue:       "/" + valueName,
	}
	if opt.Final {
		// Signatures.xml as it will be after this signature.
		sigs.Signatures = append(sigs.Signatures, ofd.SignaturesEntry{ID: sigID, Type: "Seal", BaseLoc: "/" + sigXMLName})
		sigs.MaxSignID = strconv.FormatUint(nextID, 10)
		raw, err := sigs.Marshal()
		if err != nil {
			return fmt.Errorf("ses: sign: writing %s: %w", sigsName, err)
		}
		if err := put(sigsName, raw); err != nil {
			return err
		}
	}
	for _, e := range pkg.Entries() {
		if e.Name == sigsName && !opt.Final {
			continue
		}
		sum, err := entrySM3(pkg, e.Name)
		if err != nil {
			return fmt.Errorf("ses: sign: %w", err)
		}
		sig.References = append(sig.References, ofd.Reference{FileRef: "/" + e.Name, CheckValue: base64.StdEncoding.EncodeToString(sum[:])})
	}
	sigXML, err := sig.Marshal()
	if err != nil {
		return fmt.Errorf("ses: sign: writing Signature.xml: %w", err)
	}

	// SignedValue.dat: SES_Signature over TBS_Sign.
	dataHash := sm3.Sum(sigXML)
	tbsDER, err := asn1.Marshal(mTBSSign{
		Version:      Version,
		ESeal:        asn1.RawValue{FullBytes: s.Seal.Raw},
		TimeInfo:     t.UTC(),
		DataHash:     asn1.BitString{Bytes: dataHash[:], BitLength: 8 * len(dataHash)},
		PropertyInfo: "/" + sigXMLName,
	})
	if err != nil {
		return fmt.Errorf("ses: sign: encoding TBS_Sign: %w", err)
	}
	sigValue, err := sm2SignWith(s.Key, tbsDER)
	if err != nil {
		return fmt.Errorf("ses: sign: SM2 signature over TBS_Sign: %w", err)
	}
	value, err := asn1.Marshal(mSESSignature{
		ToSign:         asn1.RawValue{FullBytes: tbsDER},
		Cert:           s.Cert.Raw,
		SignatureAlgID: OIDSM2WithSM3,
		Signature:      asn1.BitString{Bytes: sigValue, BitLength: 8 * len(sigValue)},
	})
	if err != nil {
		return fmt.Errorf("ses: sign: encoding SES_Signature: %w", err)
	}
	if err := pkg.Add(sigXMLName, sigXML, t); err != nil {
		return fmt.Errorf("ses: sign: %w", err)
	}
	if err := pkg.Add(valueName, value, t); err != nil {
		return fmt.Errorf("ses: sign: %w", err)
	}
	if !opt.Final {
		sigs.Signatures = append(sigs.Signatures, ofd.SignaturesEntry{ID: sigID, Type: "Seal", BaseLoc: "/" + sigXMLName})
		sigs.MaxSignID = strconv.FormatUint(nextID, 10)
		raw, err := sigs.Marshal()
		if err != nil {
			return fmt.Errorf("ses: sign: writing %s: %w", sigsName, err)
		}
		if err := put(sigsName, raw); err != nil {
			return err
		}
	}
	return nil
}

// protectedEntries maps each entry some existing signature references to
// that signature's ID.
func protectedEntries(pkg *ofd.Package, d *ofd.Document) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range d.SignatureRef {
		raw, ok := pkg.File(ref.Path)
		if !ok {
			return nil, fmt.Errorf("signature %s: no entry %s", ref.ID, ref.Path)
		}
		sig, err := ofd.ParseSignature(raw)
		if err != nil {
			return nil, fmt.Errorf("signature %s: %s: %w", ref.ID, ref.Path, err)
		}
		for _, r := range sig.References {
			name, err := ofd.Resolve(ref.Path, r.FileRef)
			if err != nil {
				return nil, fmt.Errorf("signature %s: %w", ref.ID, err)
			}
			out[name] = ref.ID
		}
		// A signature's own files are never rewritten either.
		out[ref.Path] = ref.ID
		if name, err := ofd.Resolve(ref.Path, sig.SignedValue); err == nil {
			out[name] = ref.ID
		}
	}
	return out, nil
}

func hasPrefix(pkg *ofd.Package, prefix string) bool {
	for _, n := range pkg.Names() {
		if len(n) >= len(prefix) && n[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func sm2Public(cert *smx509.Certificate) (*ecdsa.PublicKey, bool) {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, false
	}
	return pub, true
}
