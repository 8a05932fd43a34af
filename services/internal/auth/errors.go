package auth

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
)

// The OAuth 2.0 error codes, and the ErrorInfo domain they travel under,
// are chave.errors.v1's OauthError: declared once, in the protos.

// grpcCode is the gRPC code answering each OAuth error; ok is false for
// OAUTH_ERROR_UNSPECIFIED and values this build does not know.
func grpcCode(e errorsv1.OauthError) (code codes.Code, ok bool) {
	switch e {
	case errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT:
		return codes.Unauthenticated, true
	case errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, errorsv1.OauthError_OAUTH_ERROR_INVALID_GRANT,
		errorsv1.OauthError_OAUTH_ERROR_UNAUTHORIZED_CLIENT, errorsv1.OauthError_OAUTH_ERROR_UNSUPPORTED_GRANT_TYPE,
		errorsv1.OauthError_OAUTH_ERROR_INVALID_SCOPE, errorsv1.OauthError_OAUTH_ERROR_UNSUPPORTED_TOKEN_TYPE:
		return codes.InvalidArgument, true
	case errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR:
		return codes.Internal, true
	case errorsv1.OauthError_OAUTH_ERROR_TEMPORARILY_UNAVAILABLE:
		return codes.Unavailable, true
	case errorsv1.OauthError_OAUTH_ERROR_SLOW_DOWN:
		return codes.ResourceExhausted, true
	}
	return codes.Internal, false
}

// oauthError is an OAuth error on its way to the server edge.
type oauthError struct {
	code        errorsv1.OauthError
	description string // safe to show to the client
	cause       error  // logged, never shown
}

func (e *oauthError) Error() string {
	msg := e.code.Code() + ": " + e.description
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *oauthError) Unwrap() error { return e.cause }

func newOAuthError(code errorsv1.OauthError, description string) *oauthError {
	return &oauthError{code: code, description: description}
}

// errInvalidClient is the one answer to every failed client
// authentication, so that an unknown client and a wrong secret look alike.
func errInvalidClient(cause error) *oauthError {
	return &oauthError{code: errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT, description: "client authentication failed", cause: cause}
}

func errUnavailable(cause error) *oauthError {
	return errUnavailableCause("the credential registry is unavailable; retry later", cause)
}

func errUnavailableCause(description string, cause error) *oauthError {
	return &oauthError{code: errorsv1.OauthError_OAUTH_ERROR_TEMPORARILY_UNAVAILABLE, description: description, cause: cause}
}

// oauthStatus builds the gRPC status of an OAuth error.
func oauthStatus(code errorsv1.OauthError, description string) error {
	grpcCode, _ := grpcCode(code)
	st, err := status.New(grpcCode, description).WithDetails(code.ErrorInfo())
	if err != nil {
		// Only a broken proto registry gets here.
		return status.Error(codes.Internal, description)
	}
	return st.Err()
}

// oauthErrorOf is the OAuth error that toStatus answers err with:
// throttling is slow_down whatever a caller wrapped it in, an *oauthError
// its code, anything else server_error.
func oauthErrorOf(err error) errorsv1.OauthError {
	var te *throttledError
	var oe *oauthError
	switch {
	case errors.As(err, &te):
		return errorsv1.OauthError_OAUTH_ERROR_SLOW_DOWN
	case errors.As(err, &oe):
		return oe.code
	}
	return errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR
}

// StatusInterceptor is the auth service's one mapping from the errors its
// handlers return to gRPC statuses (toStatus): install it on every server,
// and in-process channel, that serves a *Server. Calls to other services
// pass through.
func StatusInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		s, ours := info.Server.(*Server)
		if err == nil || !ours {
			return resp, err
		}
		return nil, s.toStatus(ctx, err)
	}
}

// toStatus maps an error to its gRPC status. OAuth errors keep their code
// and description; a throttled call is slow_down with a RetryInfo;
// VerifyToken's refusals are Unauthenticated; context errors become
// Canceled or DeadlineExceeded; anything else is a server_error whose cause
// is logged here and not shown.
func (s *Server) toStatus(ctx context.Context, err error) error {
	var te *throttledError
	var vf *verifyFailure
	var oe *oauthError
	switch {
	case errors.As(err, &te):
		return te.status()
	case errors.As(err, &vf):
		return vf.status(ctx)
	case errors.As(err, &oe):
		if oe.code == errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR || oe.code == errorsv1.OauthError_OAUTH_ERROR_TEMPORARILY_UNAVAILABLE {
			s.log.ErrorContext(ctx, "request failed", "error", err)
		}
		return oauthStatus(oe.code, oe.description)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	default:
		s.log.ErrorContext(ctx, "request failed", "error", err)
		return oauthStatus(errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR, "internal error")
	}
}

// OAuthError extracts the OAuth error code (the ErrorInfo reason) and
// description (the status message) from an error returned by the auth
// service, as the gateway does to answer RFC 6749 §5.2 error responses. ok
// is false when err carries no known OAuth error.
func OAuthError(err error) (code, description string, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus || st == nil {
		return "", "", false
	}
	if e := errorsv1.OauthErrorOf(st); e != errorsv1.OauthError_OAUTH_ERROR_UNSPECIFIED {
		return e.Code(), st.Message(), true
	}
	return "", "", false
}

// quote shows a client-supplied value in a description: quoted and cut
// short.
func quote(s string) string {
	return fmt.Sprintf("%q", truncate(s))
}
