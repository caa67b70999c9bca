package platform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// cond is the condition a legal move needs, written out independently of
// the table in state.go.
type cond int

const (
	always     cond = iota
	before          // now before kaibiaotime
	after           // now at or after kaibiaotime
	free            // no call pending
	freeBefore      // no call pending and before kaibiaotime
	pendGiveup      // giveupapply pending
	pendCancel      // canclenotice pending
	pendClaim       // claimsnotice pending
	released        // the project key released for the application
)

type move struct {
	to State // Same for "stays"; the previous state for Prev is checked separately
	c  cond
}

// legal is the specification of the state machine as the issue states it:
// every pair not listed must be refused.
var legal = map[State]map[Event]move{
	None: {EvApply: {Applied, before}},
	Applied: {
		EvApplyAccepted: {Applied, always}, EvApplyRefused: {Rejected, always},
		EvApproved: {Approved, always}, EvRejected: {Rejected, always},
		EvGiveupRequested: {Applied, free}, EvGivenUp: {GivenUp, pendGiveup},
		EvGiveupRefused: {Applied, pendGiveup}, EvGiveupNotice: {GivenUp, always},
		EvPostponed: {Applied, before}, EvAdvanced: {Applied, before},
		EvCipherHeld: {Applied, before},
	},
	Approved: {
		EvCipherReceived: {CipherReceived, before}, EvCipherReleased: {CipherReceived, always},
		EvQuitRequested: {QuitRequested, freeBefore}, EvQuit: {Quit, before}, EvQuitRefused: {Approved, always},
		EvCancelRequested: {Approved, free}, EvCancelled: {Cancelled, pendCancel}, EvCancelRefused: {Approved, pendCancel},
		EvPostponed: {Approved, before}, EvAdvanced: {Approved, before},
	},
	Rejected: {},
	CipherReceived: {
		EvRestoreRequested: {CipherReceived, after}, EvRestored: {Restored, after}, EvRestoreRefused: {CipherReceived, always},
		// filetype 2 only after the restore: the restore happened when the
		// key went out, even if its answer is not applied yet.
		EvPlainReceived: {PlainReceived, released},
		EvQuitRequested: {QuitRequested, freeBefore}, EvQuit: {Quit, before}, EvQuitRefused: {CipherReceived, always},
		EvCancelRequested: {CipherReceived, free}, EvCancelled: {Cancelled, pendCancel}, EvCancelRefused: {CipherReceived, pendCancel},
		EvClaimRequested: {CipherReceived, free}, EvClaimed: {Claimed, pendClaim}, EvClaimRefused: {CipherReceived, pendClaim},
		EvPostponed: {CipherReceived, before}, EvAdvanced: {CipherReceived, before},
	},
	Restored: {
		EvRestoreRequested: {Restored, after}, EvRestored: {Restored, after}, EvRestoreRefused: {Restored, always},
		EvPlainReceived:   {PlainReceived, always},
		EvCancelRequested: {Restored, free}, EvCancelled: {Cancelled, pendCancel}, EvCancelRefused: {Restored, pendCancel},
		EvClaimRequested: {Restored, free}, EvClaimed: {Claimed, pendClaim}, EvClaimRefused: {Restored, pendClaim},
	},
	PlainReceived: {
		EvInvoiceRequested: {InvoiceRequested, always}, EvInvoiced: {Invoiced, always}, EvInvoiceRefused: {PlainReceived, always},
		EvCancelRequested: {PlainReceived, free}, EvCancelled: {Cancelled, pendCancel}, EvCancelRefused: {PlainReceived, pendCancel},
		EvClaimRequested: {PlainReceived, free}, EvClaimed: {Claimed, pendClaim}, EvClaimRefused: {PlainReceived, pendClaim},
	},
	InvoiceRequested: {
		EvInvoiceAccepted: {InvoiceRequested, always}, EvInvoiced: {Invoiced, always}, EvInvoiceRefused: {PlainReceived, always},
		EvCancelRequested: {InvoiceRequested, free}, EvCancelled: {Cancelled, pendCancel}, EvCancelRefused: {InvoiceRequested, pendCancel},
		EvClaimRequested: {InvoiceRequested, free}, EvClaimed: {Claimed, pendClaim}, EvClaimRefused: {InvoiceRequested, pendClaim},
	},
	Invoiced: {
		EvCancelRequested: {Invoiced, free}, EvCancelled: {Cancelled, pendCancel}, EvCancelRefused: {Invoiced, pendCancel},
		EvClaimRequested: {Invoiced, free}, EvClaimed: {Claimed, pendClaim}, EvClaimRefused: {Invoiced, pendClaim},
	},
	QuitRequested: {
		EvQuitAccepted: {QuitRequested, always}, EvQuit: {Quit, always}, EvQuitRefused: {Prev, always},
		EvPostponed: {QuitRequested, before}, EvAdvanced: {QuitRequested, before},
	},
	Quit:      {},
	Cancelled: {},
	// After the claim: its outcome and the recovery (EXTENSIONS.md §1).
	Claimed: {
		EvCompensationPending: {ClaimPending, always}, EvCompensated: {Compensated, always},
		EvCompensationRefused: {CompensationRefused, always}, EvCompensationOther: {Claimed, always},
	},
	ClaimPending: {
		EvCompensationPending: {ClaimPending, always}, EvCompensated: {Compensated, always},
		EvCompensationRefused: {CompensationRefused, always}, EvCompensationOther: {ClaimPending, always},
	},
	Compensated:         {EvRecovered: {Recovered, always}, EvRecoveryFailed: {RecoveryFailed, always}},
	RecoveryFailed:      {EvRecovered: {Recovered, always}, EvRecoveryFailed: {RecoveryFailed, always}},
	CompensationRefused: {},
	Recovered:           {},
	GivenUp:             {},
}

