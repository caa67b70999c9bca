package institution

import (
	"context"
	"errors"

	"github.com/baohan-dev/baohan"
)

// The institution's refusals are baohan.Errors: their message goes to the
// peer (code 0) or the console as it is; anything else (the database, the
// files) is a failure of the service, answered baohan.InternalMessage
// with the details in the log only (transport.Server, Service.fail). The
// institution's own refusal types unwrap to a baohan.Error with their
// code.

// Unwrap makes a TransitionError a baohan.Error (EConflict).
func (e *TransitionError) Unwrap() error {
	return &baohan.Error{Code: baohan.EConflict, Message: e.Error()}
}

// Unwrap makes a ProofError a baohan.Error (EForbidden).
func (e *ProofError) Unwrap() error { return &baohan.Error{Code: baohan.EForbidden, Message: e.Msg} }

// errTimedOut is what a peer is told of a request the institution could
// not finish in time.
var errTimedOut = baohan.Errorf(baohan.EUnavailable, "the institution timed out; please retry")

// peerError is what a peer is told of a handler's error: a timeout asks it
// to retry; anything else as transport.Server answers it (a refusal as it
// is, a failure as baohan.InternalMessage).
func peerError(err error) error {
	if !baohan.IsRefusal(err) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return errTimedOut
	}
	return err
}
