package platform

import (
	"fmt"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// State is where an application (投保申请) stands at the platform.
//
// The happy path is applied → approved → cipher_received → restored →
// plain_received → invoice_requested → invoiced. Side roads: rejected;
// quit_requested → quit (退保, only before the bid opening); cancelled
// (注销); claimed (理赔), then, when the institution reports them through
// the optional claimsresultnotice and claimsrepaynotice, claim_pending →
// compensated → recovered or recovery_failed, or compensation_refused;
// given_up (放弃, only before a success notice).
type State string

// The states, in the order of the flow.
const (
	// None is the state of an application that does not exist yet.
	None State = ""
	// Applied: baohanapply is on its way (or was answered); waiting for
	// the institution's baohannotice.
	Applied State = "applied"
	// Approved: baohannotice with applystatus 1 (the success notice)
	// arrived; a guarantee number is known.
	Approved State = "approved"
	// Rejected: baohannotice with applystatus 0, or baohanapply refused.
	Rejected State = "rejected"
	// CipherReceived: the ciphertext guarantee (filetype 1) arrived,
	// decrypted, matched its digest and its seals verified.
	CipherReceived State = "cipher_received"
	// Restored: baohanrestore released the project key after the bid
	// opening and the institution took it (answered code 1, or sent the
	// plaintext guarantee, which it can only make with the key).
	Restored State = "restored"
	// PlainReceived: the plaintext guarantee (filetype 2) arrived.
	PlainReceived State = "plain_received"
	// InvoiceRequested: invoiceapply is on its way or waiting for
	// invoicenotice.
	InvoiceRequested State = "invoice_requested"
	// Invoiced: invoicenotice with applystatus 1.
	Invoiced State = "invoiced"
	// QuitRequested: quitapply is on its way or waiting for quitnotice.
	QuitRequested State = "quit_requested"
	// Quit: the guarantee was withdrawn (退保) before the bid opening.
	Quit State = "quit"
	// Cancelled: the bid agent cancelled the guarantee (canclenotice) and
	// the institution took it.
	Cancelled State = "cancelled"
	// Claimed: the bid agent claimed on the guarantee (claimsnotice) and
	// the institution took it.
	Claimed State = "claimed"
	// ClaimPending: claimsresultnotice compensatestatus 1 (待赔付): the
	// institution took the claim and has not paid yet.
	ClaimPending State = "claim_pending"
	// Compensated: claimsresultnotice compensatestatus 2 (已赔付).
	Compensated State = "compensated"
	// CompensationRefused: claimsresultnotice compensatestatus 3
	// (不予赔付). Final.
	CompensationRefused State = "compensation_refused"
	// Recovered: claimsrepaynotice repaystatus 1 (已追偿): the institution
	// recovered what it paid from the bidder. Final.
	Recovered State = "recovered"
	// RecoveryFailed: claimsrepaynotice repaystatus 0 (追偿失败); a later
	// notice may still report the money recovered.
	RecoveryFailed State = "recovery_failed"
	// GivenUp: the bidder abandoned the application before a success
	// notice (giveupapply accepted, or giveupnotice honoured).
	GivenUp State = "given_up"
)

// States lists every state of an existing application, in flow order.
var States = []State{Applied, Approved, Rejected, CipherReceived, Restored, PlainReceived,
	InvoiceRequested, Invoiced, QuitRequested, Quit, Cancelled, Claimed,
	ClaimPending, Compensated, CompensationRefused, Recovered, RecoveryFailed, GivenUp}

// Label is the state's name in Chinese, for consoles.
func (s State) Label() string {
	switch s {
	case None:
		return "不存在"
	case Applied:
		return "已申请"
	case Approved:
		return "审核通过"
	case Rejected:
		return "审核未通过"
	case CipherReceived:
		return "已收密文保函"
	case Restored:
		return "已还原"
	case PlainReceived:
		return "已收明文保函"
	case InvoiceRequested:
		return "发票申请中"
	case Invoiced:
		return "已开票"
	case QuitRequested:
		return "退保申请中"
	case Quit:
		return "已退保"
	case Cancelled:
		return "已注销"
	case Claimed:
		return "已理赔"
	case ClaimPending:
		return "待赔付"
	case Compensated:
		return "已赔付"
	case CompensationRefused:
		return "不予赔付"
	case Recovered:
		return "已追偿"
	case RecoveryFailed:
		return "追偿失败"
	case GivenUp:
		return "已放弃"
	}
	return string(s)
}

// Valid reports whether s is a state of an existing application.
func (s State) Valid() bool {
	for _, t := range States {
		if s == t {
			return true
		}
	}
	return false
}

// Final reports whether no event can move an application out of s.
func (s State) Final() bool {
	for _, t := range transitions {
		if t.From == s && t.To != s && t.To != Same {
			return false
		}
	}
	return s.Valid()
}

// Event is what happens to an application: a request from the institution,
// an action on the platform, or the institution's answer to a call.
type Event string

// The events. Names ending in _requested are the platform's own actions
// (they enqueue a call); the others come from the institution, either as
// a request it sends or as its answer to one of our calls.
const (
	EvApply               Event = "apply"                // Service.Apply: baohanapply enqueued
	EvApplyAccepted       Event = "apply_accepted"       // baohanapply answered code 1 (redirecturl)
	EvApplyRefused        Event = "apply_refused"        // baohanapply answered code 0
	EvApproved            Event = "approved"             // baohannotice applystatus 1
	EvRejected            Event = "rejected"             // baohannotice applystatus 0
	EvCipherReceived      Event = "cipher_received"      // baohanfilecompletenotice filetype 1
	EvCipherHeld          Event = "cipher_held"          // filetype 1 before baohannotice (upload_first), held
	EvCipherReleased      Event = "cipher_released"      // baohannotice applystatus 1 takes the held filetype 1
	EvRestoreRequested    Event = "restore_requested"    // Service.RestoreNow
	EvRestored            Event = "restored"             // baohanrestore answered code 1
	EvRestoreRefused      Event = "restore_refused"      // baohanrestore answered code 0
	EvPlainReceived       Event = "plain_received"       // baohanfilecompletenotice filetype 2
	EvInvoiceRequested    Event = "invoice_requested"    // Service.RequestInvoice
	EvInvoiceAccepted     Event = "invoice_accepted"     // invoiceapply answered code 1
	EvInvoiced            Event = "invoiced"             // invoicenotice applystatus 1
	EvInvoiceRefused      Event = "invoice_refused"      // invoicenotice 0, or invoiceapply code 0
	EvQuitRequested       Event = "quit_requested"       // Service.Quit
	EvQuitAccepted        Event = "quit_accepted"        // quitapply answered code 1
	EvQuit                Event = "quit"                 // quitnotice applystatus 1
	EvQuitRefused         Event = "quit_refused"         // quitnotice 0, or quitapply code 0
	EvCancelRequested     Event = "cancel_requested"     // Service.Cancel
	EvCancelled           Event = "cancelled"            // canclenotice answered code 1
	EvCancelRefused       Event = "cancel_refused"       // canclenotice answered code 0
	EvClaimRequested      Event = "claim_requested"      // Service.Claim
	EvClaimed             Event = "claimed"              // claimsnotice answered code 1
	EvClaimRefused        Event = "claim_refused"        // claimsnotice answered code 0
	EvCompensationPending Event = "compensation_pending" // claimsresultnotice compensatestatus 1
	EvCompensated         Event = "compensated"          // claimsresultnotice compensatestatus 2
	EvCompensationRefused Event = "compensation_refused" // claimsresultnotice compensatestatus 3
	EvCompensationOther   Event = "compensation_other"   // claimsresultnotice compensatestatus 9
	EvRecovered           Event = "recovered"            // claimsrepaynotice repaystatus 1
	EvRecoveryFailed      Event = "recovery_failed"      // claimsrepaynotice repaystatus 0
	EvGiveupRequested     Event = "giveup_requested"     // Service.GiveUp
	EvGivenUp             Event = "given_up"             // giveupapply answered code 1
	EvGiveupRefused       Event = "giveup_refused"       // giveupapply answered code 0
	EvGiveupNotice        Event = "giveup_notice"        // giveupnotice honoured
	EvPostponed           Event = "kaibiao_postponed"    // Service.Postpone on the section
	EvAdvanced            Event = "kaibiao_advanced"     // Service.AdvanceOpening on the section
	EvOutcomeIgnored      Event = "outcome_ignored"      // an answer that no longer fits the state (history only)
	EvDeliveryDead        Event = "delivery_dead"        // a call given up after its last attempt (history only)
	EvDeliveryRetry       Event = "delivery_retry"       // a call turned away unprocessed, sent again signed anew (history only)
	EvRequestRefused      Event = "request_refused"      // a peer request refused by a guard (history only)
	EvGuaranteeRefused    Event = "guarantee_refused"    // a guarantee file refused (history only)
	EvNoticeRepeated      Event = "notice_repeated"      // the same notice again (history only)
	EvKeyIssued           Event = "public_key_issued"    // downloadpublickey created the key pair (history only)
	EvFileDiscarded       Event = "upload_discarded"     // chunks dropped after a failed completion (history only)
	EvRestoreSkipped      Event = "restore_superseded"   // a scheduled restore no longer due (history only)
)

// Events lists the events the transition table knows, for tests and docs.
var Events = []Event{EvApply, EvApplyAccepted, EvApplyRefused, EvApproved, EvRejected,
	EvCipherReceived, EvCipherHeld, EvCipherReleased, EvRestoreRequested, EvRestored, EvRestoreRefused, EvPlainReceived,
	EvInvoiceRequested, EvInvoiceAccepted, EvInvoiced, EvInvoiceRefused,
	EvQuitRequested, EvQuitAccepted, EvQuit, EvQuitRefused,
	EvCancelRequested, EvCancelled, EvCancelRefused,
	EvClaimRequested, EvClaimed, EvClaimRefused,
	EvCompensationPending, EvCompensated, EvCompensationRefused, EvCompensationOther, EvRecovered, EvRecoveryFailed,
	EvGiveupRequested, EvGivenUp, EvGiveupRefused, EvGiveupNotice, EvPostponed, EvAdvanced}

// action says what an event is, for error messages.
var action = map[Event]string{
	EvApply:               "baohanapply (投保申请)",
	EvApplyAccepted:       "the answer to baohanapply",
	EvApplyRefused:        "the refusal of baohanapply",
	EvApproved:            "baohannotice applystatus 1 (审核通过)",
	EvRejected:            "baohannotice applystatus 0 (审核未通过)",
	EvCipherReceived:      "the ciphertext guarantee (filetype 1)",
	EvCipherHeld:          "the ciphertext guarantee (filetype 1) before baohannotice",
	EvCipherReleased:      "the ciphertext guarantee held until baohannotice",
	EvRestoreRequested:    "baohanrestore (还原保函)",
	EvRestored:            "baohanrestore (还原保函)",
	EvRestoreRefused:      "the refusal of baohanrestore",
	EvPlainReceived:       "the plaintext guarantee (filetype 2)",
	EvInvoiceRequested:    "invoiceapply (发票申请)",
	EvInvoiceAccepted:     "the answer to invoiceapply",
	EvInvoiced:            "invoicenotice applystatus 1",
	EvInvoiceRefused:      "invoicenotice applystatus 0",
	EvQuitRequested:       "quitapply (退保申请)",
	EvQuitAccepted:        "the answer to quitapply",
	EvQuit:                "quitnotice applystatus 1 (退保成功)",
	EvQuitRefused:         "quitnotice applystatus 0 (退保失败)",
	EvCancelRequested:     "canclenotice (注销保函)",
	EvCancelled:           "the acceptance of canclenotice",
	EvCancelRefused:       "the refusal of canclenotice",
	EvClaimRequested:      "claimsnotice (理赔)",
	EvClaimed:             "the acceptance of claimsnotice",
	EvClaimRefused:        "the refusal of claimsnotice",
	EvCompensationPending: "claimsresultnotice compensatestatus 1 (待赔付)",
	EvCompensated:         "claimsresultnotice compensatestatus 2 (已赔付)",
	EvCompensationRefused: "claimsresultnotice compensatestatus 3 (不予赔付)",
	EvCompensationOther:   "claimsresultnotice compensatestatus 9 (其他)",
	EvRecovered:           "claimsrepaynotice repaystatus 1 (已追偿)",
	EvRecoveryFailed:      "claimsrepaynotice repaystatus 0 (追偿失败)",
	EvGiveupRequested:     "giveupapply (放弃申请)",
	EvGivenUp:             "the acceptance of giveupapply",
	EvGiveupRefused:       "the refusal of giveupapply",
	EvGiveupNotice:        "giveupnotice (放弃申请)",
	EvPostponed:           "postponing the bid opening",
	EvAdvanced:            "bringing the bid opening forward",
}

// Action describes the event for messages.
func (e Event) Action() string {
	if a, ok := action[e]; ok {
		return a
	}
	return string(e)
}

// Facts are what the guards look at besides the state.
type Facts struct {
	Now         time.Time
	KaibiaoTime time.Time          // the section's current bid opening (开标时间)
	Pending     protocol.Interface // the call awaiting the institution's answer, "" when none
	// KeyReleased: a baohanrestore carrying the project key was built
	// for this application (releaseProjectKey marked it), whether or not
	// the institution's answer has been applied yet.
	KeyReleased bool
}

// Guard is a named condition on a transition; Check returns why it fails.
type Guard struct {
	Name  string
	Check func(f Facts) error
}

// Special targets in the table.
const (
	// Same keeps the state (the event is recorded in the history).
	Same State = "=same"
	// Prev returns to the state before quit_requested.
	Prev State = "=prev"
)

// Transition is one row of the table: in state From, event Event moves the
// application to To, provided Guard passes.
type Transition struct {
	From  State
	Event Event
	To    State
	Guard *Guard
}

var (
	beforeOpening = &Guard{"before bid opening", func(f Facts) error {
		if f.KaibiaoTime.IsZero() || f.Now.Before(f.KaibiaoTime) {
			return nil
		}
		return fmt.Errorf("only before the bid opening, which was at %s", protocol.FormatTime(f.KaibiaoTime))
	}}
	afterOpening = &Guard{"after bid opening", func(f Facts) error {
		if !f.KaibiaoTime.IsZero() && !f.Now.Before(f.KaibiaoTime) {
			return nil
		}
		return fmt.Errorf("only after the bid opening at %s", protocol.FormatTime(f.KaibiaoTime))
	}}
	noPending = &Guard{"no call pending", func(f Facts) error {
		if f.Pending == "" {
			return nil
		}
		return fmt.Errorf("%s is still waiting for the institution's answer", f.Pending)
	}}
	// keyReleased is "filetype 2 only after the restore": the restore has
	// happened once the platform released the project key to the
	// institution for this application. The institution answers
	// baohanrestore and starts uploading the plaintext guarantee at once,
	// so its first chunks may come before the platform has applied that
	// answer; they are not refused for it.
	keyReleased = &Guard{"project key released", func(f Facts) error {
		if f.KeyReleased {
			return nil
		}
		return fmt.Errorf("only after baohanrestore has released the project key for this application")
	}}
	noPendingBeforeOpening = &Guard{"no call pending, before bid opening", func(f Facts) error {
		if err := noPending.Check(f); err != nil {
			return err
		}
		return beforeOpening.Check(f)
	}}
)

func pending(i protocol.Interface) *Guard {
	return &Guard{"pending " + string(i), func(f Facts) error {
		if f.Pending == i {
			return nil
		}
		return fmt.Errorf("no %s is waiting for an answer", i)
	}}
}

// Groups of states that share rows.
var (
	// issued: a success notice came and the guarantee stands.
	issued = []State{Approved, CipherReceived, Restored, PlainReceived, InvoiceRequested, Invoiced}
	// claimable: a guarantee document was received.
	claimable = []State{CipherReceived, Restored, PlainReceived, InvoiceRequested, Invoiced}
	// quittable: issued, the key not yet released.
	quittable = []State{Approved, CipherReceived}
	// open: the section's bid opening still matters.
	open = []State{Applied, Approved, CipherReceived, QuitRequested}
)

// transitions is the state machine of the platform, every legal move.
// Anything not here is refused with the reason.
var transitions = table(
	// Applying and the underwriting result.
	row(None, EvApply, Applied, beforeOpening),
	row(Applied, EvApplyAccepted, Same, nil),
	row(Applied, EvApplyRefused, Rejected, nil),
	row(Applied, EvApproved, Approved, nil),
	row(Applied, EvRejected, Rejected, nil),

	// Giving up: only without a success notice.
	row(Applied, EvGiveupRequested, Same, noPending),
	row(Applied, EvGivenUp, GivenUp, pending(protocol.GiveupApply)),
	row(Applied, EvGiveupRefused, Same, pending(protocol.GiveupApply)),
	row(Applied, EvGiveupNotice, GivenUp, nil),

	// Guarantee files, the restore at the bid opening.
	// The ciphertext guarantee is the bid's deposit: it must be in place
	// before the bid opening (a chunk or a complete notice after it is
	// refused, naming the opening).
	row(Approved, EvCipherReceived, CipherReceived, beforeOpening),
	// Some institutions upload the ciphertext guarantee before their
	// success notice (upload_first): the file is held, checked, until
	// the notice takes it (it came before the opening, so the notice may
	// come after).
	row(Applied, EvCipherHeld, Same, beforeOpening),
	row(Approved, EvCipherReleased, CipherReceived, nil),
	rows(in(CipherReceived, Restored), EvRestoreRequested, Same, afterOpening),
	row(CipherReceived, EvRestored, Restored, afterOpening),
	row(Restored, EvRestored, Same, afterOpening),
	rows(in(CipherReceived, Restored), EvRestoreRefused, Same, nil),
	row(Restored, EvPlainReceived, PlainReceived, nil),
	// The plaintext guarantee before the answer to baohanrestore was
	// applied: the key went out, so the restore happened; move records
	// the restore first (cipher_received → restored → plain_received) and
	// the answer, when it is applied, finds it recorded.
	row(CipherReceived, EvPlainReceived, PlainReceived, keyReleased),

	// Invoices.
	row(PlainReceived, EvInvoiceRequested, InvoiceRequested, nil),
	row(InvoiceRequested, EvInvoiceAccepted, Same, nil),
	rows(in(InvoiceRequested, PlainReceived), EvInvoiced, Invoiced, nil),
	row(InvoiceRequested, EvInvoiceRefused, PlainReceived, nil),
	row(PlainReceived, EvInvoiceRefused, Same, nil),

	// Quitting (退保): only before the bid opening.
	rows(quittable, EvQuitRequested, QuitRequested, noPendingBeforeOpening),
	row(QuitRequested, EvQuitAccepted, Same, nil),
	row(QuitRequested, EvQuit, Quit, nil),
	rows(quittable, EvQuit, Quit, beforeOpening),
	row(QuitRequested, EvQuitRefused, Prev, nil),
	rows(quittable, EvQuitRefused, Same, nil),

	// Cancelling (注销) and claiming (理赔): the platform asks, the
	// institution's answer decides.
	rows(issued, EvCancelRequested, Same, noPending),
	rows(issued, EvCancelled, Cancelled, pending(protocol.CancelNotice)),
	rows(issued, EvCancelRefused, Same, pending(protocol.CancelNotice)),
	rows(claimable, EvClaimRequested, Same, noPending),
	rows(claimable, EvClaimed, Claimed, pending(protocol.ClaimsNotice)),
	rows(claimable, EvClaimRefused, Same, pending(protocol.ClaimsNotice)),

	// The claim's outcome (claimsresultnotice) and the recovery of what
	// was paid (claimsrepaynotice), optional interfaces the institution
	// sends when the platform enables them. Pending may be reported again
	// (a new date or amount), a failed recovery may still succeed.
	rows(in(Claimed, ClaimPending), EvCompensationPending, ClaimPending, nil),
	rows(in(Claimed, ClaimPending), EvCompensated, Compensated, nil),
	rows(in(Claimed, ClaimPending), EvCompensationRefused, CompensationRefused, nil),
	rows(in(Claimed, ClaimPending), EvCompensationOther, Same, nil),
	rows(in(Compensated, RecoveryFailed), EvRecovered, Recovered, nil),
	rows(in(Compensated, RecoveryFailed), EvRecoveryFailed, RecoveryFailed, nil),

	// Moving the section's bid opening, later or earlier.
	rows(open, EvPostponed, Same, beforeOpening),
	rows(open, EvAdvanced, Same, beforeOpening),
)

func row(from State, e Event, to State, g *Guard) []Transition {
	return []Transition{{From: from, Event: e, To: to, Guard: g}}
}

func rows(from []State, e Event, to State, g *Guard) []Transition {
	out := make([]Transition, len(from))
	for i, s := range from {
		out[i] = Transition{From: s, Event: e, To: to, Guard: g}
	}
	return out
}

func in(s ...State) []State { return s }

func table(groups ...[]Transition) []Transition {
	var out []Transition
	seen := map[[2]string]bool{}
	for _, g := range groups {
		for _, t := range g {
			k := [2]string{string(t.From), string(t.Event)}
			if seen[k] {
				panic(fmt.Sprintf("platform: transition %s --%s--> listed twice", t.From, t.Event))
			}
			seen[k] = true
			out = append(out, t)
		}
	}
	return out
}

// Transitions returns a copy of the table, for documentation and consoles.
func Transitions() []Transition { return append([]Transition(nil), transitions...) }

// TransitionError is an event the state machine refuses. Its message is
// what the peer or the console sees.
type TransitionError struct {
	ApplyNo string
	From    State
	Event   Event
	Reason  string // the failed guard, or "" when no row allows the move
}

func (e *TransitionError) Error() string {
	who := "application"
	if e.ApplyNo != "" {
		who = "applyno " + e.ApplyNo
	}
	if e.Reason != "" {
		return fmt.Sprintf("%s: %s refused: %s", who, e.Event.Action(), e.Reason)
	}
	if e.From == None {
		return fmt.Sprintf("%s: unknown application", who)
	}
	msg := fmt.Sprintf("%s is %s (%s): %s is not allowed in this state", who, e.From, e.From.Label(), e.Event.Action())
	if h, ok := hints[e.Event]; ok {
		msg += "; " + h
	}
	return msg
}

// hints explain the rule behind a refused event.
var hints = map[Event]string{
	EvGiveupRequested:     "giving up is only possible before a success notice",
	EvGiveupNotice:        "giving up is only possible before a success notice",
	EvQuitRequested:       "quitting is only possible after the success notice and before the bid opening",
	EvQuit:                "quitting is only possible after the success notice and before the bid opening",
	EvCipherReceived:      "guarantee files are accepted only for approved applications",
	EvPlainReceived:       "the plaintext guarantee is accepted only after the restore (baohanrestore) released the project key",
	EvInvoiceRequested:    "an invoice can be requested once the plaintext guarantee is received",
	EvRestoreRequested:    "the restore needs a ciphertext guarantee",
	EvClaimRequested:      "a claim needs a received guarantee",
	EvCancelRequested:     "only an issued guarantee can be cancelled",
	EvCompensationPending: "a claim's outcome is reported after the claim (claimsnotice) was accepted, until it is paid or refused",
	EvCompensated:         "a claim's outcome is reported after the claim (claimsnotice) was accepted, until it is paid or refused",
	EvCompensationRefused: "a claim's outcome is reported after the claim (claimsnotice) was accepted, until it is paid or refused",
	EvCompensationOther:   "a claim's outcome is reported after the claim (claimsnotice) was accepted, until it is paid or refused",
	EvRecovered:           "a recovery is reported after the claim was paid (claimsresultnotice compensatestatus 2)",
	EvRecoveryFailed:      "a recovery is reported after the claim was paid (claimsresultnotice compensatestatus 2), until it is recovered",
}

// Next returns the state that event e moves an application in state from
// to, given prev (the state before quit_requested) and the facts; or a
// *TransitionError with the reason.
func Next(from State, e Event, prev State, f Facts) (State, error) {
	for _, t := range transitions {
		if t.From != from || t.Event != e {
			continue
		}
		if t.Guard != nil {
			if err := t.Guard.Check(f); err != nil {
				return from, &TransitionError{From: from, Event: e, Reason: err.Error()}
			}
		}
		switch t.To {
		case Same:
			return from, nil
		case Prev:
			if !prev.Valid() {
				return from, &TransitionError{From: from, Event: e, Reason: "when the state before the request is known"}
			}
			return prev, nil
		}
		return t.To, nil
	}
	return from, &TransitionError{From: from, Event: e}
}
