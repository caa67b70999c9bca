package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Role is what a certificate is issued for.
type Role string

const (
	Bidder      Role = "bidder"      // 投标人: envelope encryption and signing
	Institution Role = "institution" // 金融机构: seals (digitalSignature, nonRepudiation)
	Platform    Role = "platform"    // 数据服务支撑平台
)

// Roles lists the roles in a stable order.
var Roles = []Role{Bidder, Institution, Platform}

// ParseRole parses "bidder", "institution" or "platform".
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, x := range Roles {
		if r == x {
			return r, nil
		}
	}
	return "", fmt.Errorf("pki: unknown role %q (want bidder, institution or platform)", s)
}

// File names inside a CA directory.
const (
	CACertFile = "ca.cert.pem"
	CAKeyFile  = "ca.key.pem"
)

// CA is a root certificate and its key.
type CA struct {
	Cert *smx509.Certificate
	Key  *sm2.PrivateKey

	certPEM []byte
	now     func() time.Time
}

// Identity is an issued certificate with its key.
type Identity struct {
	Name       string
	CreditCode string // 统一社会信用代码, empty for none
	Role       Role
	Cert       *smx509.Certificate
	Key        *sm2.PrivateKey
	CertPEM    []byte
	KeyPEM     []byte // PKCS#8
}

type issueOptions struct {
	creditCode          string
	creditCodeIn        CreditCodeIn
	notBefore, notAfter time.Time
	dnsNames            []string
}

// Option adjusts an issued certificate.
type Option func(*issueOptions)

// WithCreditCode sets the 统一社会信用代码 (a valid one: Issue checks
// it). Bidder and institution certificates get a generated code without
// it.
func WithCreditCode(code string) Option {
	return func(o *issueOptions) { o.creditCode = code }
}

// WithCreditCodeIn places the credit code as a CA of that convention
// would (default InSerialNumber): InCN writes the CN as CFCA does,
// 041@N<code>@<name>@00000001; InOU adds an OU holding the code;
// InExtension adds the extension with the code as a PrintableString.
func WithCreditCodeIn(in CreditCodeIn) Option {
	return func(o *issueOptions) { o.creditCodeIn = in }
}

// WithValidity sets the validity period (default: an hour ago to two
// years on, within the CA's own period).
func WithValidity(notBefore, notAfter time.Time) Option {
	return func(o *issueOptions) { o.notBefore, o.notAfter = notBefore, notAfter }
}

// WithDNSNames adds subject alternative DNS names (for TLS tests).
func WithDNSNames(names ...string) Option {
	return func(o *issueOptions) { o.dnsNames = append(o.dnsNames, names...) }
}

// anyCreditCode is the credit code of a certificate this package issued
// (at whichever place WithCreditCodeIn put it), or "".
func anyCreditCode(cert *smx509.Certificate) string {
	for _, in := range []CreditCodeIn{InSerialNumber, InCN, InOU, InExtension(OIDOrganizationCode)} {
		if code, err := CreditCode(cert, in); err == nil {
			return code
		}
	}
	return ""
}

// nameOf is the subject's name: the CN, or the organisation when the CN
// is of CFCA's form (041@N<code>@<name>@00000001, WithCreditCodeIn(InCN)).
func nameOf(cert *smx509.Certificate) string {
	if strings.Contains(cert.Subject.CommonName, "@") && len(cert.Subject.Organization) > 0 {
		return cert.Subject.Organization[0]
	}
	return cert.Subject.CommonName
}

// RoleOf returns the role recorded in the Subject OU of a certificate
// issued by this package, or "".
func RoleOf(cert *smx509.Certificate) Role {
	if cert == nil {
		return ""
	}
	for _, ou := range cert.Subject.OrganizationalUnit {
		if r, err := ParseRole(ou); err == nil {
			return r
		}
	}
	return ""
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

func keyID(k *sm2.PrivateKey) []byte {
	pt := make([]byte, 65)
	pt[0] = 4
	k.X.FillBytes(pt[1:33])
	k.Y.FillBytes(pt[33:])
	h := sha1.Sum(pt) // RFC 5280 method 1: an identifier, not a security function
	return h[:]
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// New creates a root CA in memory named name (Subject CN), valid from an
// hour ago for 20 years.
func New(name string) (*CA, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("pki: CA name is empty")
	}
	key, err := gm.GenerateKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &smx509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{name}, Country: []string{"CN"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign | smx509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(key),
		SignatureAlgorithm:    smx509.SM2WithSM3,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create root: %w", err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse root: %w", err)
	}
	return &CA{Cert: cert, Key: key, certPEM: pemCert(der), now: time.Now}, nil
}

// DefaultName is the CA name Init uses.
const DefaultName = "baohan test CA"

// Init creates a CA and writes ca.cert.pem (0644) and ca.key.pem (PKCS#8,
// 0600) into dir, creating dir. It refuses to overwrite an existing CA.
func Init(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("pki: %s exists: the CA is already initialised (Load it, or remove the directory)", p)
		}
	}
	ca, err := New(DefaultName)
	if err != nil {
		return nil, err
	}
	keyPEM, err := gm.MarshalPrivateKeyPEM(ca.Key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(certPath, ca.certPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return nil, err
	}
	return ca, nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	return nil
}

// Load reads the CA written by Init and checks that key and certificate
// belong together.
func Load(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pki: no CA in %s (run baohan ca init --dir %s): %w", dir, dir, err)
		}
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := gm.ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", CACertFile, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	key, err := gm.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", CAKeyFile, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("pki: %s and %s do not belong together", CAKeyFile, CACertFile)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: %s is not a CA certificate", CACertFile)
	}
	return &CA{Cert: cert, Key: key, certPEM: pemCert(cert.Raw), now: time.Now}, nil
}

