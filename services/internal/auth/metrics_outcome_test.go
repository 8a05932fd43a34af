package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/throttle"
)

// The outcome a grant is counted under, taken from its own error
// (oauthErrorOf), is the code its answered status carries, for every kind
// of error toStatus maps (the metric used to parse the status back).
func TestGrantOutcomeMatchesTheStatus(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	throttled := &throttledError{retryAfter: time.Second, limit: throttle.Limit("client")}
	for name, err := range map[string]error{
		"invalid_client":          errInvalidClient(errors.New("wrong secret")),
		"invalid_grant":           newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_GRANT, "reused"),
		"wrapped":                 fmt.Errorf("grant: %w", newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_SCOPE, "no")),
		"unavailable":             errUnavailable(errors.New("down")),
		"throttled":               throttled,
		"throttled wrapping":      fmt.Errorf("%w: %w", throttled, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT, "x")),
		"canceled":                context.Canceled,
		"deadline":                context.DeadlineExceeded,
		"anything else":           errors.New("boom"),
		"oauth wrapping a cancel": &oauthError{code: errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, description: "x", cause: context.Canceled},
	} {
		st := s.toStatus(context.Background(), err)
		want := "server_error"
		if code, _, ok := OAuthError(st); ok {
			want = code
		}
		if got := oauthErrorOf(err).Code(); got != want {
			t.Errorf("%s: outcome %q, the status says %q", name, got, want)
		}
	}
}
