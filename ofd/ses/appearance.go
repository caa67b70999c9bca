package ses

import (
	"encoding/asn1"
	"strconv"
	"strings"

	"github.com/baohan-dev/baohan/ofd"
)

// Appearance is where a seal's picture shows: the page ID and box of one
// StampAnnot, and the picture from the seal inside SignedValue.dat.
type Appearance struct {
	SignatureID string
	PageID      uint64
	Box         ofd.Box
	PictureType string // "PNG" (JPEG, GIF and OFD pictures exist too)
	Picture     []byte
}

// Appearances lists the stamps of every signature of the document, for
// display. It does not verify anything (see Verify); signatures that
// cannot be read are skipped.
func Appearances(pkg *ofd.Package) []Appearance {
	idx, err := ofd.ReadSignatureIndex(pkg)
	if err != nil {
		return nil
	}
	var out []Appearance
	for _, e := range idx.Entries {
		name, err := ofd.Resolve(idx.Signatures, e.BaseLoc)
		if err != nil {
			continue
		}
		raw, ok := pkg.File(name)
		if !ok {
			continue
		}
		sig, err := ofd.ParseSignature(raw)
		if err != nil || len(sig.StampAnnots) == 0 {
			continue
		}
		vname, err := ofd.Resolve(name, sig.SignedValue)
		if err != nil {
			continue
		}
		value, ok := pkg.File(vname)
		if !ok {
			continue
		}
		var ss pSESSignature
		if _, err := asn1.Unmarshal(value, &ss); err != nil {
			continue
		}
		var tbs pTBSSign
		if _, err := asn1.Unmarshal(ss.ToSign.FullBytes, &tbs); err != nil {
			continue
		}
		seal, err := ParseSeal(tbs.ESeal.FullBytes)
		if err != nil {
			continue
		}
		for _, a := range sig.StampAnnots {
			box, err := ofd.ParseBox(a.Boundary)
			if err != nil {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(a.PageRef), 10, 64)
			if err != nil {
				continue
			}
			out = append(out, Appearance{SignatureID: e.ID, PageID: id, Box: box, PictureType: strings.ToUpper(seal.PictureType), Picture: seal.Picture})
		}
	}
	return out
}
