package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// IssuedToken names a token the auth service issued: an access token by its
// jti, or a refresh-token family.
type IssuedToken struct {
	TokenID    string    // the access token's jti
	FamilyID   string    // the refresh-token family
	ExpireTime time.Time // when it would expire anyway
	// Generation, for a refresh token, is its place in the family: only the
	// family's current generation is still good. Nil for access tokens.
	Generation *int64
}

var errInvalidGrant = chave.Errorf(chave.InvalidGrant, "the refresh token is invalid, expired, revoked or already used")

// UseRefreshToken authenticates the client and advances its refresh-token
// family from generation gen to gen+1 in one transaction, so that of
// several concurrent uses of one refresh token exactly one wins. Presenting
// a generation that was already used revokes the whole family (the token
// was replayed: either the client or an attacker holds a stale copy) and
// fails with InvalidGrant, as does any use of a revoked or expired family.
func (s *Service) UseRefreshToken(ctx context.Context, clientID, secret, familyID string, gen int64, familyExpire time.Time) (Client, error) {
	client, err := s.AuthenticateClient(ctx, clientID, secret)
	if err != nil {
		return Client{}, err
	}
	now := s.clock()
	if familyID == "" || gen < 0 || (!familyExpire.IsZero() && !now.Before(familyExpire)) {
		return Client{}, errInvalidGrant
	}
	var replayed bool
	init := chave.RefreshFamily{ClientID: clientID, CreateTime: now, ExpireTime: familyExpire}
	fam, err := s.store.UpdateRefreshFamily(ctx, familyID, init, func(f *chave.RefreshFamily) error {
		replayed = false
		switch {
		case f.ClientID != clientID, f.Revoked():
			return errInvalidGrant
		case gen == f.Generation:
			f.Generation++
			return nil
		default:
			// An older generation is a replay; a newer one cannot have been
			// issued from this database. Either way the family ends here,
			// and the revocation is committed.
			f.RevokeTime, f.RevokeReason = now, chave.FamilyRevokedOnReuse
			replayed = true
			return nil
		}
	})
	if err != nil {
		return Client{}, err
	}
	if replayed {
		s.log.WarnContext(ctx, "refresh token replayed; family revoked", "client_id", clientID, "family", familyID, "generation", gen)
		if err := s.propagate(ctx, s.familyEntry(fam)); err != nil {
			return Client{}, err
		}
		return Client{}, errInvalidGrant
	}
	return client, nil
}

// RevokeIssuedToken revokes an access token or a refresh family that the
// authenticated client was issued (RFC 7009). Revoking what is already
// revoked succeeds. A family of another client is PermissionDenied.
func (s *Service) RevokeIssuedToken(ctx context.Context, clientID, secret string, tok IssuedToken) error {
	if _, err := s.AuthenticateClient(ctx, clientID, secret); err != nil {
		return err
	}
	now := s.clock()
	if tok.FamilyID != "" {
		init := chave.RefreshFamily{ClientID: clientID, CreateTime: now, ExpireTime: tok.ExpireTime}
		fam, err := s.store.UpdateRefreshFamily(ctx, tok.FamilyID, init, func(f *chave.RefreshFamily) error {
			if f.ClientID != clientID {
				return chave.Errorf(chave.PermissionDenied, "the refresh token was issued to another client")
			}
			if !f.Revoked() {
				f.RevokeTime, f.RevokeReason = now, chave.FamilyRevokedByClient
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("revoke refresh family: %w", err)
		}
		s.log.InfoContext(ctx, "refresh family revoked", "client_id", clientID, "family", tok.FamilyID)
		if err := s.propagate(ctx, s.familyEntry(fam)); err != nil {
			return err
		}
	}
	if tok.TokenID != "" {
		r := chave.RevokedAccessToken{ID: tok.TokenID, ClientID: clientID, ExpireTime: tok.ExpireTime, RevokeTime: now}
		if err := s.store.RevokeAccessToken(ctx, r); err != nil {
			return fmt.Errorf("revoke access token: %w", err)
		}
		s.log.InfoContext(ctx, "access token revoked", "client_id", clientID, "jti", tok.TokenID)
		if err := s.propagate(ctx, s.accessTokenEntry(r)); err != nil {
			return err
		}
	}
	return nil
}

// IssuedTokenState is what the database knows of an issued token.
type IssuedTokenState struct {
	Active bool
	Client Client // the credential, when Active
}

// CheckIssuedToken reports whether an issued token is still good as far as
// the database knows: its credential active, its family and its jti not
// revoked. Signature and expiry are the caller's to check. An anonymous
// caller (empty callerID and callerSecret) learns only whether the token is
// active; an authenticated one (the client introspecting) also what the
// credential is.
func (s *Service) CheckIssuedToken(ctx context.Context, callerID, callerSecret, clientID string, tok IssuedToken) (IssuedTokenState, error) {
	anonymous := callerID == "" && callerSecret == ""
	if !anonymous {
		if _, err := s.AuthenticateClient(ctx, callerID, callerSecret); err != nil {
			return IssuedTokenState{}, err
		}
	}
	t, err := s.store.GetToken(ctx, clientID)
	if chave.IsCode(err, chave.NotFound) {
		return IssuedTokenState{}, nil
	} else if err != nil {
		return IssuedTokenState{}, fmt.Errorf("check issued token: %w", err)
	}
	if t.State(s.clock()) != chave.StateActive {
		return IssuedTokenState{}, nil
	}
	if tok.FamilyID != "" {
		f, err := s.store.GetRefreshFamily(ctx, tok.FamilyID)
		switch {
		case chave.IsCode(err, chave.NotFound): // never used: generation 0 is current
			f = chave.RefreshFamily{ClientID: clientID}
		case err != nil:
			return IssuedTokenState{}, fmt.Errorf("check issued token: %w", err)
		}
		if f.Revoked() || f.ClientID != clientID || (tok.Generation != nil && *tok.Generation != f.Generation) {
			return IssuedTokenState{}, nil
		}
	}
	if tok.TokenID != "" {
		revoked, err := s.store.IsAccessTokenRevoked(ctx, tok.TokenID)
		if err != nil {
			return IssuedTokenState{}, fmt.Errorf("check issued token: %w", err)
		}
		if revoked {
			return IssuedTokenState{}, nil
		}
	}
	if anonymous {
		return IssuedTokenState{Active: true}, nil // nothing about the credential
	}
	client, err := s.clientOf(ctx, t)
	if err != nil {
		return IssuedTokenState{}, err
	}
	return IssuedTokenState{Active: true, Client: client}, nil
}
