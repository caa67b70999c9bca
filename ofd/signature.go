package ofd

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
)

// Signatures is the list of signatures of a document (Signatures.xml).
type Signatures struct {
	MaxSignID  string
	Signatures []SignaturesEntry
}

// SignaturesEntry is one Signature element of Signatures.xml.
type SignaturesEntry struct {
	ID      string
	Type    string // "Seal" (电子签章) or "Sign" (数字签名)
	BaseLoc string // location of Signature.xml
}

type wSignatures struct {
	XMLName   xml.Name           `xml:"ofd:Signatures"`
	NS        string             `xml:"xmlns:ofd,attr"`
	MaxSignID string             `xml:"ofd:MaxSignId,omitempty"`
	Signature []wSignaturesEntry `xml:"ofd:Signature"`
}

type wSignaturesEntry struct {
	ID      string `xml:"ID,attr"`
	Type    string `xml:"Type,attr,omitempty"`
	BaseLoc string `xml:"BaseLoc,attr"`
}

type rSignatures struct {
	XMLName   xml.Name `xml:"Signatures"`
	MaxSignID string   `xml:"MaxSignId"`
	Signature []struct {
		ID      string `xml:"ID,attr"`
		Type    string `xml:"Type,attr"`
		BaseLoc string `xml:"BaseLoc,attr"`
	} `xml:"Signature"`
}

// ParseSignatures reads Signatures.xml.
func ParseSignatures(b []byte) (*Signatures, error) {
	var r rSignatures
	if err := unmarshalXML("Signatures.xml", b, &r); err != nil {
		return nil, err
	}
	s := &Signatures{MaxSignID: strings.TrimSpace(r.MaxSignID)}
	for _, e := range r.Signature {
		s.Signatures = append(s.Signatures, SignaturesEntry{ID: e.ID, Type: e.Type, BaseLoc: e.BaseLoc})
	}
	return s, nil
}

// Marshal writes Signatures.xml (MaxSignId first, as the schema orders).
func (s *Signatures) Marshal() ([]byte, error) {
	w := &wSignatures{NS: Namespace, MaxSignID: s.MaxSignID}
	for _, e := range s.Signatures {
		w.Signature = append(w.Signature, wSignaturesEntry(e))
	}
	return marshalXML(w)
}

// MaxID is the largest numeric ID among MaxSignId and the signatures'
// IDs (non-numeric IDs such as "s001" count by their digits).
func (s *Signatures) MaxID() uint64 {
	max := idNumber(s.MaxSignID)
	for _, e := range s.Signatures {
		if n := idNumber(e.ID); n > max {
			max = n
		}
	}
	return max
}

