package pki

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
)

func TestCheckCreditCode(t *testing.T) {
	// Published codes: GB 32100-2015's example, three large companies,
	// and the code in a CFCA test certificate's CN.
	for _, c := range []string{"91350100M000100Y43", "91440300708461136T", "91330100716105852F", "91110000802100433B", "91320508346386385N"} {
		if err := CheckCreditCode(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for _, tt := range []struct{ code, want string }{
		{"91350100M000100Y44", "check character is '4', want '3'"},
		{"91440300708461136X", "check character"},
		{"91350100M000100Y4", "17 characters"},
		{"91350100M000100I43", "'I' at position 16 is not allowed"},
		{"91350100m000100Y43", "not allowed"}, // lower case is not the code's alphabet
		{"", "0 characters"},
	} {
		if err := CheckCreditCode(tt.code); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.code, err, tt.want)
		}
	}
	seen := map[string]bool{}
	for range 200 {
		c := GenerateCreditCode()
		if err := CheckCreditCode(c); err != nil {
			t.Fatalf("generated %s: %v", c, err)
		}
		seen[c] = true
	}
	if len(seen) < 195 {
		t.Fatalf("only %d distinct codes in 200", len(seen))
	}
}

func TestParseCreditCodeIn(t *testing.T) {
	for _, tt := range []struct {
		in, want, where string
	}{
		{"", "serialnumber", "Subject SERIALNUMBER"},
		{"serialnumber", "serialnumber", "Subject SERIALNUMBER"},
		{" SerialNumber ", "serialnumber", "Subject SERIALNUMBER"},
		{"cn", "cn", "Subject CN"},
		{"CN", "cn", "Subject CN"},
		{"ou", "ou", "Subject OU"},
		{"ext:1.2.156.10260.4.1.4", "ext:1.2.156.10260.4.1.4", "extension 1.2.156.10260.4.1.4"},
		{"EXT:2.999.1", "ext:2.999.1", "extension 2.999.1"},
	} {
		c, err := ParseCreditCodeIn(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if c.String() != tt.want || c.Where() != tt.where {
			t.Errorf("%q: %s (%s), want %s (%s)", tt.in, c, c.Where(), tt.want, tt.where)
		}
		var back CreditCodeIn
		if b, _ := c.MarshalText(); back.UnmarshalText(b) != nil || !back.Equal(c) {
			t.Errorf("%q does not survive MarshalText/UnmarshalText", tt.in)
		}
	}
	for _, bad := range []string{"serial", "o", "ext:", "ext:1", "ext:1.a", "ext:1..2", "ext:3.1", "ext:1.40", "ext:1.2.9999999999", "oid:1.2.3"} {
		if _, err := ParseCreditCodeIn(bad); err == nil || !strings.Contains(err.Error(), "credit_code_in") {
			t.Errorf("%q: %v, want an error naming credit_code_in", bad, err)
		}
	}
	if !InSerialNumber.Equal(CreditCodeIn{}) || InCN.Equal(InOU) || InExtension(OIDOrganizationCode).Equal(InExtension(asn1.ObjectIdentifier{1, 2, 3})) {
		t.Error("Equal")
	}
}

// leaf issues a certificate under ca with the subject and extensions as
// given, without the package's own conventions: what other CAs issue.
func leaf(t *testing.T, ca *CA, subject pkix.Name, exts ...pkix.Extension) *smx509.Certificate {
	t.Helper()
	key, err := gm.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject, ExtraExtensions: exts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SignatureAlgorithm: smx509.SM2WithSM3,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ext(t *testing.T, v any, params string) pkix.Extension {
	t.Helper()
	b, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: OIDOrganizationCode, Value: b}
}

func TestCreditCode(t *testing.T) {
	ca, err := New("unit CA")
	if err != nil {
		t.Fatal(err)
	}
	const code, other = "91350100M000100Y43", "91440300708461136T"
	bmp := func(s string) pkix.Extension {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r>>8), byte(r))
		}
		v, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagBMPString, Bytes: b})
		return pkix.Extension{Id: OIDOrganizationCode, Value: v}
	}
	inExt := InExtension(OIDOrganizationCode)
	tests := []struct {
		name    string
		cert    *smx509.Certificate
		in      CreditCodeIn
		want    string
		wantErr string // "none": wraps ErrNoCreditCode
	}{
		{"serialnumber", leaf(t, ca, pkix.Name{CommonName: "某某公司", SerialNumber: code}), InSerialNumber, code, ""},
		{"serialnumber lower case, spaces", leaf(t, ca, pkix.Name{CommonName: "某某公司", SerialNumber: " " + strings.ToLower(code) + " "}), InSerialNumber, code, ""},
		{"serialnumber absent", leaf(t, ca, pkix.Name{CommonName: "某某公司"}), InSerialNumber, "", "none"},
		{"serialnumber not a code", leaf(t, ca, pkix.Name{CommonName: "某某公司", SerialNumber: "CUST-00012345"}), InSerialNumber, "", "none"},
		{"serialnumber wrong check character", leaf(t, ca, pkix.Name{CommonName: "某某公司", SerialNumber: "91350100M000100Y44"}), InSerialNumber, "", "no valid credit code: 统一社会信用代码 91350100M000100Y44: the check character"},
		{"serialnumber letter outside the alphabet", leaf(t, ca, pkix.Name{CommonName: "某某公司", SerialNumber: "91110000MA01OTHER1"}), InSerialNumber, "", "not allowed"},
		{"serialnumber ignores the CN", leaf(t, ca, pkix.Name{CommonName: "041@N" + code + "@某某公司@00000001"}), InSerialNumber, "", "none"},

		{"cn CFCA enterprise", leaf(t, ca, pkix.Name{CommonName: "041@N" + code + "@某某建设工程有限公司@00000001", OrganizationalUnit: []string{"Enterprises"}}), InCN, code, ""},
		{"cn the code alone", leaf(t, ca, pkix.Name{CommonName: code}), InCN, code, ""},
		{"cn the code after the name", leaf(t, ca, pkix.Name{CommonName: "某某建设工程有限公司（" + code + "）"}), InCN, code, ""},
		{"cn CFCA organisation code, no credit code", leaf(t, ca, pkix.Name{CommonName: "041@Z313791000015@某某银行@00000001"}), InCN, "", "none"},
		{"cn CFCA personal (identity card number)", leaf(t, ca, pkix.Name{CommonName: "041@0330602197108300018@张三@00000001"}), InCN, "", "none"},
		{"cn two codes", leaf(t, ca, pkix.Name{CommonName: "041@N" + code + "@" + other + "@00000001"}), InCN, "", "two credit codes in Subject CN: " + code + " and " + other},
		{"cn the same code twice", leaf(t, ca, pkix.Name{CommonName: code + "@" + code}), InCN, code, ""},
		{"cn wrong check character", leaf(t, ca, pkix.Name{CommonName: "041@N91350100M000100Y44@某某公司@00000001"}), InCN, "", "check character"},
		{"cn ignores SERIALNUMBER", leaf(t, ca, pkix.Name{CommonName: "某某公司", SerialNumber: code}), InCN, "", "none"},

		{"ou", leaf(t, ca, pkix.Name{CommonName: "某某公司", OrganizationalUnit: []string{"Enterprises", code}}), InOU, code, ""},
		{"ou labelled", leaf(t, ca, pkix.Name{CommonName: "某某公司", OrganizationalUnit: []string{"统一社会信用代码:" + code}}), InOU, code, ""},
		{"ou none", leaf(t, ca, pkix.Name{CommonName: "某某公司", OrganizationalUnit: []string{"Enterprises"}}), InOU, "", "none"},

		{"ext PrintableString", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, ext(t, code, "printable")), inExt, code, ""},
		{"ext UTF8String", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, ext(t, code, "utf8")), inExt, code, ""},
		{"ext IA5String", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, ext(t, code, "ia5")), inExt, code, ""},
		{"ext OCTET STRING", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, ext(t, []byte(code), "")), inExt, code, ""},
		{"ext BMPString", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, bmp(code)), inExt, code, ""},
		{"ext bare ASCII", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, pkix.Extension{Id: OIDOrganizationCode, Value: []byte(code)}), inExt, code, ""},
		{"ext binary", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, pkix.Extension{Id: OIDOrganizationCode, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}}), inExt, "", "neither a DER string nor printable text"},
		{"ext absent", leaf(t, ca, pkix.Name{CommonName: "某某公司", SerialNumber: code}), inExt, "", "none"},
		{"ext another OID", leaf(t, ca, pkix.Name{CommonName: "某某公司"}, ext(t, code, "printable")), InExtension(asn1.ObjectIdentifier{1, 2, 86, 11, 7, 4}), "", "none"},
		{"no certificate", nil, InSerialNumber, "", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CreditCode(tt.cert, tt.in)
			switch {
			case tt.wantErr == "":
				if err != nil || got != tt.want {
					t.Fatalf("%q, %v; want %q", got, err, tt.want)
				}
			case tt.wantErr == "none":
				if !errors.Is(err, ErrNoCreditCode) || got != "" {
					t.Fatalf("%q, %v; want ErrNoCreditCode", got, err)
				}
				if tt.cert != nil && !strings.Contains(err.Error(), tt.in.Where()) {
					t.Errorf("%v does not name %s", err, tt.in.Where())
				}
			default:
				if err == nil || errors.Is(err, ErrNoCreditCode) || !strings.Contains(err.Error(), tt.wantErr) || got != "" {
					t.Fatalf("%q, %v; want an error with %q, not ErrNoCreditCode", got, err, tt.wantErr)
				}
			}
		})
	}
}

