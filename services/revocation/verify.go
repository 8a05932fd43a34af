package revocation

import (
	"context"

	"github.com/chave/chave/services/verify"
)

// Checker adapts s to verify.RevocationChecker, so that a Verifier consults
// the set (Config.Revocations): a token is revoked when its jti, its
// credential (client_id, compared with iat) or its refresh family (sid) has
// an entry. Each check is one IsRevoked: for Redis, one round trip, bounded
// by the set's timeout. Its errors (ErrUnavailable, ErrLost) make Verify
// fail closed with verify.ErrUnavailable.
func Checker(s Set) verify.RevocationChecker {
	if s == nil {
		panic("revocation: Checker of a nil Set")
	}
	return checker{s}
}

type checker struct{ set Set }

func (c checker) IsRevoked(ctx context.Context, claims verify.Claims) (bool, error) {
	return c.set.IsRevoked(ctx, QueryFor(claims))
}

// QueryFor returns the query that checks the token with these claims.
func QueryFor(c verify.Claims) Query {
	return Query{ClientID: c.ClientID, IssuedAt: c.IssuedAt, TokenID: c.ID, FamilyID: c.SessionID}
}