func idNumber(s string) uint64 {
	s = strings.TrimLeft(strings.TrimSpace(s), "sS")
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// Signature is one signature description (Signature.xml).
type Signature struct {
	Provider          Provider
	SignatureMethod   string
	SignatureDateTime string
	CheckMethod       string
	References        []Reference
	StampAnnots       []StampAnnot
	SealBaseLoc       string // Seal/BaseLoc, optional
	SignedValue       string // location of SignedValue.dat
}

// Provider names the software that made the signature.
type Provider struct{ ProviderName, Version, Company string }

// Reference is one protected entry: its location and base64 digest.
type Reference struct {
	FileRef    string
	CheckValue string
}

// StampAnnot is where a seal's picture appears: PageRef is the page's ID.
type StampAnnot struct {
	ID       string
	PageRef  string
	Boundary string
	Clip     string
}

type wSignature struct {
	XMLName     xml.Name    `xml:"ofd:Signature"`
	NS          string      `xml:"xmlns:ofd,attr"`
	SignedInfo  wSignedInfo `xml:"ofd:SignedInfo"`
	SignedValue string      `xml:"ofd:SignedValue"`
}

type wSignedInfo struct {
	Provider          wProvider     `xml:"ofd:Provider"`
	SignatureMethod   string        `xml:"ofd:SignatureMethod,omitempty"`
	SignatureDateTime string        `xml:"ofd:SignatureDateTime,omitempty"`
	References        wReferences   `xml:"ofd:References"`
	StampAnnot        []wStampAnnot `xml:"ofd:StampAnnot"`
	Seal              *wSealLoc     `xml:"ofd:Seal"`
}

type wProvider struct {
	ProviderName string `xml:"ProviderName,attr"`
	Version      string `xml:"Version,attr,omitempty"`
	Company      string `xml:"Company,attr,omitempty"`
}

type wReferences struct {
	CheckMethod string       `xml:"CheckMethod,attr,omitempty"`
	Reference   []wReference `xml:"ofd:Reference"`
}

type wReference struct {
	FileRef    string `xml:"FileRef,attr"`
	CheckValue string `xml:"ofd:CheckValue"`
}

type wStampAnnot struct {
	ID       string `xml:"ID,attr"`
	PageRef  string `xml:"PageRef,attr"`
	Boundary string `xml:"Boundary,attr"`
	Clip     string `xml:"Clip,attr,omitempty"`
}

type wSealLoc struct {
	BaseLoc string `xml:"ofd:BaseLoc"`
}

type rSignature struct {
	XMLName    xml.Name `xml:"Signature"`
	SignedInfo struct {
		Provider struct {
			ProviderName string `xml:"ProviderName,attr"`
			Version      string `xml:"Version,attr"`
			Company      string `xml:"Company,attr"`
		} `xml:"Provider"`
		SignatureMethod   string `xml:"SignatureMethod"`
		SignatureDateTime string `xml:"SignatureDateTime"`
		References        struct {
			CheckMethod string `xml:"CheckMethod,attr"`
			Reference   []struct {
				FileRef    string `xml:"FileRef,attr"`
				CheckValue string `xml:"CheckValue"`
			} `xml:"Reference"`
		} `xml:"References"`
		StampAnnot []struct {
			ID       string `xml:"ID,attr"`
			PageRef  string `xml:"PageRef,attr"`
			Boundary string `xml:"Boundary,attr"`
			Clip     string `xml:"Clip,attr"`
		} `xml:"StampAnnot"`
		Seal *struct {
			BaseLoc string `xml:"BaseLoc"`
		} `xml:"Seal"`
	} `xml:"SignedInfo"`
	SignedValue string `xml:"SignedValue"`
}

// ParseSignature reads a Signature.xml.
func ParseSignature(b []byte) (*Signature, error) {
	var r rSignature
	if err := unmarshalXML("Signature.xml", b, &r); err != nil {
		return nil, err
	}
	si := r.SignedInfo
	s := &Signature{
		Provider:          Provider{si.Provider.ProviderName, si.Provider.Version, si.Provider.Company},
		SignatureMethod:   strings.TrimSpace(si.SignatureMethod),
		SignatureDateTime: strings.TrimSpace(si.SignatureDateTime),
		CheckMethod:       strings.TrimSpace(si.References.CheckMethod),
		SignedValue:       strings.TrimSpace(r.SignedValue),
	}
	for _, ref := range si.References.Reference {
		s.References = append(s.References, Reference{FileRef: ref.FileRef, CheckValue: strings.TrimSpace(ref.CheckValue)})
	}
	for _, a := range si.StampAnnot {
		s.StampAnnots = append(s.StampAnnots, StampAnnot(a))
	}
	if si.Seal != nil {
		s.SealBaseLoc = strings.TrimSpace(si.Seal.BaseLoc)
	}
	return s, nil
}

// Marshal writes Signature.xml in schema order: SignedInfo (Provider,
// SignatureMethod, SignatureDateTime, References, StampAnnot, Seal), then
// SignedValue.
func (s *Signature) Marshal() ([]byte, error) {
	w := &wSignature{NS: Namespace, SignedValue: s.SignedValue}
	w.SignedInfo = wSignedInfo{
		Provider:          wProvider(s.Provider),
		SignatureMethod:   s.SignatureMethod,
		SignatureDateTime: s.SignatureDateTime,
		References:        wReferences{CheckMethod: s.CheckMethod},
	}
	for _, r := range s.References {
		w.SignedInfo.References.Reference = append(w.SignedInfo.References.Reference, wReference(r))
	}
	for _, a := range s.StampAnnots {
		w.SignedInfo.StampAnnot = append(w.SignedInfo.StampAnnot, wStampAnnot(a))
	}
	if s.SealBaseLoc != "" {
		w.SignedInfo.Seal = &wSealLoc{BaseLoc: s.SealBaseLoc}
	}
	return marshalXML(w)
}

// AddSignaturesRef returns OFD.xml with a Signatures element naming loc
// appended to the first DocBody (its last child in the schema). The rest
// of the bytes are kept as they are; the prefix of the DocBody element is
// reused. It fails when the DocBody already has one.
func AddSignaturesRef(ofdXML []byte, loc string) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(ofdXML))
	depth := 0
	inBody := false
	prefix := ""
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if err != nil {
			return nil, errorf("OFD.xml: no DocBody end found: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local == "DocBody" {
				inBody = true
				prefix = t.Name.Space
			}
			if inBody && depth == 3 && t.Name.Local == "Signatures" {
				return nil, errorf("OFD.xml: the DocBody already names Signatures")
			}
		case xml.EndElement:
			if inBody && depth == 2 && t.Name.Local == "DocBody" {
				name := "Signatures"
				if prefix != "" {
					name = prefix + ":Signatures"
				}
				var esc bytes.Buffer
				_ = xml.EscapeText(&esc, []byte(loc))
				el := "<" + name + ">" + esc.String() + "</" + name + ">"
				out := make([]byte, 0, len(ofdXML)+len(el))
				out = append(out, ofdXML[:off]...)
				out = append(out, el...)
				out = append(out, ofdXML[off:]...)
				return out, nil
			}
			depth--
		}
	}
}