// TestIssueCreditCodeIn: each place WithCreditCodeIn writes is read back
// by CreditCode at that place only, and LoadIdentity finds it.
func TestIssueCreditCodeIn(t *testing.T) {
	dir := t.TempDir()
	ca, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	places := []CreditCodeIn{InSerialNumber, InCN, InOU, InExtension(OIDOrganizationCode)}
	for i, in := range places {
		name := "bidder" + in.String()[:2]
		id, err := ca.IssueToDir(dir, name, Bidder, WithCreditCodeIn(in))
		if err != nil {
			t.Fatal(err)
		}
		for j, at := range places {
			got, err := CreditCode(id.Cert, at)
			if i == j && (err != nil || got != id.CreditCode) {
				t.Errorf("issued %s, read at %s: %q, %v; want %s", in, at, got, err, id.CreditCode)
			}
			if i != j && !errors.Is(err, ErrNoCreditCode) {
				t.Errorf("issued %s, read at %s: %q, %v; want ErrNoCreditCode", in, at, got, err)
			}
		}
		back, err := LoadIdentity(dir, name)
		if err != nil || back.CreditCode != id.CreditCode || back.Name != name || back.Role != Bidder {
			t.Errorf("LoadIdentity %s: %+v, %v", in, back, err)
		}
	}
	if _, err := ca.Issue("x", Bidder, WithCreditCode("91350100M000100Y44")); err == nil || !strings.Contains(err.Error(), "check character") {
		t.Errorf("an invalid credit code issued: %v", err)
	}
}

