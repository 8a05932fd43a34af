package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/sourcetest"
	"github.com/chave/chave/services/verify"
)

// TestNewEveryOAuthErrorHasOneStatus: every OAuth error code of
// chave.errors.v1 has one gRPC code, and an error of it leaves the server
// with that code, its description and an ErrorInfo the gateway reads back;
// the metrics count it under the same code.
func TestNewEveryOAuthErrorHasOneStatus(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	for n := range errorsv1.OauthError_name {
		code := errorsv1.OauthError(n)
		grpcCode, ok := grpcCode(code)
		if code == errorsv1.OauthError_OAUTH_ERROR_UNSPECIFIED {
			if ok {
				t.Errorf("the unspecified OAuth error has the gRPC code %v", grpcCode)
			}
			continue
		}
		if !ok {
			t.Errorf("%s has no gRPC code", code.Code())
			continue
		}
		err := fmt.Errorf("wrapped: %w", newOAuthError(code, "a description"))
		st := status.Convert(s.toStatus(context.Background(), err))
		if st.Code() != grpcCode || st.Message() != "a description" || errorsv1.OauthErrorOf(st) != code {
			t.Errorf("%s became %v %q %v, want %v", code.Code(), st.Code(), st.Message(), errorsv1.OauthErrorOf(st), grpcCode)
		}
		if got := oauthErrorOf(err); got != code {
			t.Errorf("%s is counted as %s", code.Code(), got.Code())
		}
	}
}

// TestNewStatusInterceptorMapsOnlyItsServer: the interceptor maps what a
// *Server's handler returns, hides an unexpected error's text (logging it),
// keeps a throttled call's slow_down under any wrapping, and leaves other
// services' errors alone.
func TestNewStatusInterceptorMapsOnlyItsServer(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	intercept := StatusInterceptor()
	run := func(server any, err error) error {
		_, got := intercept(context.Background(), nil, &grpc.UnaryServerInfo{Server: server, FullMethod: "/chave.auth.v1.AuthService/Token"},
			func(context.Context, any) (any, error) { return nil, err })
		return got
	}
	st := status.Convert(run(s, errors.New("database password is hunter2")))
	if st.Code() != codes.Internal || st.Message() != "internal error" || errorsv1.OauthErrorOf(st) != errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR {
		t.Errorf("an unexpected error became %v %q", st.Code(), st.Message())
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the cause was not logged: %s", logs.String())
	}
	throttled := errInvalidClient(&chave.Error{Code: chave.ResourceExhausted, Err: &throttledError{retryAfter: 1500 * time.Millisecond, limit: "client"}})
	st = status.Convert(run(s, throttled))
	if st.Code() != codes.ResourceExhausted || errorsv1.OauthErrorOf(st) != errorsv1.OauthError_OAUTH_ERROR_SLOW_DOWN {
		t.Errorf("a throttled call became %v %v", st.Code(), errorsv1.OauthErrorOf(st))
	}
	if got := oauthErrorOf(throttled); got != errorsv1.OauthError_OAUTH_ERROR_SLOW_DOWN {
		t.Errorf("a throttled call is counted as %s", got.Code())
	}
	if got := status.Code(run(s, fmt.Errorf("registry: %w", context.Canceled))); got != codes.Canceled {
		t.Errorf("a canceled call became %v", got)
	}
	other := errors.New("not ours")
	if got := run(struct{}{}, other); got != other {
		t.Errorf("another service's error became %v", got)
	}
}

// verifyReasons reads every constant of type verify.Reason from the verify
// package's source, so that a reason added there without a row in
// tokenRejection fails TestNewEveryTokenRejectionHasOneReason.
func verifyReasons(t *testing.T) []verify.Reason {
	var reasons []verify.Reason
	for _, v := range sourcetest.StringConsts(t, "../../verify", "Reason") {
		reasons = append(reasons, verify.Reason(v))
	}
	if len(reasons) < 10 {
		t.Fatalf("found %d verify reasons, want at least 10: %v", len(reasons), reasons)
	}
	return reasons
}

// TestNewEveryTokenRejectionHasOneReason: every reason of the verify
// package has its own errorsv1.TokenRejection, which VerifyToken's status
// carries, and every TokenRejection is some reason's.
func TestNewEveryTokenRejectionHasOneReason(t *testing.T) {
	seen := map[errorsv1.TokenRejection]verify.Reason{}
	for _, reason := range verifyReasons(t) {
		r, ok := tokenRejection(reason)
		if !ok {
			t.Errorf("verify reason %q has no TokenRejection", reason)
			continue
		}
		if other, dup := seen[r]; dup {
			t.Errorf("verify reasons %q and %q share %v", other, reason, r)
		}
		seen[r] = reason
		st := status.Convert((&verifyFailure{err: &verify.Error{Reason: reason}}).status(context.Background()))
		if st.Code() != codes.Unauthenticated || errorsv1.TokenRejectionOf(st) != r {
			t.Errorf("verify reason %q became %v %v, want Unauthenticated %v", reason, st.Code(), errorsv1.TokenRejectionOf(st), r)
		}
	}
	for n := range errorsv1.TokenRejection_name {
		if r := errorsv1.TokenRejection(n); r != errorsv1.TokenRejection_TOKEN_REJECTION_UNSPECIFIED {
			if _, ok := seen[r]; !ok {
				t.Errorf("%v is no verify reason's", r)
			}
		}
	}
	st := status.Convert((&verifyFailure{err: errors.New("revocation set unreachable")}).status(context.Background()))
	if st.Code() != codes.Unavailable || len(st.Details()) != 0 {
		t.Errorf("a check that could not be made became %v %v, want a bare Unavailable", st.Code(), st.Details())
	}
}
