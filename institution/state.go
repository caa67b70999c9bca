package institution

import "fmt"

// State is where an application stands at the institution.
type State string

// The states of an application. The happy path is
// received → opened → signed → paid → (reviewing →) approved → issued →
// restoring → restored.
const (
	// Received: baohanapply stored; waiting for the bidder to follow the
	// redirecturl and open the digital envelope.
	Received State = "received"
	// Opened: the bidder proved it holds the certificate's key by opening
	// the envelope; applydata is known.
	Opened State = "opened"
	// Signed: the bidder signed the guarantee agreement (保函委托协议).
	Signed State = "signed"
	// Paid: the premium was paid; underwriting comes next.
	Paid State = "paid"
	// Reviewing: waiting for a person to approve or reject.
	Reviewing State = "reviewing"
	// Approved: baohannotice with applystatus 1 is on its way and the
	// ciphertext guarantee is being sealed, encrypted and uploaded.
	Approved State = "approved"
	// Rejected: baohannotice with applystatus 0 is on its way. Final.
	Rejected State = "rejected"
	// Issued: the platform acknowledged the ciphertext guarantee
	// (baohanfilecompletenotice, filetype 1).
	Issued State = "issued"
	// Restoring: baohanrestore released the project key; the plaintext
	// guarantee is being uploaded (filetype 2).
	Restoring State = "restoring"
	// Restored: the platform acknowledged the plaintext guarantee.
	Restored State = "restored"
	// QuitPending: the institution decided to withdraw the guarantee
	// (退保, started here) and told the platform by quitnotice; the
	// platform's answer decides: accepted → quit, refused → back to the
	// state before (approved or issued), with the platform's message in
	// the history.
	QuitPending State = "quit_pending"
	// Quit: the guarantee was withdrawn (退保) before the bid opening,
	// issued or still being uploaded (see quitDecision). Final.
	Quit State = "quit"
	// Cancelled: the bid agent cancelled the guarantee (canclenotice). Final.
	Cancelled State = "cancelled"
	// GivenUp: the bidder abandoned the application. Final. (Spelled
	// "givenup" before; migration 00004 renamed it to the platform's
	// name, and the admin API's state filter still takes the old one.)
	GivenUp State = "given_up"
)

// stateParam is a state given as a filter: the old spelling of GivenUp
// is GivenUp.
func stateParam(s string) State {
	if s == "givenup" {
		return GivenUp
	}
	return State(s)
}

// States lists every state in the order of the flow.
var States = []State{Received, Opened, Signed, Paid, Reviewing, Approved, Rejected,
	Issued, Restoring, Restored, QuitPending, Quit, Cancelled, GivenUp}

// transitions is the state machine: from → the states it may move to.
var transitions = map[State][]State{
	Received:    {Opened, GivenUp},
	Opened:      {Signed, GivenUp},
	Signed:      {Paid, GivenUp},
	Paid:        {Reviewing, Approved, Rejected, GivenUp},
	Reviewing:   {Approved, Rejected, GivenUp},
	Approved:    {Issued, QuitPending, Quit, Cancelled},
	Rejected:    {GivenUp},
	Issued:      {Restoring, QuitPending, Quit, Cancelled},
	Restoring:   {Restored, Cancelled},
	Restored:    {Cancelled},
	QuitPending: {Quit, Approved, Issued, Cancelled},
	Quit:        {},
	Cancelled:   {},
	GivenUp:     {},
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// CanMoveTo reports whether the machine allows s → t.
func (s State) CanMoveTo(t State) bool {
	for _, n := range transitions[s] {
		if n == t {
			return true
		}
	}
	return false
}

// Final reports whether nothing can follow s.
func (s State) Final() bool { return s.Valid() && len(transitions[s]) == 0 }

// HasGuarantee reports whether a guarantee number was approved and the
// guarantee issued or being issued in state s.
func (s State) HasGuarantee() bool {
	switch s {
	case Approved, Issued, Restoring, Restored, QuitPending:
		return true
	}
	return false
}

// Label is the state's name in Chinese, for consoles.
func (s State) Label() string {
	switch s {
	case Received:
		return "已受理"
	case Opened:
		return "已解密"
	case Signed:
		return "已签协议"
	case Paid:
		return "已支付"
	case Reviewing:
		return "待审核"
	case Approved:
		return "已审核出函中"
	case Rejected:
		return "审核未通过"
	case Issued:
		return "已出函"
	case Restoring:
		return "还原中"
	case Restored:
		return "已还原"
	case QuitPending:
		return "退保待平台确认"
	case Quit:
		return "已退保"
	case Cancelled:
		return "已注销"
	case GivenUp:
		return "已放弃"
	}
	return string(s)
}

// TransitionError is an illegal move of the state machine. Its message is
// what a peer or a console sees.
type TransitionError struct {
	ApplyNo  string
	From, To State
	Action   string // what was attempted, e.g. "baohanrestore"
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("applyno %s is %s (%s): %s is not allowed in this state", e.ApplyNo, e.From, e.From.Label(), e.Action)
}

// checkMove returns a *TransitionError unless from → to is allowed.
func checkMove(applyNo string, from, to State, action string) error {
	if from.CanMoveTo(to) {
		return nil
	}
	return &TransitionError{ApplyNo: applyNo, From: from, To: to, Action: action}
}
