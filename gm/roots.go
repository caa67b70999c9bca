package gm

import (
	"fmt"
	"os"

	"github.com/emmansun/gmsm/smx509"
)

// TrustRoots are the CA certificates a service accepts (its trust_roots):
// the seals on guarantee files and the bidders' certificates must chain to
// one of them. Load them once with LoadTrustRoots and share them; they are
// never changed after loading, so any number of goroutines may use them.
type TrustRoots struct {
	files []string
	certs []*smx509.Certificate
	pool  *smx509.CertPool
}

// LoadTrustRoots reads every certificate of the files (PEM, DER or base64
// DER, as ParseCertificates reads them). No file gives empty roots, not an
// error: the caller decides whether a service can run without. An error
// names the file.
func LoadTrustRoots(files ...string) (*TrustRoots, error) {
	t := &TrustRoots{files: append([]string(nil), files...)}
	if len(files) == 0 {
		return t, nil
	}
	t.pool = smx509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("trust root %s: %w", f, err)
		}
		certs, err := ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("trust root %s: %w", f, err)
		}
		for _, c := range certs {
			t.pool.AddCert(c)
		}
		t.certs = append(t.certs, certs...)
	}
	return t, nil
}

// NewTrustRoots makes trust roots of certificates already parsed (tests,
// tools that took them on the command line).
func NewTrustRoots(certs ...*smx509.Certificate) *TrustRoots {
	t := &TrustRoots{certs: append([]*smx509.Certificate(nil), certs...)}
	if len(certs) > 0 {
		t.pool = smx509.NewCertPool()
		for _, c := range certs {
			t.pool.AddCert(c)
		}
	}
	return t
}

// Pool is the certificates as a pool for chain verification, or nil when
// there are none (so that verifiers report "no trust roots" rather than
// "unknown authority"). Do not add to it: it is shared.
func (t *TrustRoots) Pool() *smx509.CertPool {
	if t == nil {
		return nil
	}
	return t.pool
}

// Certificates are the certificates, in the order of the files.
func (t *TrustRoots) Certificates() []*smx509.Certificate {
	if t == nil {
		return nil
	}
	return append([]*smx509.Certificate(nil), t.certs...)
}

// Len is the number of certificates.
func (t *TrustRoots) Len() int {
	if t == nil {
		return 0
	}
	return len(t.certs)
}

// Files are the files the certificates were read from.
func (t *TrustRoots) Files() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.files...)
}
