package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/pki"
)

// TestTrustRootTables: [[trust_root]] tables read from TOML beside the
// plain trust_roots list; each CA reads the credit code where its table
// says, the others in Subject SERIALNUMBER; the errors name the table.
func TestTrustRootTables(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain, _ := pki.New("SERIALNUMBER CA")
	cfca, _ := pki.New("CN CA")
	ext, _ := pki.New("extension CA")
	plainFile, cfcaFile, extFile := write("plain.pem", plain.CertPEM()), write("cfca.pem", cfca.CertPEM()), write("ext.pem", ext.CertPEM())
	path := write("c.toml", []byte(`
trust_roots = ["`+plainFile+`", "`+cfcaFile+`"]

[[trust_root]]
file = "`+cfcaFile+`"
credit_code_in = "cn"

[[trust_root]]
file = "`+extFile+`"
credit_code_in = "ext:1.2.156.10260.4.1.4"
`))
	var c struct {
		TrustRoots []string    `toml:"trust_roots"`
		TrustRoot  []TrustRoot `toml:"trust_root"`
	}
	if err := Load(path, "BAOHAN_T", &c); err != nil {
		t.Fatal(err)
	}
	if got := TrustRootFiles(c.TrustRoots, c.TrustRoot); !slices.Equal(got, []string{plainFile, cfcaFile, extFile}) {
		t.Errorf("TrustRootFiles: %v", got)
	}
	codes, err := CreditCodes(c.TrustRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ca   *pki.CA
		want pki.CreditCodeIn
	}{
		{plain, pki.InSerialNumber},
		{cfca, pki.InCN},
		{ext, pki.InExtension(pki.OIDOrganizationCode)},
	} {
		id, err := tt.ca.Issue("某某公司", pki.Bidder, pki.WithCreditCodeIn(tt.want))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := codes.Of(id.Cert); err != nil || got != id.CreditCode || !codes.In(id.Cert).Equal(tt.want) {
			t.Errorf("%s: %q, %v (read in %s), want %s in %s", tt.ca.Cert.Subject.CommonName, got, err, codes.In(id.Cert), id.CreditCode, tt.want)
		}
	}

	for _, tt := range []struct {
		name, toml, want string
	}{
		{"an unknown place", `[[trust_root]]
file = "` + cfcaFile + `"
credit_code_in = "o"`, "credit_code_in \"o\": want serialnumber, cn, ou or ext:OID"},
		{"a bad OID", `[[trust_root]]
file = "` + cfcaFile + `"
credit_code_in = "ext:1.2.x"`, "is not an object identifier"},
		{"no file", `[[trust_root]]
credit_code_in = "cn"`, "trust_root[0]: file is empty"},
		{"a missing file", `[[trust_root]]
file = "` + filepath.Join(dir, "none.pem") + `"`, "trust_root[0] file: open"},
		{"not certificates", `[[trust_root]]
file = "` + path + `"`, "trust_root[0] file " + path},
		{"one CA in two places", `[[trust_root]]
file = "` + cfcaFile + `"
credit_code_in = "cn"
[[trust_root]]
file = "` + cfcaFile + `"
credit_code_in = "ou"`, "trust_root[1] file " + cfcaFile + `: the CA certificate "CN CA" is configured twice, with credit_code_in cn and ou`},
		{"an unknown key", `[[trust_root]]
file = "` + cfcaFile + `"
credit_code = "cn"`, "credit_code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c struct {
				TrustRoot []TrustRoot `toml:"trust_root"`
			}
			err := Load(write("bad.toml", []byte(tt.toml)), "BAOHAN_T", &c)
			if err == nil {
				_, err = CreditCodes(c.TrustRoot)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v, want %q", err, tt.want)
			}
		})
	}
}
