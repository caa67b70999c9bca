package baohan

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// transition is a service's own refusal type: it unwraps to an Error.
type transition struct{ msg string }

func (t *transition) Error() string { return t.msg }
func (t *transition) Unwrap() error { return &Error{Code: EConflict, Message: t.msg} }

func TestErrorCodeAndMessage(t *testing.T) {
	sentinel := &Error{Code: ENotFound, Message: "not found"}
	tests := []struct {
		name     string
		err      error
		code     string
		refusal  bool
		message  string
		isTarget error // errors.Is(err, isTarget) must hold
	}{
		{"nil", nil, "", false, "", nil},
		{"a refusal", Refusef("applyno %s is unknown", "A1"), ERefused, true, "applyno A1 is unknown", nil},
		{"wrapped with context", fmt.Errorf("baohanrestore: %w", Errorf(EInvalid, "field %q is empty", "key")), EInvalid, true,
			`baohanrestore: field "key" is empty`, nil},
		{"a sentinel, wrapped", fmt.Errorf("applyno A1: %w", sentinel), ENotFound, true, "applyno A1: not found", sentinel},
		{"a service's type", &transition{"applyno A1 is issued: quit is not allowed"}, EConflict, true,
			"applyno A1 is issued: quit is not allowed", nil},
		{"the database", errors.New("pq: connection refused"), EInternal, false, InternalMessage, nil},
		{"a timeout", fmt.Errorf("saving: %w", context.DeadlineExceeded), EInternal, false, InternalMessage, nil},
		{"an internal Error", Errorf(EInternal, "chain broken at row 7"), EInternal, false, InternalMessage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode %q, want %q", got, tt.code)
			}
			if got := IsRefusal(tt.err); got != tt.refusal {
				t.Errorf("IsRefusal %v, want %v", got, tt.refusal)
			}
			if got := ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage %q, want %q", got, tt.message)
			}
			if tt.isTarget != nil && !errors.Is(tt.err, tt.isTarget) {
				t.Error("errors.Is lost the sentinel")
			}
		})
	}
}
