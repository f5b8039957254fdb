// Package errs holds the refusals the services share, which the API maps
// to the wire in one place: a request wrong as sent (invalidParameters,
// 400) and a request over a limit (tooManyRequests, 429, with when to try
// again). A refused factor is neither: it is an answer (accepted false),
// not an error.
package errs

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrInvalid marks a request that is wrong as sent; its text says
	// which field and why.
	ErrInvalid = errors.New("invalid parameters")
	// ErrLimited marks a request refused because a limit was reached.
	ErrLimited = errors.New("too many requests")
)

// Error is a refusal of one of the kinds above, with what to tell the
// caller.
type Error struct {
	Kind       error
	Detail     string
	RetryAfter time.Duration // for ErrLimited: when a retry may succeed; 0 when unknown
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Detail }

// Unwrap makes errors.Is(err, ErrInvalid) work.
func (e *Error) Unwrap() error { return e.Kind }

// Invalid is an ErrInvalid with a detail.
func Invalid(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Detail: fmt.Sprintf(format, args...)}
}

// Limited is an ErrLimited that may succeed after retry.
func Limited(retry time.Duration, format string, args ...any) error {
	return &Error{Kind: ErrLimited, Detail: fmt.Sprintf(format, args...), RetryAfter: retry}
}
