package institution

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/pki"
)

// TestBidderCreditCodeIn: a bidder whose CA puts the credit code in the
// CN (as CFCA does), an OU or an extension signs the agreement and quits
// with its own certificate once the trust root says so ([[trust_root]]
// credit_code_in); under the plain trust_roots list (Subject
// SERIALNUMBER) the same certificate signs nothing.
func TestBidderCreditCodeIn(t *testing.T) {
	for _, tt := range []struct {
		name       string
		in         pki.CreditCodeIn
		configured bool // the trust root is a [[trust_root]] with credit_code_in = in
	}{
		{"serialnumber, trust_roots", pki.InSerialNumber, false},
		{"serialnumber, [[trust_root]]", pki.InSerialNumber, true},
		{"cn", pki.InCN, true},
		{"ou", pki.InOU, true},
		{"extension", pki.InExtension(pki.OIDOrganizationCode), true},
		{"cn, trust_roots", pki.InCN, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false, func(c *Config) {
				if tt.configured {
					c.TrustRoot = []config.TrustRoot{{File: c.TrustRoots[0], CreditCodeIn: tt.in}}
					c.TrustRoots = nil
				}
			})
			id, err := e.ca.Issue(testBidder, pki.Bidder, pki.WithCreditCodeIn(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			e.bidder = id
			readable := tt.configured || tt.in.Equal(pki.InSerialNumber)
			if !readable {
				tok := e.apply("CC-1", "200000.00")
				var v BidderView
				e.bidderDo("GET", "/bidder/"+tok, nil, &v)
				body, _ := json.Marshal(OpenRequest{Key: e.envelopeKey(tok)})
				if st := e.bidderDo("POST", "/bidder/"+tok+"/open", body, &v); st != 200 {
					t.Fatalf("open: HTTP %d", st)
				}
				var agreement []byte
				e.bidderDo("GET", "/bidder/"+tok+"/agreement", nil, &agreement)
				var ae apiError
				st := e.bidderDo("POST", "/bidder/"+tok+"/agreement", e.signAs(id, agreement), &ae)
				if st == 200 || !strings.Contains(ae.Error, "carries no credit code") || !strings.Contains(ae.Error, "Subject SERIALNUMBER") {
					t.Fatalf("signed with the code in %s, read in SERIALNUMBER: HTTP %d %q", tt.in.Where(), st, ae.Error)
				}
				return
			}
			tok := e.issue("CC-1")
			own := e.proof(tok, ActionQuit, id)
			var rec QuitRecord
			body := mustJSON(BidderQuitRequest{Reason: "不再投标", BidderProof: own})
			if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", body, &rec); st != 200 || rec.Status != QuitPendingStatus {
				t.Fatalf("quit: HTTP %d %+v", st, rec)
			}
			d, err := e.svc.Detail(e.ctx, e.app("CC-1").ID)
			if err != nil {
				t.Fatal(err)
			}
			if q := historyEvent(d, "quit"); q == nil || q.Actor != "bidder:"+id.CreditCode {
				t.Errorf("history: %+v, want the quit by bidder:%s", d.History, id.CreditCode)
			}
		})
	}
}
