package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
)

// The types of the auth service's contract (auth.Registry), which Service
// implements, are the domain's.
type (
	// IssuedToken names a token the auth service issued.
	IssuedToken = chave.IssuedToken
	// IssuedTokenState is what the database knows of an issued token.
	IssuedTokenState = chave.IssuedTokenState
)

// ClientProof is how a call for the auth service authenticates its
// client: by the client's secret, or, for a refresh token that
// authenticates by itself (the TSS endpoint), by the secret version of a
// refresh token whose MAC the auth service verified.
type ClientProof struct {
	Secret                    string
	RefreshTokenSecretVersion string
}

var errInvalidGrant = chave.Errorf(chave.InvalidGrant, "the refresh token is invalid, expired, revoked or already used")

var errForeignToken = chave.Errorf(chave.PermissionDenied, "the token was issued to another client")

// The limits on what the auth service may tell the registry about issued
// tokens: no expiry further ahead than the longest lifetime plus the
// verifiers' clock skew.
const (
	maxAccessTokenAhead = chave.MaxAccessTokenLifetime + chave.MaxClockSkew
	maxFamilyAhead      = chave.MaxRefreshFamilyLifetime + chave.MaxClockSkew
)

// checkFamilyID and the others bound what a call names: ids by their
// exact format, expiries by the longest lifetimes.
func checkFamilyID(id string) error {
	if !chave.ValidFamilyID(id) {
		return chave.InvalidField("familyId", "is not a refresh-token family id (%d base64url bytes)", chave.FamilyIDBytes)
	}
	return nil
}

func checkTokenID(id string) error {
	if !chave.ValidTokenID(id) {
		return chave.InvalidField("tokenId", "is not an access token's jti (%d base32 characters)", chave.TokenIDLen)
	}
	return nil
}

func checkExpiry(field string, t, now time.Time, ahead time.Duration) error {
	if !t.IsZero() && t.After(now.Add(ahead)) {
		return chave.InvalidField(field, "is more than %v ahead: no issued token lives that long", ahead)
	}
	return nil
}

// authenticateProof authenticates the client by its proof; known is the
// client id when it names a stored credential.
func (s *Service) authenticateProof(ctx context.Context, clientID string, p ClientProof) (client Client, known string, err error) {
	if p.Secret != "" || p.RefreshTokenSecretVersion == "" {
		return s.authenticateClient(ctx, clientID, p.Secret)
	}
	if client, ok := s.cachedVersionGrant(ctx, clientID, p.RefreshTokenSecretVersion); ok {
		return client, clientID, nil
	}
	gen, cacheable := s.creds.generation(ctx, s.revocations, clientID)
	t, tenant, err := s.activeClient(ctx, clientID)
	if err != nil {
		return Client{}, knownID(clientID, err), err
	}
	if !liveSecretVersion(t, p.RefreshTokenSecretVersion, s.clock()) {
		return Client{}, t.ID, errInvalidGrant // the secret rotated since the family started
	}
	if client, err = clientWith(t, tenant, p.RefreshTokenSecretVersion); err != nil {
		return Client{}, t.ID, fmt.Errorf("authenticate client: %w", err)
	}
	if err := s.checkGrantAddress(ctx, client); err != nil {
		return Client{}, t.ID, err
	}
	s.recordUse(ctx, t.ID, s.clock())
	if cacheable {
		s.creds.fill(t.ID, t, tenant, gen)
	}
	return client, t.ID, nil
}

// UseRefreshToken authenticates the client and advances its refresh-token
// family from generation gen to gen+1 in one write, so that of
// several concurrent uses of one refresh token exactly one wins. Presenting
// a generation that was already used revokes the whole family (the token
// was replayed: either the client or an attacker holds a stale copy) and
// fails with InvalidGrant, as does any use of a revoked or expired family.
// A family of another client is PermissionDenied and stays as it was.
//
// Under AtTokenEndpoint it is a grant, checked and counted as
// AuthenticateClient's.
func (s *Service) UseRefreshToken(ctx context.Context, clientID string, proof ClientProof, familyID string, gen int64, familyExpire time.Time) (Client, error) {
	client, known, err := s.authenticateProof(ctx, clientID, proof)
	if err == nil {
		client, err = s.advanceFamily(ctx, client, familyID, gen, familyExpire)
	}
	s.countGrant(ctx, known, err)
	return client, err
}

