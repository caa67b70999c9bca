package conformance

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/conformance/faults"
	"github.com/baohan-dev/baohan/protocol"
)

// failed returns the IDs of the failed checks, sorted.
func failed(r *Report) []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == Fail {
			out = append(out, res.ID)
		}
	}
	sort.Strings(out)
	return out
}

func TestPlatformSuiteCatchesBrokenPlatforms(t *testing.T) {
	cases := []struct {
		name string
		mw   faults.Middleware
		want []string
	}{
		{"skips sign checks", faults.SkipSign(fakeAppSecret), []string{"sign.missing", "sign.tampered", "sign.wrong"}},
		{"accepts stale timestamps", faults.AcceptStale(fakeAppSecret, protocol.DefaultTimestampWindow), []string{"timestamp.future", "timestamp.stale"}},
		{"accepts a conflicting chunk", faults.AcceptConflictingChunk(), []string{"uploadbaohanfile.conflict"}},
		{"answers non-JSON", faults.NonJSONErrors(), []string{"answers.json", "answers.not-json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runPlatformSuite(t, c.mw)
			if got := failed(r); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("failed checks %v, want %v\n%s", got, c.want, reportText(r))
			}
		})
	}
}

func TestInstitutionSuiteCatchesBrokenInstitutions(t *testing.T) {
	cases := []struct {
		name string
		// peer wraps the institution; kit wraps the kit's endpoint (the
		// institution's outgoing calls).
		peer, kit faults.Middleware
		want      []string
	}{
		{"skips sign checks", faults.SkipSign(fakeAppSecret), nil, []string{"sign.missing", "sign.tampered", "sign.wrong"}},
		{"accepts stale timestamps", faults.AcceptStale(fakeAppSecret, protocol.DefaultTimestampWindow), nil, []string{"timestamp.future", "timestamp.stale"}},
		{"answers non-JSON", faults.NonJSONErrors(), nil, []string{"answers.json", "answers.not-json"}},
		{"mis-numbers chunks", nil, faults.ShiftChunkIndexes(fakeAppSecret), []string{"uploadbaohanfile"}},
		{"sends a wrong digest", nil, faults.WrongDigest(fakeAppSecret), []string{"baohanfilecompletenotice.digest"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runInstitutionSuiteWith(t, c.peer, c.kit)
			if got := failed(r); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("failed checks %v, want %v\n%s", got, c.want, reportText(r))
			}
		})
	}
}

// TestInstitutionSuiteCatchesBrokenGuarantees: guarantees without the
// bidder's agreement or naming another application fail the checks of
// their contents.
func TestInstitutionSuiteCatchesBrokenGuarantees(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(*GuaranteeInfo)
		want   []string
	}{
		// The plaintext guarantee still carries the ciphertext one,
		// and the agreement inside it was the one to check.
		{"no agreement", func(g *GuaranteeInfo) { g.Agreement = nil }, []string{"guarantee.agreement"}},
		{"another application's number", func(g *GuaranteeInfo) { g.BaohanNo = "FAKEBH-OTHER" }, []string{"guarantee.agreement", "guarantee.plaintext.agreement"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runInstitutionSuite(t, nil, nil, c.tamper)
			if got := failed(r); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("failed checks %v, want %v\n%s", got, c.want, reportText(r))
			}
		})
	}
}

func runInstitutionSuiteWith(t *testing.T, peer, kit faults.Middleware) *Report {
	t.Helper()
	return runInstitutionSuite(t, peer, kit, nil)
}

// runInstitutionSuite runs the institution suite against the fake
// institution, whose guarantees tamper changes (nil: as issued).
func runInstitutionSuite(t *testing.T, peer, kit faults.Middleware, tamper func(*GuaranteeInfo)) *Report {
	t.Helper()
	ksrv, lh := kitServer(t)
	f, fsrv := newFakeInstitution(t, ksrv.URL)
	f.tamper = tamper
	target := fsrv.URL
	if peer != nil {
		target = wrapServer(t, peer(f.ib))
	}
	cfg := testConfig(target, ksrv.URL)
	cfg.Wait = 3 * time.Second
	s, err := NewInstitutionSuite(cfg, f, nil, fakeVerifier)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s.Handler()
	if kit != nil {
		h = kit(h)
	}
	lh.set(h)
	return s.Run(context.Background())
}
