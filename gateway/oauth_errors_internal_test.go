package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
)

// TestNewEveryOAuthErrorHasOneHTTPStatus: every OAuth error code of
// chave.errors.v1 has an HTTP status, as RFC 6749 §5.2 and the RFCs after
// it say, and a status of the auth service naming it comes out as that
// code and status, with its description and Retry-After, whatever the gRPC
// code beside it.
func TestNewEveryOAuthErrorHasOneHTTPStatus(t *testing.T) {
	want := map[errorsv1.OauthError]int{
		errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT:          http.StatusUnauthorized,
		errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR:            http.StatusInternalServerError,
		errorsv1.OauthError_OAUTH_ERROR_TEMPORARILY_UNAVAILABLE: http.StatusServiceUnavailable,
		errorsv1.OauthError_OAUTH_ERROR_SLOW_DOWN:               http.StatusTooManyRequests,
	}
	o := &oauthEndpoints{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for n := range errorsv1.OauthError_name {
		code := errorsv1.OauthError(n)
		got, ok := oauthHTTPStatus(code)
		if code == errorsv1.OauthError_OAUTH_ERROR_UNSPECIFIED {
			if ok {
				t.Errorf("the unspecified OAuth error has the HTTP status %d", got)
			}
			continue
		}
		wantStatus, special := want[code]
		if !special {
			wantStatus = http.StatusBadRequest
		}
		if !ok || got != wantStatus {
			t.Errorf("%s: HTTP status %d, %v; want %d", code.Code(), got, ok, wantStatus)
		}
		st, err := status.New(codes.Unknown, "a description").WithDetails(code.ErrorInfo(),
			&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		oe := o.upstreamError(context.Background(), st.Err())
		if oe.code != code || oe.httpStatus != wantStatus || oe.description != "a description" || oe.retryAfter != 2 {
			t.Errorf("%s from the auth service answers %s %d %q retry %d", code.Code(), oe.code.Code(), oe.httpStatus, oe.description, oe.retryAfter)
		}
	}
}

// TestNewUpstreamErrorTrustsOnlyItsDomain: a reason outside the OAuth
// domain, or one spelled otherwise, is not an OAuth answer.
func TestNewUpstreamErrorTrustsOnlyItsDomain(t *testing.T) {
	o := &oauthEndpoints{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, info := range []*errdetails.ErrorInfo{
		{Reason: "invalid_grant", Domain: errorsv1.RegistryDomain()},
		{Reason: "INVALID_GRANT", Domain: errorsv1.OAuthDomain()},
		{Reason: "access_denied", Domain: errorsv1.OAuthDomain()},
		{Reason: "", Domain: errorsv1.OAuthDomain()},
	} {
		st, err := status.New(codes.InvalidArgument, "secret internals").WithDetails(info)
		if err != nil {
			t.Fatal(err)
		}
		oe := o.upstreamError(context.Background(), st.Err())
		if oe.code != errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR || oe.description != "internal error" {
			t.Errorf("%v answers %s %q, want server_error without the message", info, oe.code.Code(), oe.description)
		}
	}
}
