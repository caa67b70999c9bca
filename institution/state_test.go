package institution

import (
	"strings"
	"testing"
)

func TestStateMachine(t *testing.T) {
	for _, s := range States {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		if s.Label() == string(s) {
			t.Errorf("%s has no label", s)
		}
		for _, n := range transitions[s] {
			if !n.Valid() {
				t.Errorf("%s → unknown %s", s, n)
			}
			if n == s {
				t.Errorf("%s → itself", s)
			}
		}
	}
	if len(transitions) != len(States) {
		t.Errorf("%d states in the machine, %d listed", len(transitions), len(States))
	}
	if State("nope").Valid() {
		t.Error("unknown state valid")
	}
	// Every state is reachable from Received.
	seen := map[State]bool{Received: true}
	queue := []State{Received}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range transitions[s] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, s := range States {
		if !seen[s] {
			t.Errorf("%s unreachable", s)
		}
	}
}

func TestTransitions(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{Received, Opened, true},
		{Received, Signed, false},
		{Opened, Signed, true},
		{Signed, Paid, true},
		{Paid, Approved, true},
		{Paid, Reviewing, true},
		{Reviewing, Rejected, true},
		{Approved, Issued, true},
		{Approved, GivenUp, false}, // an approved application can no longer be abandoned
		{Approved, Quit, true},     // withdrawn before the opening while its guarantee is being uploaded
		{Issued, Restoring, true},
		{Issued, Quit, true},
		{Restored, Quit, false}, // no withdrawal after the bid opening
		{Restoring, Restored, true},
		{Restored, Cancelled, true},
		{Quit, Cancelled, false},
		{Cancelled, Restored, false},
		{GivenUp, Opened, false},
	}
	for _, tt := range tests {
		if got := tt.from.CanMoveTo(tt.to); got != tt.ok {
			t.Errorf("%s → %s = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
		err := checkMove("A1", tt.from, tt.to, "x")
		if (err == nil) != tt.ok {
			t.Errorf("checkMove(%s, %s) = %v", tt.from, tt.to, err)
		}
	}
	err := checkMove("A1", Quit, Restoring, "baohanrestore")
	if want := "applyno A1 is quit (已退保): baohanrestore is not allowed in this state"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	for _, s := range []State{Quit, Cancelled, GivenUp} {
		if !s.Final() {
			t.Errorf("%s not final", s)
		}
	}
	if Issued.Final() || !strings.Contains(Issued.Label(), "出函") {
		t.Error("issued")
	}
}
