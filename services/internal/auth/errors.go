package auth

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the ErrorInfo domain of OAuth errors.
const ErrorDomain = "oauth2.chave"

// OAuth 2.0 error codes (RFC 6749 §5.2, and temporarily_unavailable and
// server_error from §4.1.2.1).
const (
	ErrInvalidRequest         = "invalid_request"
	ErrInvalidClient          = "invalid_client"
	ErrInvalidGrant           = "invalid_grant"
	ErrUnauthorizedClient     = "unauthorized_client"
	ErrUnsupportedGrantType   = "unsupported_grant_type"
	ErrInvalidScope           = "invalid_scope"
	ErrServerError            = "server_error"
	ErrTemporarilyUnavailable = "temporarily_unavailable"
)

// grpcCode maps an OAuth error code to its gRPC code.
func grpcCode(oauthCode string) codes.Code {
	switch oauthCode {
	case ErrInvalidClient:
		return codes.Unauthenticated
	case ErrInvalidRequest, ErrInvalidGrant, ErrUnauthorizedClient, ErrUnsupportedGrantType, ErrInvalidScope:
		return codes.InvalidArgument
	case ErrTemporarilyUnavailable:
		return codes.Unavailable
	default:
		return codes.Internal
	}
}

// oauthError is an OAuth error on its way to the server edge.
type oauthError struct {
	code        string // an Err… constant
	description string // safe to show to the client
	cause       error  // logged, never shown
}

func (e *oauthError) Error() string {
	msg := e.code + ": " + e.description
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *oauthError) Unwrap() error { return e.cause }

func newOAuthError(code, description string) *oauthError {
	return &oauthError{code: code, description: description}
}

// errInvalidClient is the one answer to every failed client
// authentication, so that an unknown client and a wrong secret look alike.
func errInvalidClient(cause error) *oauthError {
	return &oauthError{code: ErrInvalidClient, description: "client authentication failed", cause: cause}
}

func errUnavailable(cause error) *oauthError {
	return errUnavailableCause("the credential registry is unavailable; retry later", cause)
}

func errUnavailableCause(description string, cause error) *oauthError {
	return &oauthError{code: ErrTemporarilyUnavailable, description: description, cause: cause}
}

// oauthStatus builds the gRPC status of an OAuth error.
func oauthStatus(code, description string) error {
	st, err := status.New(grpcCode(code), description).WithDetails(&errdetails.ErrorInfo{
		Reason: code,
		Domain: ErrorDomain,
	})
	if err != nil {
		// Only a broken proto registry gets here.
		return status.Error(codes.Internal, description)
	}
	return st.Err()
}

// toStatus is the server edge's one mapping from errors to gRPC statuses.
// OAuth errors keep their code and description; context errors become
// Canceled or DeadlineExceeded; anything else is a server_error whose cause
// is logged here and not shown.
func (s *Server) toStatus(ctx context.Context, err error) error {
	var oe *oauthError
	var te *throttledError
	switch {
	case errors.As(err, &te):
		// Throttled, whatever a caller wrapped it in.
		return te.status()
	case errors.As(err, &oe):
		if oe.code == ErrServerError || oe.code == ErrTemporarilyUnavailable {
			s.log.ErrorContext(ctx, "request failed", "error", err)
		}
		return oauthStatus(oe.code, oe.description)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	default:
		s.log.ErrorContext(ctx, "request failed", "error", err)
		return oauthStatus(ErrServerError, "internal error")
	}
}

// OAuthError extracts the OAuth error code (the ErrorInfo reason) and
// description (the status message) from an error returned by the auth
// service, as the gateway does to answer RFC 6749 §5.2 error responses. ok
// is false when err carries no ErrorInfo of ErrorDomain.
func OAuthError(err error) (code, description string, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus || st == nil {
		return "", "", false
	}
	for _, d := range st.Details() {
		if info, isInfo := d.(*errdetails.ErrorInfo); isInfo && info.GetDomain() == ErrorDomain {
			return info.GetReason(), st.Message(), true
		}
	}
	return "", "", false
}

// quote shows a client-supplied value in a description: quoted and cut
// short.
func quote(s string) string {
	return fmt.Sprintf("%q", truncate(s))
}
