package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chave/chave/services/verify"
)

// tokenKind says what a presented token turned out to be.
type tokenKind int

const (
	kindUnknown tokenKind = iota // garbage, another issuer's, a bad signature or MAC
	kindAccess                   // an access token whose signature verifies
	kindRefresh                  // a refresh token whose MAC verifies
)

// presentedToken is a token presented for revocation or introspection, as
// far as it can be read without the registry.
type presentedToken struct {
	kind tokenKind
	// accessExpired: an access token that verifies but for its expiry
	// (access is then empty).
	accessExpired bool
	access        verify.Claims
	refresh       refreshToken
}

// clientID is the client the token was issued to; empty if unknown.
func (p presentedToken) clientID() string {
	switch p.kind {
	case kindAccess:
		return p.access.ClientID
	case kindRefresh:
		return p.refresh.clientID
	}
	return ""
}

// readToken reads raw as a refresh token (by its prefix) or an access
// token. A token of neither kind is kindUnknown, not an error: errors are
// for a verifier that could not do its work (its key source down). The
// form decides, so token_type_hint is never needed.
func (s *Server) readToken(ctx context.Context, raw string) (presentedToken, error) {
	if strings.HasPrefix(raw, refreshTokenPrefix) {
		rt, err := s.mint.refresh.parse(ctx, raw)
		if err != nil {
			return presentedToken{}, nil
		}
		return presentedToken{kind: kindRefresh, refresh: rt}, nil
	}
	claims, err := s.verifier.Verify(ctx, raw)
	if err != nil {
		var ve *verify.Error
		switch {
		case errors.As(err, &ve) && ve.Reason == verify.ReasonExpired:
			// The signature, issuer and audience verified before the expiry
			// was checked.
			return presentedToken{kind: kindAccess, accessExpired: true}, nil
		case errors.Is(err, verify.ErrInvalidToken):
			return presentedToken{}, nil
		case ctx.Err() != nil:
			return presentedToken{}, ctx.Err()
		default:
			return presentedToken{}, errUnavailableCause("the token cannot be checked now; retry later", fmt.Errorf("verifying access token: %w", err))
		}
	}
	return presentedToken{kind: kindAccess, access: claims}, nil
}
