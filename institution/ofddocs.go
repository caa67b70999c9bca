package institution

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd/ses"
)

// OFDDocuments is the default Documents: templates from ofd/guarantee,
// seals and signatures from ofd/ses, with the institution's seal
// certificate and key, and the bidders' trust roots.
type OFDDocuments struct {
	id    Identity
	cert  *smx509.Certificate
	key   *sm2.PrivateKey
	seal  *ses.Seal
	roots *smx509.CertPool
	now   func() time.Time
}

// NewOFDDocuments loads the seal certificate, key and picture of id and
// the trust roots (PEM files) for bidder certificates, and makes the
// institution's seal.
func NewOFDDocuments(id Identity, trustRoots []string, now func() time.Time) (*OFDDocuments, error) {
	certPEM, err := os.ReadFile(id.SealCert)
	if err != nil {
		return nil, fmt.Errorf("institution.seal_cert: %w", err)
	}
	cert, err := gm.ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("institution.seal_cert %s: %w", id.SealCert, err)
	}
	keyPEM, err := os.ReadFile(id.SealKey)
	if err != nil {
		return nil, fmt.Errorf("institution.seal_key: %w", err)
	}
	key, err := gm.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("institution.seal_key %s: %w", id.SealKey, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("institution.seal_key %s does not belong to institution.seal_cert %s", id.SealKey, id.SealCert)
	}
	roots := smx509.NewCertPool()
	for _, f := range trustRoots {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("trust_roots: %w", err)
		}
		certs, err := gm.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("trust_roots %s: %w", f, err)
		}
		for _, c := range certs {
			roots.AddCert(c)
		}
	}
	if len(trustRoots) == 0 {
		return nil, errors.New("trust_roots: at least one CA certificate file is required to verify bidders' signatures")
	}
	var picture []byte
	if id.SealPicture != "" {
		if picture, err = os.ReadFile(id.SealPicture); err != nil {
			return nil, fmt.Errorf("institution.seal_picture: %w", err)
		}
	} else {
		picture, err = sealPicture(id)
		if err != nil {
			return nil, err
		}
	}
	name := id.SealName
	if name == "" {
		name = id.Name + "电子保函专用章"
	}
	seal, err := ses.MakeSeal(key, cert, ses.SealSpec{Name: name, Holders: []*smx509.Certificate{cert}, Picture: picture,
		ValidStart: cert.NotBefore, ValidEnd: cert.NotAfter})
	if err != nil {
		return nil, fmt.Errorf("making the institution's seal: %w", err)
	}
	return &OFDDocuments{id: id, cert: cert, key: key, seal: seal, roots: roots, now: now}, nil
}