// CertPEM returns the root certificate as PEM.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// Pool returns a pool holding the root, for smx509 verification.
func (ca *CA) Pool() *smx509.CertPool {
	p := smx509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Verify checks that cert chains to this CA (any extended key usage).
func (ca *CA) Verify(cert *smx509.Certificate) error {
	_, err := cert.Verify(smx509.VerifyOptions{
		Roots:       ca.Pool(),
		CurrentTime: ca.now(),
		KeyUsages:   []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny},
	})
	return err
}

// Issue creates a key pair and a certificate for name in role.
func (ca *CA) Issue(name string, role Role, opts ...Option) (*Identity, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("pki: name is empty")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	o := issueOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	now := ca.now()
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.AddDate(2, 0, 0)
		if o.notAfter.After(ca.Cert.NotAfter) {
			o.notAfter = ca.Cert.NotAfter
		}
	}
	if !o.notAfter.After(o.notBefore) {
		return nil, fmt.Errorf("pki: validity ends (%s) before it starts (%s)", o.notAfter, o.notBefore)
	}
	if o.creditCode == "" && (role == Bidder || role == Institution) {
		o.creditCode = GenerateCreditCode()
	}
	if o.creditCode != "" {
		if err := CheckCreditCode(o.creditCode); err != nil {
			return nil, fmt.Errorf("pki: issue %s: %w", name, err)
		}
	}
	key, err := gm.GenerateKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &smx509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{
			CommonName:         name,
			Organization:       []string{name},
			OrganizationalUnit: []string{string(role)},
			Country:            []string{"CN"},
		},
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(key),
		DNSNames:              o.dnsNames,
		SignatureAlgorithm:    smx509.SM2WithSM3,
	}
	if o.creditCode != "" {
		switch in := o.creditCodeIn; in.place {
		case inSerialNumber:
			tmpl.Subject.SerialNumber = o.creditCode
		case inCN:
			tmpl.Subject.CommonName = "041@N" + o.creditCode + "@" + name + "@00000001"
		case inOU:
			tmpl.Subject.OrganizationalUnit = append(tmpl.Subject.OrganizationalUnit, o.creditCode)
		case inExtension:
			v, err := asn1.Marshal(o.creditCode) // PrintableString: the alphabet is
			if err != nil {
				return nil, err
			}
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: in.oid, Value: v})
		}
	}
	switch role {
	case Bidder:
		tmpl.KeyUsage = smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment |
			smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment
		tmpl.ExtKeyUsage = []smx509.ExtKeyUsage{smx509.ExtKeyUsageClientAuth}
	case Institution:
		// Seal certificate (GB/T 38540): signature and non-repudiation only.
		tmpl.KeyUsage = smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment
	case Platform:
		tmpl.KeyUsage = smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment |
			smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment
		tmpl.ExtKeyUsage = []smx509.ExtKeyUsage{smx509.ExtKeyUsageServerAuth, smx509.ExtKeyUsageClientAuth}
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: issue %s: %w", name, err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse issued certificate: %w", err)
	}
	keyPEM, err := gm.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return &Identity{
		Name: name, CreditCode: o.creditCode, Role: role,
		Cert: cert, Key: key, CertPEM: pemCert(der), KeyPEM: keyPEM,
	}, nil
}

// CertFile and KeyFile are the file names IssueToDir writes for name.
func CertFile(name string) string { return name + ".cert.pem" }
func KeyFile(name string) string  { return name + ".key.pem" }

func checkFileName(name string) error {
	switch {
	case name == "" || strings.TrimSpace(name) != name:
		return fmt.Errorf("pki: name %q cannot be a file name", name)
	case strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || strings.ContainsRune(name, 0):
		return fmt.Errorf("pki: name %q cannot be a file name (no path separators, no leading dot)", name)
	case name == "ca":
		return errors.New(`pki: name "ca" would overwrite the CA's own files`)
	}
	return nil
}

// IssueToDir issues like Issue and writes N.key.pem (PKCS#8, 0600) and
// N.cert.pem into dir. It refuses to overwrite existing files.
func (ca *CA) IssueToDir(dir, name string, role Role, opts ...Option) (*Identity, error) {
	if err := checkFileName(name); err != nil {
		return nil, err
	}
	keyPath, certPath := filepath.Join(dir, KeyFile(name)), filepath.Join(dir, CertFile(name))
	for _, p := range []string{keyPath, certPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("pki: %s exists; choose another name", p)
		}
	}
	id, err := ca.Issue(name, role, opts...)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := writeNew(keyPath, id.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(certPath, id.CertPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return nil, err
	}
	return id, nil
}

// LoadOrIssue loads the identity name from dir (LoadIdentity) when its
// certificate is there, and issues it there (IssueToDir) otherwise;
// issued says which.
func (ca *CA) LoadOrIssue(dir, name string, role Role) (id *Identity, issued bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, CertFile(name))); err == nil {
		id, err := LoadIdentity(dir, name)
		return id, false, err
	}
	id, err = ca.IssueToDir(dir, name, role)
	return id, err == nil, err
}

// LoadIdentity reads N.cert.pem and N.key.pem from dir.
func LoadIdentity(dir, name string) (*Identity, error) {
	if err := checkFileName(name); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile(name)))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := gm.ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", CertFile(name), err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile(name)))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	key, err := gm.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", KeyFile(name), err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("pki: %s and %s do not belong together", KeyFile(name), CertFile(name))
	}
	return &Identity{
		Name: nameOf(cert), CreditCode: anyCreditCode(cert), Role: RoleOf(cert),
		Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM,
	}, nil
}
