package institution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
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

// NewOFDDocuments loads the seal certificate, key and picture of id, and
// makes the institution's seal; the bidders' signatures are checked
// against roots (at least one certificate: the service's trust_roots).
func NewOFDDocuments(id Identity, roots *gm.TrustRoots, now func() time.Time) (*OFDDocuments, error) {
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
	if roots.Len() == 0 {
		return nil, errors.New("trust_roots: at least one CA certificate file is required to verify bidders' signatures")
	}
	name := id.SealName
	if name == "" {
		name = id.Name + "保函专用章"
	}
	spec := ses.SealSpec{Name: name, Holders: []*smx509.Certificate{cert}, WidthMM: 40, HeightMM: 40,
		ValidStart: cert.NotBefore, ValidEnd: cert.NotAfter}
	if id.SealPicture != "" {
		if spec.Picture, err = os.ReadFile(id.SealPicture); err != nil {
			return nil, fmt.Errorf("institution.seal_picture: %w", err)
		}
	} else {
		// The round seal of ofd/guarantee, as guarantee.InstitutionSeal
		// draws it.
		spec.Type = ses.SealTypeOrganization
		if spec.Picture, err = guarantee.SealPicture(id.Name, "保函专用章"); err != nil {
			return nil, fmt.Errorf("making the institution's seal: %w", err)
		}
	}
	seal, err := ses.MakeSeal(key, cert, spec)
	if err != nil {
		return nil, fmt.Errorf("making the institution's seal: %w", err)
	}
	return &OFDDocuments{id: id, cert: cert, key: key, seal: seal, roots: roots.Pool(), now: now}, nil
}

// VerifyAgreement implements Documents: every signature of signed holds
// against the trust roots, nothing was added after the last one, and the
// signed document is the agreement the institution made (every content
// entry of unsigned is in signed, byte for byte; only OFD.xml and the
// signature entries may differ, as signing changes them).
func (d *OFDDocuments) VerifyAgreement(_ context.Context, signed, unsigned []byte) (*smx509.Certificate, error) {
	rep, err := ses.Verify(signed, d.roots)
	if err != nil {
		return nil, baohan.Refusef("the signed agreement cannot be verified: %v", err)
	}
	if !rep.OK() {
		for _, r := range rep.Signatures {
			if f := r.Failure(); f != nil {
				return nil, baohan.Refusef("the agreement's signature %s by %q fails the %s check: %s", r.ID, r.Signer, f.Name, f.Detail)
			}
		}
		return nil, baohan.Refusef("the agreement's signatures do not verify")
	}
	if len(rep.Unprotected) > 0 {
		return nil, baohan.Refusef("the signed agreement has content no signature covers: %s", strings.Join(rep.Unprotected, ", "))
	}
	sp, err := ofd.Open(signed)
	if err != nil {
		return nil, baohan.Refusef("the signed agreement is not an OFD package: %v", err)
	}
	up, err := ofd.Open(unsigned)
	if err != nil {
		return nil, fmt.Errorf("the stored agreement: %w", err)
	}
	for _, name := range up.Names() {
		if name == "OFD.xml" || strings.Contains(name, "/Signs/") {
			continue
		}
		want, _ := up.File(name)
		got, ok := sp.File(name)
		if !ok || !bytes.Equal(got, want) {
			return nil, baohan.Refusef("the signed document is not the agreement this institution issued for the application (%s differs)", name)
		}
	}
	// The bidder's signature is the last one (the agreement carries no other).
	last := rep.Signatures[len(rep.Signatures)-1]
	if last.SignerCert == nil {
		return nil, baohan.Refusef("the agreement's signature carries no signer certificate")
	}
	return last.SignerCert, nil
}
