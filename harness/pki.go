package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/baohan-dev/baohan/pki"
)

// PKI is the harness's one PKI, kept in a directory: the CA
// (ca.cert.pem, ca.key.pem), the institution's seal identity and the
// bidder. A directory that already holds them is loaded, so that a demo
// directory keeps its certificates from one run to the next.
type PKI struct {
	Dir    string
	CA     *pki.CA
	CAFile string
	// Inst is the institution's seal identity (institution.key.pem,
	// institution.cert.pem), carrying the institution's credit code.
	Inst *pki.Identity
	// Bidder is the bidder's identity (BidderFile in Parties), the one
	// the CA agent holds.
	Bidder *pki.Identity
}

// InstFile is the base name of the institution's seal key and
// certificate files in the PKI's directory.
const InstFile = "institution"

// NewPKI loads the PKI from dir or makes what is missing there: the CA,
// the institution's seal certificate and the bidder's certificate of p.
func NewPKI(dir string, p Parties) (*PKI, error) { return NewPKIWith(dir, nil, p) }

// NewPKIWith is NewPKI with ca (when not nil) as the CA: its certificate
// is written to dir, its key stays in memory.
func NewPKIWith(dir string, ca *pki.CA, p Parties) (*PKI, error) {
	p = p.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k := &PKI{Dir: dir, CA: ca, CAFile: filepath.Join(dir, pki.CACertFile)}
	var err error
	if ca != nil {
		if err := os.WriteFile(k.CAFile, ca.CertPEM(), 0o644); err != nil {
			return nil, err
		}
	} else if k.CA, err = pki.Load(dir); err != nil {
		if _, statErr := os.Stat(k.CAFile); !errors.Is(statErr, os.ErrNotExist) {
			return nil, fmt.Errorf("harness: the CA in %s: %w", dir, err)
		}
		if k.CA, err = pki.Init(dir); err != nil {
			return nil, fmt.Errorf("harness: the CA: %w", err)
		}
	}
	if k.Inst, err = k.Identity(InstFile, p.InstitutionName, pki.Institution, p.InstitutionCode); err != nil {
		return nil, fmt.Errorf("harness: the seal certificate: %w", err)
	}
	if k.Bidder, err = k.Identity(p.BidderFile, p.BidderName, pki.Bidder, p.BidderCode); err != nil {
		return nil, fmt.Errorf("harness: the bidder's certificate: %w", err)
	}
	return k, nil
}

// InstCertFile and InstKeyFile are the institution's seal certificate
// and key files.
func (k *PKI) InstCertFile() string { return filepath.Join(k.Dir, pki.CertFile(InstFile)) }
func (k *PKI) InstKeyFile() string  { return filepath.Join(k.Dir, pki.KeyFile(InstFile)) }

// Identity loads file.key.pem and file.cert.pem from the PKI's
// directory, or issues a certificate for name (its subject CN) of role
// carrying code and writes them.
func (k *PKI) Identity(file, name string, role pki.Role, code string) (*pki.Identity, error) {
	if id, err := pki.LoadIdentity(k.Dir, file); err == nil {
		id.Name = id.Cert.Subject.CommonName
		return id, nil
	}
	var opts []pki.Option
	if code != "" {
		opts = append(opts, pki.WithCreditCode(code))
	}
	id, err := k.CA.Issue(name, role, opts...)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(k.Dir, pki.KeyFile(file)), id.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(k.Dir, pki.CertFile(file)), id.CertPEM, 0o644); err != nil {
		return nil, err
	}
	return id, nil
}
