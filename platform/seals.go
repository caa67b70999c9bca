package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/pki"
)

// sealPin is what the seals on an institution's guarantees must be
// signed with: one of its seal certificates (seal_certs), a certificate
// naming its credit code (seal_credit_code), or, without either, a
// certificate naming the institution (Subject O or CN).
type sealPin struct {
	institution string
	creditCode  string
	certs       []*smx509.Certificate
}

// sealPins loads the seal settings of every institution, by name.
func (c Config) sealPins() (map[string]*sealPin, error) {
	out := make(map[string]*sealPin, len(c.Institutions))
	var errs []error
	for _, in := range c.Institutions {
		p := &sealPin{institution: in.Name, creditCode: in.SealCreditCode}
		for _, f := range in.SealCerts {
			b, err := os.ReadFile(f)
			if err == nil {
				var certs []*smx509.Certificate
				if certs, err = gm.ParseCertificates(b); err == nil {
					p.certs = append(p.certs, certs...)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("institution %q: seal_certs %s: %w", in.Name, f, err))
			}
		}
		out[in.Name] = p
	}
	return out, errors.Join(errs...)
}

// check says why cert may not seal the institution's guarantees (nil
// when it may); codes reads the credit code of cert.
func (p *sealPin) check(cert *smx509.Certificate, codes *pki.CreditCodes) error {
	if len(p.certs) > 0 && !slices.ContainsFunc(p.certs, cert.Equal) {
		return fmt.Errorf("it is none of the %d certificate(s) in seal_certs of institution %q", len(p.certs), p.institution)
	}
	if p.creditCode != "" {
		if cc, _ := codes.Of(cert); !strings.EqualFold(cc, p.creditCode) {
			return fmt.Errorf("it names credit code %s (%s), institution %q seals with credit code %s (seal_credit_code)",
				orNone(cc), codes.In(cert).Where(), p.institution, p.creditCode)
		}
	}
	if len(p.certs) == 0 && p.creditCode == "" && cert.Subject.CommonName != p.institution && !slices.Contains(cert.Subject.Organization, p.institution) {
		return fmt.Errorf("it does not name institution %q as its organisation (Subject O) or common name (CN); set seal_credit_code or seal_certs of the institution when its seal certificate names it otherwise",
			p.institution)
	}
	return nil
}

// sealVerdict is what the platform keeps of the verification of a
// guarantee file (plat_guarantees.report).
type sealVerdict struct {
	OK      bool   `json:"ok"`
	Rule    string `json:"rule,omitempty"` // the guarantee.Rule* broken
	Failure string `json:"failure,omitempty"`
	// Report is the verification of the guarantee's own seals.
	Report    *ses.Report                `json:"report,omitempty"`
	Agreement *guarantee.SignedAgreement `json:"agreement,omitempty"`
	CipherSM3 string                     `json:"cipher_sm3,omitempty"`
}

