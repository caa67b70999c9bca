package platform

import (
	"errors"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/pki"
)

// TestCreditCodeIn: where the trust root says its CA puts the credit code
// ([[trust_root]] credit_code_in) is where the platform reads it: when a
// bidder is registered, at the console's certificate login
// (Service.CreditCode) and for the seal pinned by seal_credit_code.
func TestCreditCodeIn(t *testing.T) {
	p := getPKI(t)
	bidder, err := p.ca.Issue("某某建设工程有限公司", pki.Bidder, pki.WithCreditCodeIn(pki.InCN))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := p.ca.Issue("某某融资担保有限公司", pki.Institution, pki.WithCreditCodeIn(pki.InCN))
	if err != nil {
		t.Fatal(err)
	}
	other := pki.GenerateCreditCode()
	for _, tt := range []struct {
		name string
		opt  envOption
		read bool // the CN is where the code is read
	}{
		{"trust_roots: Subject SERIALNUMBER", func(c *Config) {}, false},
		{"[[trust_root]] credit_code_in = cn", func(c *Config) {
			c.TrustRoot = []config.TrustRoot{{File: c.TrustRoots[0], CreditCodeIn: pki.InCN}}
			c.TrustRoots = nil
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "", tt.opt)
			code, err := e.svc.CreditCode(bidder.Cert)
			switch {
			case tt.read && (err != nil || code != bidder.CreditCode):
				t.Errorf("CreditCode: %q, %v; want %s", code, err, bidder.CreditCode)
			case !tt.read && !errors.Is(err, pki.ErrNoCreditCode):
				t.Errorf("CreditCode: %q, %v; want ErrNoCreditCode", code, err)
			}
			// A certificate naming another code is refused only where the
			// code is read; one naming none registers under any code.
			_, err = e.svc.RegisterBidder(e.ctx, BidderInput{Name: bidder.Name, CreditCode: other, CertPEM: string(bidder.CertPEM)})
			if tt.read != (err != nil && strings.Contains(err.Error(), "the certificate names credit code "+bidder.CreditCode+", not "+other)) {
				t.Errorf("registered under another code: %v", err)
			}
			if _, err := e.svc.RegisterBidder(e.ctx, BidderInput{Name: bidder.Name, CreditCode: bidder.CreditCode, CertPEM: string(bidder.CertPEM)}); err != nil {
				t.Errorf("registered under its code: %v", err)
			}
			pin := &sealPin{institution: "bank", creditCode: seal.CreditCode}
			err = pin.check(seal.Cert, e.svc.codes)
			if tt.read != (err == nil) || (err != nil && !strings.Contains(err.Error(), "(Subject SERIALNUMBER)")) {
				t.Errorf("seal_credit_code: %v", err)
			}
		})
	}
}
