package conformance

import (
	"crypto/ecdsa"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Bidder is a bidder (投标人) with its CA certificate: the digital
// envelopes of its applications are sealed to the certificate's key.
type Bidder struct {
	Name       string
	CreditCode string // 统一社会信用代码
	Key        *sm2.PrivateKey
	Cert       *smx509.Certificate
	CertPEM    []byte
	KeyPEM     []byte
}

// Public returns the bidder's public key.
func (b *Bidder) Public() *ecdsa.PublicKey { return &b.Key.PublicKey }