// verifyGuarantee checks the OFD in blob as the guarantee file of a
// (guarantee.Check): it is the application's (baohanno, applyno,
// filetype), its seals verify against the trust roots and cover every
// entry, each is signed with the institution's pinned seal certificate
// (never a registered bidder's), and the agreement attached is signed by
// the application's bidder; a plaintext guarantee's attached ciphertext
// guarantee is the one accepted. A document that breaks a rule gives a
// verdict not OK naming it; err is for storage failures only. When the
// blob store gives an io.ReaderAt (a file), only the small entries (and
// the agreement) are read into memory and the large ones hashed as a
// stream; otherwise the package is read into memory (within
// ofd.DefaultLimits).
func (s *Service) verifyGuarantee(ctx context.Context, a *Application, fileType int, blob string, size int64) (*sealVerdict, json.RawMessage, error) {
	if s.sealCheck != nil {
		ok, report, failure, err := s.sealCheck(ctx, blob, size)
		return &sealVerdict{OK: ok, Rule: guarantee.RuleSeals, Failure: failure}, report, err
	}
	e, err := s.expectation(ctx, a, fileType)
	if err != nil {
		return nil, nil, err
	}
	rc, err := s.blobs.Open(ctx, blob)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	var pkg *ofd.Package
	if ra, isRA := rc.(io.ReaderAt); isRA {
		// Large entries stay in the blob and are hashed as a stream.
		pkg, err = ofd.OpenReaderAtLazy(ra, size, ofd.DefaultLimits)
	} else {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(rc, ofd.DefaultLimits.MaxTotalSize+1))
		if err == nil {
			// The large entries are inflated only to be hashed, not
			// copied beside the zip bytes.
			pkg, err = ofd.OpenReaderAtLazy(bytes.NewReader(b), int64(len(b)), ofd.DefaultLimits)
		}
	}
	v := &sealVerdict{}
	switch {
	case err != nil:
		v.Rule, v.Failure = guarantee.RuleDocument, fmt.Sprintf("seal verification failed: the decrypted file is not an OFD package: %v", err)
	case s.roots == nil:
		v.Rule, v.Failure = guarantee.RuleSeals, "seal verification failed: no trust roots are configured"
	default:
		gv, err := guarantee.Check(pkg, e)
		v.Report, v.Agreement, v.CipherSM3 = gv.Seals, gv.Agreement, gv.CipherSM3
		var viol *guarantee.Violation
		switch {
		case errors.As(err, &viol):
			v.Rule, v.Failure = viol.Rule, viol.Msg
		case err != nil:
			return nil, nil, err
		default:
			v.OK = true
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return v, b, nil
}

// expectation is what the guarantee file of a must be: a's numbers, the
// institution's seal (pinned, and never a registered bidder's
// certificate), the bidder's signature on the agreement (its registered
// certificate, or one under the trust roots naming its credit code), and
// for the plaintext guarantee the ciphertext guarantee accepted before.
func (s *Service) expectation(ctx context.Context, a *Application, fileType int) (guarantee.Expectation, error) {
	e := guarantee.Expectation{ApplyNo: a.ApplyNo, BaohanNo: a.BaohanNo, FileType: fileType, Roots: s.roots, CreditCode: s.codes.Of}
	pin := s.pins[a.Institution]
	if pin == nil {
		pin = &sealPin{institution: a.Institution}
	}
	e.Institution = func(cert *smx509.Certificate) error {
		if err := s.notABidder(ctx, cert); err != nil {
			return err
		}
		return pin.check(cert, s.codes)
	}
	var registered *smx509.Certificate
	switch b, err := s.bidderQ(ctx, s.db, a.BidderCode); {
	case err == nil:
		registered, _ = gm.ParseCertificate([]byte(b.CertPEM))
	case !errors.Is(err, ErrNotFound):
		return e, err
	}
	e.Bidder = func(cert *smx509.Certificate) error {
		if registered != nil && registered.Equal(cert) {
			return nil
		}
		if cc, err := s.codes.Of(cert); err == nil && strings.EqualFold(cc, a.BidderCode) {
			return nil
		}
		return fmt.Errorf("the bidder of applyno %s is %s, and this certificate neither names that credit code (%s) nor is the bidder's registered certificate",
			a.ApplyNo, a.BidderCode, s.codes.In(cert).Where())
	}
	if fileType == 2 {
		switch g, err := s.guarantee(ctx, s.db, a.ApplyNo, 1); {
		case err == nil:
			e.CipherSM3 = g.SM3
		case !errors.Is(err, ErrNotFound):
			return e, err
		}
	}
	return e, nil
}

// notABidder refuses the certificate of a registered bidder (by the
// credit code it names, or the certificate itself): a bidder's CA
// certificate chains to the same trust roots as the seals, and must never
// pass as an institution's seal.
func (s *Service) notABidder(ctx context.Context, cert *smx509.Certificate) error {
	cc, _ := s.codes.Of(cert)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT credit_code, name, cert_pem FROM plat_bidders WHERE credit_code = ? OR cert_subject = ?`),
		cc, cert.Subject.String())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var code, name, certPEM string
		if err := rows.Scan(&code, &name, &certPEM); err != nil {
			return err
		}
		if c, err := gm.ParseCertificate([]byte(certPEM)); (cc != "" && strings.EqualFold(code, cc)) || (err == nil && c.Equal(cert)) {
			return fmt.Errorf("it is the certificate of bidder %s (%s), registered on this platform: a bidder's certificate never seals a guarantee", name, code)
		}
	}
	return rows.Err()
}