// SignatureIndex is what a verifier needs before anything else: the
// document root, Signatures.xml and its entries, read from OFD.xml and
// Signatures.xml alone (a broken page must not hide the signatures that
// would name it).
type SignatureIndex struct {
	DocRoot    string // zip name of Document.xml
	Signatures string // zip name of Signatures.xml, "" when unsigned
	Entries    []SignaturesEntry
}

// ReadSignatureIndex reads OFD.xml and Signatures.xml of the first
// document.
func ReadSignatureIndex(p *Package) (*SignatureIndex, error) {
	o, err := readOFDXML(p)
	if err != nil {
		return nil, err
	}
	idx := &SignatureIndex{}
	idx.DocRoot, _ = p.resolveIn("OFD.xml", o.DocBody[0].DocRoot)
	loc := strings.TrimSpace(o.DocBody[0].Signatures)
	if loc == "" {
		return idx, nil
	}
	name, err := p.resolveIn("OFD.xml", loc)
	if err != nil {
		return nil, errorf("OFD.xml Signatures: %v", err)
	}
	idx.Signatures = name
	sraw, ok := p.File(name)
	if !ok {
		return nil, errorf("OFD.xml names Signatures %q, but there is no entry %s", loc, name)
	}
	sigs, err := ParseSignatures(sraw)
	if err != nil {
		return nil, errorf("%s: %v", name, err)
	}
	idx.Entries = sigs.Signatures
	return idx, nil
}

// Count is how many entries carry the ID.
func (x *SignatureIndex) Count(id string) int {
	n := 0
	for _, e := range x.Entries {
		if e.ID == id {
			n++
		}
	}
	return n
}

// LoadSignature reads the Signature.xml of a listed signature and the
// bytes of its SignedValue.dat (a DER SES_Signature; see package ses).
func (d *Document) LoadSignature(ref SignatureRef) (*Signature, []byte, error) {
	raw, ok := d.Package.File(ref.Path)
	if !ok {
		return nil, nil, errorf("signature %s: no entry %s", ref.ID, ref.Path)
	}
	sig, err := ParseSignature(raw)
	if err != nil {
		return nil, nil, errorf("signature %s: %s: %v", ref.ID, ref.Path, err)
	}
	name, err := Resolve(ref.Path, sig.SignedValue)
	if err != nil {
		return sig, nil, errorf("signature %s: SignedValue: %v", ref.ID, err)
	}
	value, ok := d.Package.File(name)
	if !ok {
		return sig, nil, errorf("signature %s: no SignedValue entry %s", ref.ID, name)
	}
	return sig, value, nil
}
