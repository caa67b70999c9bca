package caagent

import (
	"context"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// SignOFD is the agent's default SignFunc: it seals doc with the bidder's
// signature seal (guarantee.BidderSeal: a personal GB/T 38540 v4 seal made
// and held by the bidder's own certificate, its picture a name seal), at
// the agreement's 委托人（签章） area, or at the bottom right of the last
// page of a document that has none. Earlier signatures stay valid
// (continue-sign mode).
func SignOFD(ctx context.Context, doc []byte, key *sm2.PrivateKey, cert *smx509.Certificate) ([]byte, error) {
	seal, err := guarantee.BidderSeal(key, cert, cert.Subject.CommonName, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	size := float64(seal.WidthMM)
	stamps, err := guarantee.Stamps(doc, guarantee.BidderSealLabel, size)
	if err != nil {
		return nil, err
	}
	if len(stamps) == 0 {
		pkg, err := ofd.Open(doc)
		if err != nil {
			return nil, err
		}
		d, err := ofd.Read(pkg)
		if err != nil {
			return nil, err
		}
		if len(d.Pages) == 0 {
			return nil, fmt.Errorf("the document has no pages")
		}
		last := len(d.Pages) - 1
		box := d.Pages[last].Box
		if box.W == 0 {
			box = d.PhysicalBox
		}
		stamps = []ses.Stamp{{Page: last, Box: ofd.Box{X: box.W - size - 35, Y: box.H - size - 45, W: size, H: size}}}
	}
	return ses.Sign(doc, ses.Signer{Key: key, Cert: cert, Seal: seal}, ses.SignOptions{Time: time.Now(), Stamps: stamps})
}
