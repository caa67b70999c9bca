package baohan

import (
	"errors"
	"fmt"
)

// Error codes: the kind of refusal an Error is. On the wire every one is
// answered {"code":0,"message":...} with the Error's message; the JSON
// APIs of the consoles map them to HTTP statuses.
const (
	ERefused     = "refused"     // a business rule does not allow the request
	EInvalid     = "invalid"     // an input breaks a rule: which field, which rule
	EConflict    = "conflict"    // not allowed in the current state (the state machine)
	ENotFound    = "not_found"   // no such application, section, file, token...
	EForbidden   = "forbidden"   // a required proof is missing or does not hold
	EUnavailable = "unavailable" // not now: try again (a timeout)
	EInternal    = "internal"    // a failure of the service itself
)

// InternalMessage is what the other side is told of an error that is not
// an Error: the details are for the logs only.
const InternalMessage = "internal error; try again later"

// Error is a refusal: the request was understood and is not allowed, and
// its Message says why, for the peer or the user at the other end. Any
// other error (the database, the disk) is a failure of the service: it is
// logged in full and the other side is told only InternalMessage.
//
// An error type of a service that is a refusal (a transition the state
// machine does not allow, a bad input field) unwraps to an Error with its
// code, so that ErrorCode and IsRefusal see it through errors.As.
type Error struct {
	Code    string // one of the E constants
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Refusef returns an ERefused Error with a formatted message.
func Refusef(format string, args ...any) error {
	return &Error{Code: ERefused, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the Error err is or wraps: "" for nil,
// EInternal for an error that is no Error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// IsRefusal reports whether err is or wraps an Error that is not
// EInternal: a refusal to show as it is, not a failure of the service.
func IsRefusal(err error) bool {
	c := ErrorCode(err)
	return c != "" && c != EInternal
}

// ErrorMessage returns what the other side may see of err: for a refusal
// its whole text (the context a wrapper added included), for anything
// else InternalMessage; "" for nil.
func ErrorMessage(err error) string {
	switch {
	case err == nil:
		return ""
	case IsRefusal(err):
		return err.Error()
	}
	return InternalMessage
}
