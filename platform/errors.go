package platform

import "github.com/baohan-dev/baohan"

// The platform's refusals are baohan.Errors: a handler's refusal reaches
// the institution as it is (code 0 and its message), anything else (the
// database, the blob store) is answered baohan.InternalMessage, the
// details going to the log only (transport.Server). The platform's own
// refusal types unwrap to a baohan.Error with their code.

// Unwrap makes a TransitionError a baohan.Error (EConflict).
func (e *TransitionError) Unwrap() error {
	return &baohan.Error{Code: baohan.EConflict, Message: e.Error()}
}

// Unwrap makes an InputError a baohan.Error (EInvalid).
func (e *InputError) Unwrap() error { return &baohan.Error{Code: baohan.EInvalid, Message: e.Error()} }

// Unwrap makes a completeError a baohan.Error (EInvalid).
func (e *completeError) Unwrap() error {
	return &baohan.Error{Code: baohan.EInvalid, Message: e.Error()}
}

// Unwrap makes a fileComplete a baohan.Error (EConflict).
func (e *fileComplete) Unwrap() error {
	return &baohan.Error{Code: baohan.EConflict, Message: e.Error()}
}
