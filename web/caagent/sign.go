package caagent

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// SignOFD is the agent's default SignFunc: it seals doc with a personal
// seal (GB/T 38540 v4) made and held by the bidder's own certificate, so
// the signature proves the holder of that certificate's key signed, and
// stamps it on the last page, bottom right, where the agreement's
// 投保人（签章） line is. Earlier signatures stay valid (continue-sign mode).
func SignOFD(ctx context.Context, doc []byte, key *sm2.PrivateKey, cert *smx509.Certificate) ([]byte, error) {
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
	now := time.Now()
	seal, err := ses.MakeSeal(key, cert, ses.SealSpec{
		Type:       ses.SealTypePersonal,
		Name:       cert.Subject.CommonName + "（投保人签章）",
		Holders:    []*smx509.Certificate{cert},
		Picture:    signaturePicture(),
		WidthMM:    30,
		HeightMM:   30,
		ValidStart: cert.NotBefore,
		ValidEnd:   cert.NotAfter,
	})
	if err != nil {
		return nil, err
	}
	last := d.Pages[len(d.Pages)-1]
	box := last.Box
	if box.W == 0 {
		box = d.PhysicalBox
	}
	stamp := ses.Stamp{Page: len(d.Pages) - 1, Box: ofd.Box{X: box.W - 30 - 35, Y: box.H - 30 - 45, W: 30, H: 30}}
	if err := ses.SignPackage(pkg, ses.Signer{Key: key, Cert: cert, Seal: seal}, ses.SignOptions{Time: now, Stamps: []ses.Stamp{stamp}}); err != nil {
		return nil, err
	}
	return pkg.Bytes()
}

// signaturePicture draws the bidder's signature mark: a red double ring
// around a five-pointed star, on a transparent background (PNG).
func signaturePicture() []byte {
	const n = 240
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	red := color.NRGBA{R: 0xd0, G: 0x1f, B: 0x1f, A: 0xff}
	c := float64(n) / 2
	// Star vertices, pointing up.
	var star [10][2]float64
	for i := range star {
		r := 0.36 * c
		if i%2 == 1 {
			r = 0.15 * c
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		star[i] = [2]float64{c + r*math.Cos(a), c + r*math.Sin(a)}
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			d := math.Hypot(px-c, py-c)
			if (d > 0.86*c && d < 0.97*c) || (d > 0.76*c && d < 0.80*c) || inPolygon(px, py, star[:]) {
				img.SetNRGBA(x, y, red)
			}
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func inPolygon(x, y float64, p [][2]float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		if (p[i][1] > y) != (p[j][1] > y) && x < (p[j][0]-p[i][0])*(y-p[i][1])/(p[j][1]-p[i][1])+p[i][0] {
			in = !in
		}
	}
	return in
}