var kbt = time.Date(2026, 12, 1, 9, 30, 0, 0, protocol.CST)

// satisfying returns facts under which c holds, and facts under which it
// fails (ok=false when c cannot fail).
func factsFor(c cond) (good, bad Facts, canFail bool) {
	early := Facts{Now: kbt.Add(-time.Hour), KaibiaoTime: kbt}
	late := Facts{Now: kbt, KaibiaoTime: kbt} // exactly at the opening counts as after
	withPending := func(f Facts, p protocol.Interface) Facts { f.Pending = p; return f }
	switch c {
	case always:
		return early, Facts{}, false
	case before:
		return early, late, true
	case after:
		return late, early, true
	case free:
		return late, withPending(late, protocol.QuitApply), true
	case freeBefore:
		return early, late, true
	case pendGiveup:
		return withPending(early, protocol.GiveupApply), withPending(early, protocol.CancelNotice), true
	case pendCancel:
		return withPending(late, protocol.CancelNotice), withPending(late, protocol.ClaimsNotice), true
	case pendClaim:
		return withPending(late, protocol.ClaimsNotice), late, true
	case released:
		good := late
		good.KeyReleased = true
		return good, late, true
	}
	panic("unknown cond")
}

func TestTransitionsEveryPair(t *testing.T) {
	from := append([]State{None}, States...)
	for _, s := range from {
		spec, ok := legal[s]
		if !ok {
			t.Fatalf("the test has no expectations for state %q", s)
		}
		for _, e := range Events {
			m, isLegal := spec[e]
			name := string(s) + "/" + string(e)
			if s == None {
				name = "none/" + string(e)
			}
			t.Run(name, func(t *testing.T) {
				if !isLegal {
					for _, f := range []Facts{
						{Now: kbt.Add(-time.Hour), KaibiaoTime: kbt},
						{Now: kbt.Add(time.Hour), KaibiaoTime: kbt},
						{Now: kbt, KaibiaoTime: kbt, Pending: protocol.CancelNotice},
						{Now: kbt, KaibiaoTime: kbt, Pending: protocol.ClaimsNotice},
						{Now: kbt.Add(-time.Hour), KaibiaoTime: kbt, Pending: protocol.GiveupApply},
						{Now: kbt.Add(time.Hour), KaibiaoTime: kbt, KeyReleased: true},
					} {
						got, err := Next(s, e, Approved, f)
						var te *TransitionError
						if !errors.As(err, &te) {
							t.Fatalf("illegal %s --%s--> accepted (to %s) with %+v", s, e, got, f)
						}
						if got != s {
							t.Errorf("a refused event changed the state to %s", got)
						}
						if te.Reason != "" {
							t.Errorf("illegal pair refused by a guard, not by the table: %s", te.Reason)
						}
					}
					return
				}
				good, bad, canFail := factsFor(m.c)
				want := m.to
				if m.to == Prev {
					for _, prev := range quittable {
						got, err := Next(s, e, prev, good)
						if err != nil || got != prev {
							t.Fatalf("%s --%s--> with prev %s = %s, %v; want %s", s, e, prev, got, err, prev)
						}
					}
					if _, err := Next(s, e, None, good); err == nil {
						t.Errorf("return to an unknown previous state accepted")
					}
					return
				}
				got, err := Next(s, e, Approved, good)
				if err != nil || got != want {
					t.Fatalf("%s --%s--> = %s, %v; want %s", s, e, got, err, want)
				}
				if canFail {
					got, err := Next(s, e, Approved, bad)
					var te *TransitionError
					if !errors.As(err, &te) || te.Reason == "" {
						t.Fatalf("guard did not refuse %s --%s--> with %+v: %s, %v", s, e, bad, got, err)
					}
					if got != s {
						t.Errorf("refused event changed the state to %s", got)
					}
				}
			})
		}
	}
}