func TestCreditCodesPerRoot(t *testing.T) {
	plain, _ := New("SERIALNUMBER CA")
	cfca, _ := New("CN CA")
	unknown, _ := New("unconfigured CA")
	const code = "91350100M000100Y43"
	codes := NewCreditCodes(InSerialNumber)
	if err := codes.Add(InSerialNumber, plain.Cert); err != nil {
		t.Fatal(err)
	}
	if err := codes.Add(InCN, cfca.Cert); err != nil {
		t.Fatal(err)
	}
	if err := codes.Add(InCN, cfca.Cert); err != nil {
		t.Errorf("the same root with the same place twice: %v", err)
	}
	if err := codes.Add(InOU, cfca.Cert); err == nil || !strings.Contains(err.Error(), "configured twice") {
		t.Errorf("the same root with two places: %v", err)
	}
	cfcaStyle := pkix.Name{CommonName: "041@N" + code + "@某某公司@00000001"}
	serial := pkix.Name{CommonName: "某某公司", SerialNumber: code}
	for _, tt := range []struct {
		name string
		cert *smx509.Certificate
		in   CreditCodeIn
		ok   bool
	}{
		{"configured root, its place", leaf(t, cfca, cfcaStyle), InCN, true},
		{"configured root, not its place", leaf(t, cfca, serial), InCN, false},
		{"default root", leaf(t, plain, serial), InSerialNumber, true},
		{"default root, CFCA style", leaf(t, plain, cfcaStyle), InSerialNumber, false},
		{"unconfigured root: the default", leaf(t, unknown, serial), InSerialNumber, true},
		// The issuer is found by signature, not by name alone.
		{"same issuer name, another key", leaf(t, mustNew(t, "CN CA"), cfcaStyle), InSerialNumber, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if in := codes.In(tt.cert); !in.Equal(tt.in) {
				t.Errorf("In: %s, want %s", in, tt.in)
			}
			got, err := codes.Of(tt.cert)
			if tt.ok != (err == nil && got == code) {
				t.Errorf("Of: %q, %v; want ok %v", got, err, tt.ok)
			}
		})
	}
	var none *CreditCodes
	if got, err := none.Of(leaf(t, cfca, serial)); err != nil || got != code {
		t.Errorf("nil CreditCodes: %q, %v", got, err)
	}
}

func mustNew(t *testing.T, name string) *CA {
	t.Helper()
	ca, err := New(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
