package platform

import (
	"context"
	"crypto/ecdsa"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/store"
)

// Bidder is a bidder (投标人) and the CA certificate whose SM2 key opens
// the digital envelope of its applications.
type Bidder struct {
	CreditCode string `json:"credit_code"` // 统一社会信用代码
	Name       string `json:"name"`
	CertPEM    string `json:"cert_pem"`
	// ContactName and ContactPhone: the bidder's contact, which the flat
	// revision's baohanapply carries (optional otherwise).
	ContactName  string    `json:"contact_name,omitempty"`
	ContactPhone string    `json:"contact_phone,omitempty"`
	CertSubject  string    `json:"cert_subject"`
	CertNotAfter time.Time `json:"cert_not_after"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// BidderInput registers a bidder, or replaces its certificate.
type BidderInput struct {
	Name       string `json:"name"`
	CreditCode string `json:"credit_code"`
	CertPEM    string `json:"cert_pem"` // PEM (or DER) of the bidder's SM2 CA certificate
	// Optional; needed by institutions of the flat revision.
	ContactName  string `json:"contact_name"`
	ContactPhone string `json:"contact_phone"`
}

// CreditCode is the 统一社会信用代码 that cert carries, read where the
// CA that issued it puts it ([[trust_root]] credit_code_in; Subject
// SERIALNUMBER by default). The console's certificate login asks it.
func (s *Service) CreditCode(cert *smx509.Certificate) (string, error) { return s.codes.Of(cert) }

// checkBidderCert parses the certificate and checks it: an SM2 key,
// valid now, issued under a trust root, and naming the bidder's credit
// code when it carries one (where its CA puts it: CreditCode).
func (s *Service) checkBidderCert(in *BidderInput, now time.Time) (*smx509.Certificate, error) {
	cert, err := gm.ParseCertificate([]byte(in.CertPEM))
	if err != nil {
		return nil, inputErr("cert_pem", "%v", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != sm2.P256() {
		return nil, inputErr("cert_pem", "the certificate of %q does not hold an SM2 public key", cert.Subject.CommonName)
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, inputErr("cert_pem", "the certificate of %q is valid from %s to %s, not now",
			cert.Subject.CommonName, cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))
	}
	switch cc, err := s.codes.Of(cert); {
	case err == nil && cc != in.CreditCode:
		return nil, inputErr("credit_code", "the certificate names credit code %s, not %s", cc, in.CreditCode)
	case err != nil && !errors.Is(err, pki.ErrNoCreditCode):
		return nil, inputErr("cert_pem", "%v", err)
	}
	if s.roots == nil {
		return nil, inputErr("cert_pem", "no trust roots are configured; bidder certificates cannot be checked")
	}
	if _, err := cert.Verify(smx509.VerifyOptions{Roots: s.roots, CurrentTime: now,
		KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}}); err != nil {
		return nil, inputErr("cert_pem", "the certificate of %q is not issued under a trusted CA: %v", cert.Subject.CommonName, err)
	}
	return cert, nil
}

// RegisterBidder registers a bidder, or replaces the name and certificate
// of one already registered under the credit code.
func (s *Service) RegisterBidder(ctx context.Context, in BidderInput) (*Bidder, error) {
	in.Name, in.CreditCode = strings.TrimSpace(in.Name), strings.TrimSpace(in.CreditCode)
	var errs []error
	if in.Name == "" {
		errs = append(errs, inputErr("name", "投标人名称 is required"))
	} else if len([]rune(in.Name)) > 200 {
		errs = append(errs, inputErr("name", "投标人名称 is longer than 200 characters"))
	}
	if in.CreditCode == "" {
		errs = append(errs, inputErr("credit_code", "统一社会信用代码 is required"))
	} else if len(in.CreditCode) > 50 {
		errs = append(errs, inputErr("credit_code", "统一社会信用代码 is longer than 50 characters"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	now := s.now()
	cert, err := s.checkBidderCert(&in, now)
	if err != nil {
		return nil, err
	}
	certPEM := strings.TrimSpace(in.CertPEM)
	if !strings.HasPrefix(certPEM, "-----BEGIN") {
		certPEM = string(pemCert(cert.Raw))
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_bidders
			(credit_code, name, cert_pem, cert_subject, cert_not_after, created_at, updated_at, contact_name, contact_phone)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (credit_code) DO UPDATE SET name = excluded.name, cert_pem = excluded.cert_pem,
				cert_subject = excluded.cert_subject, cert_not_after = excluded.cert_not_after, updated_at = excluded.updated_at,
				contact_name = excluded.contact_name, contact_phone = excluded.contact_phone`),
			in.CreditCode, in.Name, certPEM, cert.Subject.String(), store.Micros(cert.NotAfter), store.Micros(now), store.Micros(now),
			strings.TrimSpace(in.ContactName), strings.TrimSpace(in.ContactPhone))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registering bidder %s: %w", in.CreditCode, err)
	}
	s.log.Info("bidder registered", "credit_code", in.CreditCode, "subject", cert.Subject.String())
	return s.Bidder(ctx, in.CreditCode)
}

const bidderColumns = `credit_code, name, cert_pem, cert_subject, cert_not_after, created_at, updated_at, contact_name, contact_phone`

func scanBidder(sc interface{ Scan(...any) error }) (*Bidder, error) {
	var (
		b                      Bidder
		notAfter, created, upd int64
	)
	if err := sc.Scan(&b.CreditCode, &b.Name, &b.CertPEM, &b.CertSubject, &notAfter, &created, &upd, &b.ContactName, &b.ContactPhone); err != nil {
		return nil, err
	}
	b.CertNotAfter, b.CreatedAt, b.UpdatedAt = store.FromMicros(notAfter), store.FromMicros(created), store.FromMicros(upd)
	return &b, nil
}

// Bidder returns one bidder by credit code.
func (s *Service) Bidder(ctx context.Context, creditCode string) (*Bidder, error) {
	return s.bidderQ(ctx, s.db, creditCode)
}

func (s *Service) bidderQ(ctx context.Context, q store.Querier, creditCode string) (*Bidder, error) {
	b, err := scanBidder(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+bidderColumns+` FROM plat_bidders WHERE credit_code = ?`), creditCode))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("bidder %s: %w", creditCode, ErrNotFound)
	}
	return b, err
}

// Bidders lists bidders by name; query matches part of the name or code.
func (s *Service) Bidders(ctx context.Context, query string, lim, offset int) ([]Bidder, error) {
	q := `SELECT ` + bidderColumns + ` FROM plat_bidders`
	var args []any
	if query != "" {
		q += ` WHERE name LIKE ? ESCAPE '\' OR credit_code LIKE ? ESCAPE '\'`
		p := "%" + likeEscape(query) + "%"
		args = append(args, p, p)
	}
	q += ` ORDER BY name, credit_code LIMIT ? OFFSET ?`
	args = append(args, limit(lim), max(offset, 0))
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Bidder{}
	for rows.Next() {
		b, err := scanBidder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *b)
	}
	return out, rows.Err()
}
