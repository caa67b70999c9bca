package config

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
)

// TrustRoot is one [[trust_root]] table: a file of CA certificates the
// service trusts, and where the certificates those CAs issue carry the
// 统一社会信用代码 (pki.CreditCodeIn):
//
//	[[trust_root]]
//	file = "/etc/baohan/cfca.pem"
//	credit_code_in = "cn"   # serialnumber (default), cn, ou or ext:OID
//
// The plain list trust_roots = ["ca.pem"] keeps working: its CAs put the
// code in Subject SERIALNUMBER. A file may be in both; its table says
// where its certificates carry the code.
type TrustRoot struct {
	File         string           `toml:"file"`
	CreditCodeIn pki.CreditCodeIn `toml:"credit_code_in"`
}

// TrustRootFiles are the files of trust_roots and then those of the
// [[trust_root]] tables, each once: what the service loads as its trust
// roots.
func TrustRootFiles(files []string, tables []TrustRoot) []string {
	out := make([]string, 0, len(files)+len(tables))
	for _, f := range files {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, t := range tables {
		if !slices.Contains(out, t.File) {
			out = append(out, t.File)
		}
	}
	return out
}

// CreditCodes reads the files of the [[trust_root]] tables and returns
// where the certificates of each of their CAs carry the credit code
// (Subject SERIALNUMBER for every other CA). An error names the table.
func CreditCodes(tables []TrustRoot) (*pki.CreditCodes, error) {
	codes := pki.NewCreditCodes(pki.InSerialNumber)
	var errs []error
	for i, t := range tables {
		if t.File == "" {
			errs = append(errs, fmt.Errorf("trust_root[%d]: file is empty", i))
			continue
		}
		b, err := os.ReadFile(t.File)
		if err != nil {
			errs = append(errs, fmt.Errorf("trust_root[%d] file: %w", i, err))
			continue
		}
		certs, err := gm.ParseCertificates(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("trust_root[%d] file %s: %w", i, t.File, err))
			continue
		}
		if err := codes.Add(t.CreditCodeIn, certs...); err != nil {
			errs = append(errs, fmt.Errorf("trust_root[%d] file %s: %w", i, t.File, err))
		}
	}
	return codes, errors.Join(errs...)
}
