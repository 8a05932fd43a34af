package chave

import (
	"errors"
	"fmt"
)

// Code classifies an error so that every transport can map it to its own
// status (gRPC codes, HTTP statuses, OAuth error names) in one place.
type Code string

// Error codes.
const (
	Invalid            Code = "invalid"             // bad input; Field names it
	NotFound           Code = "not_found"           // no such resource (or not visible to the caller)
	Conflict           Code = "conflict"            // the resource already exists
	FailedPrecondition Code = "failed_precondition" // the resource's state forbids the change
	Unauthenticated    Code = "unauthenticated"     // no or bad credentials
	PermissionDenied   Code = "permission_denied"   // authenticated, not allowed
	InvalidGrant       Code = "invalid_grant"       // a refresh token that is no longer good (RFC 6749 §5.2)
	Unavailable        Code = "unavailable"         // a dependency is down; retry later
	ResourceExhausted  Code = "resource_exhausted"  // too many attempts (throttled); retry later
	Internal           Code = "internal"            // a bug or an unexpected failure
)

// Error is a domain error: a code, the offending field (for Invalid), and a
// message that is safe to show to the caller.
type Error struct {
	Code    Code
	Field   string // JSON name of the offending field, e.g. "displayName"
	Message string
	Err     error // the underlying cause, never shown to callers
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns an Invalid error naming the field.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or Internal.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// IsCode reports whether err carries the code.
func IsCode(err error, code Code) bool { return ErrorCode(err) == code }
