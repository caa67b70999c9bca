package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// Refusal is a request the platform refuses for a business reason: its
// message is the answer's message, for the integrator at the other end.
type Refusal struct{ Msg string }

func (r *Refusal) Error() string { return r.Msg }

func refuse(format string, a ...any) error { return &Refusal{Msg: fmt.Sprintf(format, a...)} }

// peerError decides what the peer sees of a handler's error: a refusal
// (business rule, state machine, bad file) as it is; anything else (the
// database, the blob store) as "internal error; try again later", the
// details going to the log only.
func peerError(err error) error {
	if err == nil {
		return nil
	}
	var (
		r  *Refusal
		te *TransitionError
		ie *InputError
		ce *completeError
		fc *fileComplete
	)
	if errors.As(err, &r) || errors.As(err, &te) || errors.As(err, &ie) || errors.As(err, &ce) || errors.As(err, &fc) {
		return err
	}
	return transport.Internal(err)
}

// served wraps a handler so that only refusals reach the peer verbatim.
func served(h transport.HandlerFunc) transport.HandlerFunc {
	return func(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
		data, err := h(ctx, peer, r)
		return data, peerError(err)
	}
}