// advanceFamily is UseRefreshToken once the client is authenticated.
func (s *Service) advanceFamily(ctx context.Context, client Client, familyID string, gen int64, familyExpire time.Time) (Client, error) {
	clientID := client.ID
	now := s.clock()
	if err := checkFamilyID(familyID); err != nil {
		return Client{}, err
	}
	if gen < 0 {
		return Client{}, chave.InvalidField("generation", "must not be negative")
	}
	if familyExpire.IsZero() {
		return Client{}, chave.InvalidField("familyExpireTime", "is required")
	}
	if err := checkExpiry("familyExpireTime", familyExpire, now, maxFamilyAhead); err != nil {
		return Client{}, err
	}
	if !now.Before(familyExpire) {
		return Client{}, errInvalidGrant
	}
	init := chave.RefreshFamily{ClientID: clientID, CreateTime: now, ExpireTime: familyExpire}
	// The common case, the family's current generation, is one write;
	// anything else is decided, and a replay's revocation committed, in a
	// read-modify-write transaction.
	if advanced, err := s.store.AdvanceRefreshFamily(ctx, familyID, init, gen); err != nil {
		return Client{}, err
	} else if advanced {
		return client, nil
	}
	var replayed bool
	fam, err := s.store.UpdateRefreshFamily(ctx, familyID, init, func(f *chave.RefreshFamily) error {
		replayed = false
		switch {
		case f.ClientID != clientID:
			return errForeignToken
		case f.Revoked():
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
// authenticated client was issued (RFC 7009): it names exactly one of
// them. Revoking what is already revoked succeeds. A family or a jti of
// another client is PermissionDenied (a jti names its client, see
// chave.NewTokenID).
func (s *Service) RevokeIssuedToken(ctx context.Context, clientID, secret string, tok IssuedToken) error {
	if _, err := s.AuthenticateClient(ctx, clientID, secret); err != nil {
		return err
	}
	now := s.clock()
	switch {
	case tok.FamilyID != "" && tok.TokenID != "":
		return chave.InvalidField("tokenId", "name either an access token or a refresh family, not both")
	case tok.FamilyID != "":
		if err := checkFamilyID(tok.FamilyID); err != nil {
			return err
		}
		if err := checkExpiry("expireTime", tok.ExpireTime, now, maxFamilyAhead); err != nil {
			return err
		}
		init := chave.RefreshFamily{ClientID: clientID, CreateTime: now, ExpireTime: tok.ExpireTime}
		fam, err := s.store.UpdateRefreshFamily(ctx, tok.FamilyID, init, func(f *chave.RefreshFamily) error {
			if f.ClientID != clientID {
				return errForeignToken
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
		return s.propagate(ctx, s.familyEntry(fam))
	case tok.TokenID != "":
		if err := checkTokenID(tok.TokenID); err != nil {
			return err
		}
		if !chave.TokenIDIssuedTo(tok.TokenID, clientID) {
			return errForeignToken
		}
		if err := checkExpiry("expireTime", tok.ExpireTime, now, maxAccessTokenAhead); err != nil {
			return err
		}
		r := chave.RevokedAccessToken{ID: tok.TokenID, ClientID: clientID, ExpireTime: tok.ExpireTime, RevokeTime: now}
		if err := s.store.RevokeAccessToken(ctx, r); err != nil {
			return fmt.Errorf("revoke access token: %w", err)
		}
		s.log.InfoContext(ctx, "access token revoked", "client_id", clientID, "jti", tok.TokenID)
		return s.propagate(ctx, s.accessTokenEntry(r))
	default:
		return chave.InvalidField("tokenId", "an access token's jti or a refresh family is required")
	}
}

// CheckIssuedToken reports whether an issued token is still good as far as
// the database knows: its credential active under the secret it was
// issued with, its family and its jti not revoked. Signature and expiry
// are the caller's to check. An anonymous caller (empty callerID and
// callerSecret: the auth service checking a token for itself) learns only
// whether the token is active; an authenticated one (the client
// introspecting) also what the credential is, if it may see the token: its
// own, one of its tenant's with token.introspect, or any as the operator;
// otherwise PermissionDenied.
func (s *Service) CheckIssuedToken(ctx context.Context, by chave.ClientCredentials, clientID string, tok IssuedToken) (IssuedTokenState, error) {
	anonymous := by == chave.ClientCredentials{}
	var caller Client
	if !anonymous {
		var err error
		if caller, err = s.AuthenticateClient(ctx, by.ID, by.Secret); err != nil {
			return IssuedTokenState{}, err
		}
	}
	if tok.FamilyID != "" {
		if err := checkFamilyID(tok.FamilyID); err != nil {
			return IssuedTokenState{}, err
		}
	}
	if tok.TokenID != "" {
		if err := checkTokenID(tok.TokenID); err != nil {
			return IssuedTokenState{}, err
		}
	}
	if !validClientID(clientID) {
		return IssuedTokenState{}, chave.InvalidField("clientId", "is not a client id")
	}
	t, err := s.store.GetToken(ctx, clientID)
	if chave.IsCode(err, chave.NotFound) {
		if !anonymous && !caller.Operator {
			return IssuedTokenState{}, errForeignToken // nothing to learn from a guess
		}
		return IssuedTokenState{}, nil
	} else if err != nil {
		return IssuedTokenState{}, fmt.Errorf("check issued token: %w", err)
	}
	if !anonymous && !maySee(caller, t) {
		return IssuedTokenState{}, errForeignToken
	}
	now := s.clock()
	if t.State(now) != chave.StateActive {
		return IssuedTokenState{}, nil
	}
	version := secretVersionOf(t)
	if tok.SecretVersion != "" {
		if !liveSecretVersion(t, tok.SecretVersion, now) {
			return IssuedTokenState{}, nil // issued under a secret since rotated
		}
		version = tok.SecretVersion
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
	client, err := s.clientOf(ctx, t, version)
	if err != nil {
		return IssuedTokenState{}, err
	}
	return IssuedTokenState{Active: true, Tenant: client.Tenant, Scopes: client.Scopes, Operator: client.Operator, SecretVersion: client.SecretVersion}, nil
}

// maySee reports whether caller may learn about the tokens of credential t
// (RFC 7662 introspection): its own, its tenant's with token.introspect,
// or any as the operator.
func maySee(caller Client, t chave.Token) bool {
	switch {
	case caller.ID == t.ID, caller.Operator:
		return true
	case caller.Tenant != "" && caller.Tenant == t.Tenant:
		return slices.Contains(caller.Scopes, chave.ScopeTokenIntrospect)
	default:
		return false
	}
}

// validClientID reports whether id has the form of a client id.
func validClientID(id string) bool {
	body, ok := strings.CutPrefix(id, secrets.ClientIDPrefix)
	if !ok || len(body) != clientIDBodyLen {
		return false
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// clientIDBodyLen is the length of a client id after its prefix: 128 bits
// in base62 (secrets.NewClientID).
const clientIDBodyLen = 22
