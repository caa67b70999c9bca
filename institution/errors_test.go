package institution

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/baohan-dev/baohan"
)

// TestPeerError: what a platform is told of a handler's error. Refusals
// (the institution's own types included) as they are, a timeout as a
// request to retry, a failure of the institution as nothing but
// baohan.InternalMessage.
func TestPeerError(t *testing.T) {
	tests := []struct {
		err  error
		code string
		msg  string
	}{
		{baohan.Refusef("applyno P-1 is unknown"), baohan.ERefused, "applyno P-1 is unknown"},
		{&TransitionError{ApplyNo: "P-1", From: Issued, To: Quit, Action: "quitapply"}, baohan.EConflict,
			"applyno P-1 is issued (已出函): quitapply is not allowed in this state"},
		{&ProofError{Msg: "the bidder's signature does not verify"}, baohan.EForbidden, "the bidder's signature does not verify"},
		{fmt.Errorf("token: %w", ErrNotFound), baohan.ENotFound, "token: not found"},
		{fmt.Errorf("saving: %w", context.DeadlineExceeded), baohan.EUnavailable, "the institution timed out; please retry"},
		{errors.New("database is locked"), baohan.EInternal, baohan.InternalMessage},
	}
	for _, tt := range tests {
		got := peerError(tt.err)
		if code, msg := baohan.ErrorCode(got), baohan.ErrorMessage(got); code != tt.code || msg != tt.msg {
			t.Errorf("%v: %s %q, want %s %q", tt.err, code, msg, tt.code, tt.msg)
		}
	}
}
