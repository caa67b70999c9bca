package institution

import (
	"context"
	"errors"
	"fmt"

	"github.com/baohan-dev/baohan/transport"
)

// Refusal is a business refusal: the request was understood and is not
// allowed. Its message goes to the peer (code 0) or the console as is.
type Refusal struct{ Msg string }

func (e *Refusal) Error() string { return e.Msg }

func refuse(format string, a ...any) error { return &Refusal{Msg: fmt.Sprintf(format, a...)} }

// IsRefusal reports whether err is a business refusal (or an illegal
// transition), as opposed to a failure of the service.
func IsRefusal(err error) bool {
	var r *Refusal
	var t *TransitionError
	return errors.As(err, &r) || errors.As(err, &t) || errors.Is(err, ErrNotFound)
}

// peerError turns err into what a peer may see: refusals as they are,
// anything else logged in full and answered with a neutral message, so
// that database or file errors never leak to the other side.
func (s *Service) peerError(ctx context.Context, what string, err error) error {
	if err == nil || IsRefusal(err) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errors.New("the institution timed out; please retry")
	}
	// The pipeline logs it and answers a neutral message.
	return transport.Internal(fmt.Errorf("%s: %w", what, err))
}