func TestTransitionsTableMatchesSpec(t *testing.T) {
	// Every row of the table is in the specification above (and the loop
	// above checks the converse).
	for _, tr := range Transitions() {
		m, ok := legal[tr.From][tr.Event]
		if !ok {
			t.Errorf("table row %s --%s--> %s is not in the specification", tr.From, tr.Event, tr.To)
			continue
		}
		want := m.to
		if want == tr.From && tr.To == Same {
			continue
		}
		if want != tr.To {
			t.Errorf("table row %s --%s--> %s, specification says %s", tr.From, tr.Event, tr.To, want)
		}
	}
}

func TestFinalStates(t *testing.T) {
	final := map[State]bool{Rejected: true, Quit: true, Cancelled: true, CompensationRefused: true, Recovered: true, GivenUp: true}
	for _, s := range States {
		if s.Final() != final[s] {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
		if s.Label() == string(s) {
			t.Errorf("%s has no label", s)
		}
	}
	if State("nope").Valid() || None.Valid() || None.Final() {
		t.Error("invalid states reported valid")
	}
}

func TestTransitionErrorMessages(t *testing.T) {
	cases := []struct {
		from State
		ev   Event
		f    Facts
		want string
	}{
		{Approved, EvGiveupNotice, Facts{}, "applyno BH1 is approved (审核通过): giveupnotice (放弃申请) is not allowed in this state; giving up is only possible before a success notice"},
		{CipherReceived, EvQuitRequested, Facts{Now: kbt, KaibiaoTime: kbt}, "applyno BH1: quitapply (退保申请) refused: only before the bid opening, which was at 2026-12-01 09:30:00"},
		{CipherReceived, EvRestored, Facts{Now: kbt.Add(-time.Second), KaibiaoTime: kbt}, "applyno BH1: baohanrestore (还原保函) refused: only after the bid opening at 2026-12-01 09:30:00"},
		{Applied, EvCipherReceived, Facts{}, "guarantee files are accepted only for approved applications"},
		{Approved, EvCipherReceived, Facts{Now: kbt, KaibiaoTime: kbt}, "applyno BH1: the ciphertext guarantee (filetype 1) refused: only before the bid opening, which was at 2026-12-01 09:30:00"},
		{Approved, EvPlainReceived, Facts{KeyReleased: true}, "the plaintext guarantee is accepted only after the restore (baohanrestore) released the project key"},
		{CipherReceived, EvPlainReceived, Facts{Now: kbt, KaibiaoTime: kbt}, "applyno BH1: the plaintext guarantee (filetype 2) refused: only after baohanrestore has released the project key for this application"},
		{Approved, EvQuitRequested, Facts{Now: kbt.Add(-time.Hour), KaibiaoTime: kbt, Pending: protocol.CancelNotice}, "canclenotice is still waiting for the institution's answer"},
		{None, EvApproved, Facts{}, "applyno BH1: unknown application"},
	}
	for _, c := range cases {
		_, err := Next(c.from, c.ev, None, c.f)
		var te *TransitionError
		if !errors.As(err, &te) {
			t.Fatalf("%s/%s: err = %v", c.from, c.ev, err)
		}
		te.ApplyNo = "BH1"
		if !strings.Contains(te.Error(), c.want) {
			t.Errorf("%s/%s:\n got %s\nwant %s", c.from, c.ev, te.Error(), c.want)
		}
	}
}
