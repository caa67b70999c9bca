package conformance

import (
	"context"
	"errors"
	"github.com/emmansun/gmsm/smx509"
	"time"
)

// GuaranteeInfo is what goes into a guarantee the kit issues when it plays
// the institution (platform suite).
type GuaranteeInfo struct {
	ApplyNo, BaohanNo string
	InstName          string
	BidderName        string
	BidderCode        string
	Amount            string // 保证金 (bzjamount)
	// The project fields: ciphertext as received in applydata for the
	// ciphertext guarantee, plaintext (when the kit could decrypt them)
	// for the plaintext one.
	BiaoduanNo, BiaoduanName, Zbr, ZbrOrgNum string
	Plain                                    bool // filetype 2
	Issued                                   time.Time
}

// GuaranteeMaker makes the guarantee file (a sealed OFD) the kit uploads.
type GuaranteeMaker func(ctx context.Context, g GuaranteeInfo) ([]byte, error)

// DefaultGuarantee makes the kit's guarantee files.
func DefaultGuarantee(ctx context.Context, g GuaranteeInfo) ([]byte, error) {
	return nil, errors.New("ofd/guarantee is not available yet")
}

// DefaultVerifier checks a guarantee file with the ofd and ofd/ses packages.
func DefaultVerifier(file []byte, roots []*smx509.Certificate) (summary, text string, err error) {
	return "", "", errors.New("ofd/ses is not available yet")
}
