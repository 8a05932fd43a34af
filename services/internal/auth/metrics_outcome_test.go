package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/throttle"
)

// The outcome a grant is counted under, taken from its own error, is the
// code its answered status carries, for every kind of error toStatus
// maps (the metric used to parse the status back).
func TestGrantOutcomeMatchesTheStatus(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	throttled := &throttledError{retryAfter: time.Second, limit: throttle.Limit("client")}
	for name, err := range map[string]error{
		"invalid_client":          errInvalidClient(errors.New("wrong secret")),
		"invalid_grant":           newOAuthError(ErrInvalidGrant, "reused"),
		"wrapped":                 fmt.Errorf("grant: %w", newOAuthError(ErrInvalidScope, "no")),
		"unavailable":             errUnavailable(errors.New("down")),
		"throttled":               throttled,
		"throttled wrapping":      fmt.Errorf("%w: %w", throttled, newOAuthError(ErrInvalidClient, "x")),
		"canceled":                context.Canceled,
		"deadline":                context.DeadlineExceeded,
		"anything else":           errors.New("boom"),
		"oauth wrapping a cancel": &oauthError{code: ErrInvalidRequest, description: "x", cause: context.Canceled},
	} {
		st := s.toStatus(context.Background(), err)
		want := ErrServerError
		if code, _, ok := OAuthError(st); ok {
			want = code
		}
		if got := grantOutcome(err, st); got != want {
			t.Errorf("%s: outcome %q, the status says %q", name, got, want)
		}
	}
}
