package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// The helpers below drive the system in a test: they fail the test of
// Start on an error.

// Section registers a section opening after d (on the system's clock).
func (s *System) Section(d time.Duration) *platform.Section {
	s.T.Helper()
	n := s.seq.Add(1)
	sec, err := s.Plat.RegisterSection(context.Background(), platform.SectionInput{
		No: fmt.Sprintf("BD-2026-%04d", n), Name: fmt.Sprintf("城南污水处理厂提标改造工程施工第%d标段", n),
		Tenderer: "某市城市建设投资集团有限公司", TendererCode: "91330100MA2CTY001W",
		BondAmount: decimal.RequireFromString("800000.00"), KaibiaoTime: s.Clock.Now().Add(d).Truncate(time.Second),
	})
	if err != nil {
		s.T.Fatal(err)
	}
	return sec
}

// Apply applies for a guarantee of the section at the institution and
// returns the applyno (the baohanapply is delivered in the background).
func (s *System) Apply(sectionNo string) string {
	s.T.Helper()
	a, err := s.Plat.Apply(context.Background(), platform.ApplyInput{SectionNo: sectionNo, BidderCode: s.Parties.BidderCode,
		Institution: s.Parties.InstitutionName, Product: s.Parties.Product})
	if err != nil {
		s.T.Fatal(err)
	}
	return a.ApplyNo
}

// Eventually polls cond every 10ms until it holds, failing after limit.
func (s *System) Eventually(what string, limit time.Duration, cond func() bool) {
	s.T.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			s.T.Fatalf("gave up waiting (%s) for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PlatApp returns the platform's application.
func (s *System) PlatApp(applyNo string) *platform.Application {
	s.T.Helper()
	a, err := s.Plat.Application(context.Background(), applyNo)
	if err != nil {
		s.T.Fatal(err)
	}
	return a
}

// InstApp returns the institution's application (nil before baohanapply arrived).
func (s *System) InstApp(applyNo string) *institution.Application {
	a, err := s.Inst.ApplicationByApplyNo(context.Background(), s.Parties.PlatformName, applyNo)
	if err != nil {
		return nil
	}
	return a
}

// WaitPlat waits until the platform's application is in state.
func (s *System) WaitPlat(applyNo string, state platform.State, limit time.Duration) {
	s.T.Helper()
	s.Eventually(fmt.Sprintf("platform %s %s", applyNo, state), limit, func() bool {
		a, err := s.Plat.Application(context.Background(), applyNo)
		return err == nil && a.State == state
	})
}

// WaitInst waits until the institution's application is in state.
func (s *System) WaitInst(applyNo string, state institution.State, limit time.Duration) {
	s.T.Helper()
	s.Eventually(fmt.Sprintf("institution %s %s", applyNo, state), limit, func() bool {
		a := s.InstApp(applyNo)
		return a != nil && a.State == state
	})
}

// Token waits for the redirecturl and returns the bidder token.
func (s *System) Token(applyNo string, limit time.Duration) string {
	s.T.Helper()
	var url string
	s.Eventually("the redirecturl of "+applyNo, limit, func() bool {
		a, err := s.Plat.Application(context.Background(), applyNo)
		if err == nil {
			url = a.RedirectURL
		}
		return url != ""
	})
	i := strings.Index(url, "/bidder/")
	if i < 0 {
		s.T.Fatalf("redirecturl %q has no /bidder/", url)
	}
	return url[i+len("/bidder/"):]
}

// BidderSignsAndPays plays the bidder at the institution over HTTP: open
// the envelope with the bidder's key, sign the agreement, pay.
func (s *System) BidderSignsAndPays(token string) {
	s.T.Helper()
	if err := s.Bidder().Flow(context.Background(), s.InstDoor.URL+"/bidder/"+token); err != nil {
		s.T.Fatal(err)
	}
}

// Issued runs apply → bidder → issuance until the platform holds the
// ciphertext guarantee and the institution knows it (issued), and
// returns the applyno.
func (s *System) Issued(sectionNo string, limit time.Duration) string {
	s.T.Helper()
	applyNo := s.Apply(sectionNo)
	s.BidderSignsAndPays(s.Token(applyNo, limit))
	s.WaitPlat(applyNo, platform.CipherReceived, limit)
	s.WaitInst(applyNo, institution.Issued, limit)
	return applyNo
}

// Compare checks that both sides agree on the application: the platform
// in want, the institution in the matching state, same baohanno, and
// returns a description of any disagreement ("" when they agree).
func (s *System) Compare(applyNo string) string {
	pa := s.PlatApp(applyNo)
	ia := s.InstApp(applyNo)
	if ia == nil {
		return "the institution has no application " + applyNo
	}
	want, ok := Agree[pa.State]
	if !ok {
		return fmt.Sprintf("no agreement rule for platform state %s", pa.State)
	}
	var msgs []string
	if !contains(want, ia.State) {
		msgs = append(msgs, fmt.Sprintf("platform %s but institution %s", pa.State, ia.State))
	}
	if pa.BaohanNo != ia.BaohanNo {
		msgs = append(msgs, fmt.Sprintf("baohanno: platform %q, institution %q", pa.BaohanNo, ia.BaohanNo))
	}
	return strings.Join(msgs, "; ")
}

// Agree maps a platform state to the institution states that agree.
var Agree = map[platform.State][]institution.State{
	platform.Applied: {institution.Received, institution.Opened, institution.Signed, institution.Paid, institution.Reviewing},
	// quit_pending: the institution waits for the answer to its quitnotice.
	platform.Approved:       {institution.Approved, institution.Issued, institution.QuitPending},
	platform.CipherReceived: {institution.Issued, institution.QuitPending},
	platform.Restored:       {institution.Restoring, institution.Restored},
	platform.PlainReceived:  {institution.Restored},
	platform.Rejected:       {institution.Rejected},
}

func contains(xs []institution.State, x institution.State) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sortExchanges(xs []Exchange) {
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].At.Before(xs[j].At) })
}

// Wire returns every exchange through both doors, in arrival order.
func (s *System) Wire() []Exchange {
	out := append(s.PlatDoor.Exchanges(), s.InstDoor.Exchanges()...)
	sortExchanges(out)
	return out
}

// Answer decodes a protocol answer; ok is false when it is not one.
func Answer(b []byte) (protocol.Response, bool) {
	var r protocol.Response
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return r, false
	}
	for _, k := range []string{"code", "message", "data"} {
		if _, ok := probe[k]; !ok {
			return r, false
		}
	}
	return r, json.Unmarshal(b, &r) == nil
}
