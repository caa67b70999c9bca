package guarantee

import (
	"fmt"
	"time"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// Stamps finds where a seal goes: every text object reading label (e.g.
// InstitutionSealLabel) on every page gives a stamp box of size mm,
// centred a little right of the label's end, over the name and date that
// follow it, as a seal is pressed on paper.
func Stamps(doc []byte, label string, size float64) ([]ses.Stamp, error) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, err
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		return nil, err
	}
	return stampsIn(d, label, size), nil
}

func stampsIn(d *ofd.Document, label string, size float64) []ses.Stamp {
	var out []ses.Stamp
	for i, p := range d.Pages {
		for _, o := range p.Objects {
			t, ok := o.(*ofd.TextObject)
			if !ok || t.Text() != label {
				continue
			}
			end := t.Boundary.X + textEnd(t)
			cx := end + size*0.45
			cy := t.Boundary.Y + t.Size*0.6
			out = append(out, ses.Stamp{Page: i, Box: ofd.Box{X: cx - size/2, Y: cy - size/2, W: size, H: size}})
		}
	}
	return out
}

// textEnd is where the text of t ends, from its boundary's left edge: the
// positions the document fixes (X, DeltaX) and the last character's
// advance by the Advance rule.
func textEnd(t *ofd.TextObject) float64 {
	end := 0.0
	for _, c := range t.Codes {
		rs := []rune(c.Text)
		if len(rs) == 0 {
			continue
		}
		x := c.X
		for i := 0; i < len(rs)-1 && i < len(c.DeltaX); i++ {
			x += c.DeltaX[i]
		}
		end = max(end, x+ofd.Advance(rs[len(rs)-1], t.Size))
	}
	return end
}

// Seal seals a guarantee (or merged guarantee) with the institution's
// seal at every seal area (InstitutionSealLabel), in continue-sign mode,
// at time t.
func Seal(doc []byte, s ses.Signer, t time.Time) ([]byte, error) {
	return sealAt(doc, s, t, InstitutionSealLabel)
}

// SignAgreement signs an agreement with the bidder's seal (see
// BidderSeal) at the bidder's signature area (BidderSealLabel).
func SignAgreement(doc []byte, s ses.Signer, t time.Time) ([]byte, error) {
	return sealAt(doc, s, t, BidderSealLabel)
}

func sealAt(doc []byte, s ses.Signer, t time.Time, label string) ([]byte, error) {
	if s.Seal == nil {
		return nil, fmt.Errorf("guarantee: seal: no seal")
	}
	size := float64(s.Seal.WidthMM)
	if size <= 0 || size > 60 {
		size = sealSize
	}
	// One reading of the document finds the seal areas and is signed.
	pkg, err := ofd.Open(doc)
	if err != nil {
		return nil, fmt.Errorf("guarantee: seal: %w", err)
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		return nil, fmt.Errorf("guarantee: seal: %w", err)
	}
	stamps := stampsIn(d, label, size)
	if len(stamps) == 0 {
		return nil, fmt.Errorf("guarantee: seal: no seal area (%q) in the document", label)
	}
	if err := ses.SignPackage(pkg, s, ses.SignOptions{Time: t, Stamps: stamps}); err != nil {
		return nil, fmt.Errorf("guarantee: %w", err)
	}
	return pkg.Bytes()
}
