package revocation

import (
	"context"

	"github.com/chave/chave/services/verify"
)

// Checker adapts s to verify.RevocationChecker, so that a Verifier consults
// the set (Config.Revocations): a token is revoked when its jti, its
// credential (client_id, compared with iat), its refresh family (sid) or
// the key that signed it (kid) has an entry. Each check is one IsRevoked: for Redis, one round trip, bounded
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

// Local tells verify that the in-process set answers without waiting, so
// that it arms no timeout for the check (see verify.RevocationChecker).
func (c checker) Local() bool {
	_, ok := c.set.(*Memory)
	return ok
}

// QueryFor returns the query that checks the token with these claims. A
// token that carries its secret version (sv) is checked against its
// credential's entry for that version (CredentialKey): revoking the
// credential writes the entry of its current version, rotating its secret
// the entry of the version it replaced.
func QueryFor(c verify.Claims) Query {
	return Query{ClientID: CredentialKey(c.ClientID, c.SecretVersion), IssuedAt: c.IssuedAt, TokenID: c.ID, FamilyID: c.SessionID, KeyID: c.KeyID}
}

// CredentialKey is the ID of the Credential entry that revokes the tokens a
// credential issued under one secret version; with no version, the
// credential's own entry, which revokes the tokens that carry none.
func CredentialKey(clientID, secretVersion string) string {
	if secretVersion == "" {
		return clientID
	}
	return clientID + "/" + secretVersion
}
