// What the auth service asks of the registry: authenticating clients,
// principals, and the bootstrap operator credential.

package registry

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage"
)

// Client is what a grant needs to know about an authenticated client.
type Client struct {
	ID                 string
	Tenant             string
	Scopes             []string // sorted
	ExpireTime         time.Time
	Operator           bool
	IssueRefreshTokens bool
	// SecretVersion changes when the secret rotates.
	SecretVersion string

	policy chave.TenantPolicy // the tenant's, for the grant's address check
}

// Contract is the client as the auth service's contract names it.
func (c Client) Contract() chave.Client {
	return chave.Client{ID: c.ID, Tenant: c.Tenant, Scopes: c.Scopes, ExpireTime: c.ExpireTime, Operator: c.Operator,
		IssueRefreshTokens: c.IssueRefreshTokens, SecretVersion: c.SecretVersion}
}

// errBadClient is the one answer for every failed client authentication,
// so an unknown client and a wrong secret look the same.
var errBadClient = chave.Errorf(chave.Unauthenticated, "invalid client credentials")

// AuthenticateClient checks a client id and secret (constant-time compare of
// keyed hashes) and returns the client's current access. Under
// AtTokenEndpoint it is a grant: the client's address must be one its
// tenant's policy allows, and the outcome counts in the credential's usage.
func (s *Service) AuthenticateClient(ctx context.Context, clientID, secret string) (Client, error) {
	client, known, err := s.authenticateClient(ctx, clientID, secret)
	s.countGrant(ctx, known, err)
	return client, err
}

// authenticateClient is AuthenticateClient without the counting; known is
// the client id when it names a stored credential. A success may come from
// the credential cache (credcache.go); every refusal is decided on a fresh
// read.
func (s *Service) authenticateClient(ctx context.Context, clientID, secret string) (client Client, known string, err error) {
	parsed, perr := secrets.ParseClientSecret(secret)
	if perr == nil {
		if client, ok := s.cachedSecretGrant(ctx, clientID, parsed); ok {
			return client, clientID, nil
		}
	}
	gen, cacheable := s.creds.generation(ctx, s.revocations, clientID)
	t, tenant, err := s.activeClient(ctx, clientID)
	if err != nil {
		return Client{}, knownID(clientID, err), err
	}
	if perr != nil {
		return Client{}, t.ID, errBadClient
	}
	now := s.clock()
	version, current, ok, err := s.matchSecret(ctx, parsed, t, now)
	if err != nil {
		return Client{}, t.ID, err
	}
	if !ok {
		return Client{}, t.ID, errBadClient
	}
	if client, err = clientWith(t, tenant, version); err != nil {
		return Client{}, t.ID, fmt.Errorf("authenticate client: %w", err)
	}
	if err := s.checkGrantAddress(ctx, client); err != nil {
		return Client{}, t.ID, err
	}
	s.recordUse(ctx, t.ID, now)
	if current && s.rehash(ctx, t, parsed) {
		cacheable = false // the stored hash is moving: the next grant reads it
	}
	if cacheable {
		s.creds.fill(t.ID, t, tenant, gen)
	}
	return client, t.ID, nil
}

// cachedSecretGrant is authenticateClient's success on the cached
// credential, when the cache holds a current one and the grant succeeds on
// it; ok false sends the grant to the database.
func (s *Service) cachedSecretGrant(ctx context.Context, clientID string, secret secrets.ClientSecret) (Client, bool) {
	e, ok := s.creds.lookup(ctx, s.revocations, clientID)
	if !ok {
		return Client{}, false
	}
	now := s.clock()
	if e.token.State(now) != chave.StateActive {
		s.creds.count(cacheRefused)
		return Client{}, false
	}
	version, current, ok, err := s.matchSecret(ctx, secret, e.token, now)
	if err != nil || !ok {
		s.creds.count(cacheRefused)
		return Client{}, false
	}
	client, ok := s.cachedClient(ctx, e, version)
	if !ok {
		return Client{}, false
	}
	s.recordUse(ctx, clientID, now)
	if current && s.rehash(ctx, e.token, secret) {
		s.creds.drop(clientID, e)
	}
	return client, true
}

// cachedClient is clientWith on a cache entry, with the grant's address
// check; ok false (counted as refused) sends the grant to the database.
func (s *Service) cachedClient(ctx context.Context, e *cacheEntry, version string) (Client, bool) {
	client, err := clientWith(e.token, e.tenant, version)
	if err != nil || !s.grantAddressAllowed(ctx, client) {
		s.creds.count(cacheRefused)
		return Client{}, false
	}
	return client, true
}

// knownID is the client id when activeClient's err says it names a stored
// credential that is not active.
func knownID(clientID string, err error) string {
	if errors.Is(err, errInactiveClient) {
		return clientID
	}
	return ""
}

// checkGrantAddress refuses a grant (under AtTokenEndpoint) from an address
// outside the client's tenant's allowedClientCidrs, with the same answer as
// a wrong secret, so that the policy is not revealed.
func (s *Service) checkGrantAddress(ctx context.Context, client Client) error {
	if s.grantAddressAllowed(ctx, client) {
		return nil
	}
	g, _ := grantOf(ctx)
	s.log.InfoContext(ctx, "grant refused: client address outside the tenant's allowed ranges",
		"client_id", client.ID, "tenant", client.Tenant, "address", g.clientAddress)
	return errBadClient
}

// grantAddressAllowed is checkGrantAddress's test, without its log.
func (s *Service) grantAddressAllowed(ctx context.Context, client Client) bool {
	g, ok := grantOf(ctx)
	return !ok || client.Operator || client.policy.AllowsAddress(g.clientAddress)
}

// activeClient loads the active credential of a client id with its
// tenant, both in one read (the token's parameters unread), or fails with
// errBadClient: the grant's path.
func (s *Service) activeClient(ctx context.Context, clientID string) (chave.Token, chave.Tenant, error) {
	if !validClientID(clientID) {
		return chave.Token{}, chave.Tenant{}, errBadClient
	}
	t, tenant, err := s.store.GetClient(ctx, clientID)
	if t, err = s.checkActive(t, err); err != nil {
		return chave.Token{}, chave.Tenant{}, err
	}
	return t, tenant, nil
}

// checkActive is errBadClient for a credential that is absent (NotFound)
// or not active.
func (s *Service) checkActive(t chave.Token, err error) (chave.Token, error) {
	if chave.IsCode(err, chave.NotFound) {
		return chave.Token{}, errBadClient
	} else if err != nil {
		return chave.Token{}, fmt.Errorf("authenticate client: %w", err)
	}
	if t.State(s.clock()) != chave.StateActive {
		return chave.Token{}, errInactiveClient
	}
	return t, nil
}

// errInactiveClient is errBadClient for a stored credential that is
// revoked or expired: callers tell it apart (errors.Is) to count the
// attempt in the credential's usage; clients see errBadClient's answer.
var errInactiveClient = &chave.Error{Code: chave.Unauthenticated, Message: errBadClient.Message, Err: errors.New("credential inactive")}

// matchSecret checks a secret against the credential's current one and,
// during a rotation's grace period, the one it replaced, and returns the
// version of the one it is and whether that is the current one. Both
// hashes are compared when both exist.
func (s *Service) matchSecret(ctx context.Context, secret secrets.ClientSecret, t chave.Token, now time.Time) (version string, current, ok bool, err error) {
	verify := func(version int, sum []byte) (bool, error) {
		ok, err := s.hasher.Verify(ctx, secret, secrets.SecretHash{Version: version, Sum: sum})
		if errors.Is(err, secrets.ErrUnknownKeyVersion) {
			// Hashed under a version this server does not hold: retired too
			// early, or a key file that lags the fleet's.
			s.log.ErrorContext(ctx, "client secret hashed under a server key version this server lacks", "token", t.ID, "version", version)
			return false, nil
		}
		return ok, err
	}
	cur, err := verify(t.SecretHashVersion, t.SecretHash)
	if err != nil {
		return "", false, false, fmt.Errorf("authenticate client: %w", err)
	}
	prev := false
	if t.PreviousSecretPending(now) {
		if prev, err = verify(max(t.PreviousSecretHashVersion, 1), t.PreviousSecretHash); err != nil {
			return "", false, false, fmt.Errorf("authenticate client: %w", err)
		}
	}
	switch {
	case cur:
		return secretVersionOf(t), true, true, nil
	case prev:
		return previousSecretVersionOf(t), false, true, nil
	}
	return "", false, false, nil
}

// previousSecretVersionOf is the secret version of the secret a rotation
// replaced (see secretVersionOf).
func previousSecretVersionOf(t chave.Token) string {
	if t.PreviousSecretVersion != "" {
		return t.PreviousSecretVersion
	}
	return secretVersion(t.PreviousSecretHash)
}

// liveSecretVersion reports whether tokens of the secret version v are
// still good at now: v is the credential's current version, or that of the
// secret a rotation replaced while its grace period lasts.
func liveSecretVersion(t chave.Token, v string, now time.Time) bool {
	if subtle.ConstantTimeCompare([]byte(v), []byte(secretVersionOf(t))) == 1 {
		return true
	}
	return t.PreviousSecretPending(now) && subtle.ConstantTimeCompare([]byte(v), []byte(previousSecretVersionOf(t))) == 1
}

// clientOf describes a credential's current access, as seen by a token of
// the secret version (current or previous) the client proved.
func (s *Service) clientOf(ctx context.Context, t chave.Token, version string) (Client, error) {
	var tenant chave.Tenant
	if !t.Operator {
		var err error
		if tenant, err = s.store.GetTenant(ctx, t.Tenant); err != nil {
			return Client{}, fmt.Errorf("load tenant of %s: %w", t.ID, err)
		}
	}
	return clientWith(t, tenant, version)
}

// clientWith is clientOf given the credential's tenant (the zero Tenant
// for the operator, which has none; for any other credential, a missing
// tenant, which GetClient reads as the zero Tenant, is NotFound).
func clientWith(t chave.Token, tenant chave.Tenant, version string) (Client, error) {
	client := Client{ID: t.ID, Tenant: t.Tenant, ExpireTime: t.ExpireTime, Operator: t.Operator,
		IssueRefreshTokens: t.IssueRefreshTokens, SecretVersion: version}
	if t.Operator {
		client.Scopes = []string{chave.ScopeRegistryAdmin, chave.ScopeTokenIntrospect}
		return client, nil
	}
	if tenant.ID == "" || tenant.ID != t.Tenant {
		return Client{}, fmt.Errorf("load tenant of %s: %w", t.ID, chave.Errorf(chave.NotFound, "tenant %q not found", t.Tenant))
	}
	client.Scopes = t.Scopes(tenant)
	client.policy = tenant.Policy
	return client, nil
}

// recordUse writes the last-use time at most once per lastUseGranularity
// per credential, so that grants stay reads.
func (s *Service) recordUse(ctx context.Context, id string, now time.Time) {
	s.mu.Lock()
	last, ok := s.lastUse[id]
	due := !ok || now.Sub(last) >= lastUseGranularity
	if due {
		s.lastUse[id] = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if err := s.store.TouchToken(ctx, id, now); err != nil {
		s.log.WarnContext(ctx, "recording last use failed", "token", id, "err", err)
		s.mu.Lock()
		if s.lastUse[id].Equal(now) {
			delete(s.lastUse, id) // the next use tries again
		}
		s.mu.Unlock()
	}
}

// Principal returns the caller behind an access token's client id, checked
// against the credential's current state: a revoked or expired credential,
// one that lost registry.admin, or one whose secret rotated since the
// token was issued (secretVersion, when the token carries one), is refused
// at once.
func (s *Service) Principal(ctx context.Context, clientID, tokenSecretVersion string) (Caller, error) {
	t, err := s.store.GetToken(ctx, clientID)
	if chave.IsCode(err, chave.NotFound) {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "unknown credential")
	} else if err != nil {
		return Caller{}, fmt.Errorf("load caller: %w", err)
	}
	if t.State(s.clock()) != chave.StateActive {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "the credential is no longer active")
	}
	if tokenSecretVersion != "" && !liveSecretVersion(t, tokenSecretVersion, s.clock()) {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "the credential's secret was rotated after the access token was issued")
	}
	if !t.Operator && !slices.Contains(t.Contexts, chave.ScopeRegistryAdmin) {
		return Caller{}, chave.Errorf(chave.PermissionDenied, "the credential lacks the %s scope", chave.ScopeRegistryAdmin)
	}
	return Caller{ClientID: t.ID, Tenant: t.Tenant, Operator: t.Operator}, nil
}

// Bootstrap creates an operator credential, which manages every tenant, and
// returns its client id and secret.
func (s *Service) Bootstrap(ctx context.Context) (string, secrets.ClientSecret, error) {
	id, err := secrets.NewClientID()
	if err != nil {
		return "", secrets.ClientSecret{}, err
	}
	secret, err := secrets.NewClientSecret()
	if err != nil {
		return "", secrets.ClientSecret{}, err
	}
	now := s.clock()
	t := chave.Token{
		ID: id, DisplayName: "Operator (bootstrap)", Operator: true,
		Contexts:   []string{chave.ScopeRegistryAdmin},
		CreateTime: now, Creator: "bootstrap",
	}
	if err := s.setSecret(ctx, &t, secret); err != nil {
		return "", secrets.ClientSecret{}, fmt.Errorf("bootstrap: %w", err)
	}
	ev := chave.Event{TokenID: id, Time: now, Actor: "bootstrap", Action: chave.ActionCreate, Fields: tokenFieldsSet(t)}
	if err := s.store.CreateToken(ctx, t, ev); err != nil {
		return "", secrets.ClientSecret{}, fmt.Errorf("bootstrap: %w", err)
	}
	s.log.InfoContext(ctx, "operator credential created", "token", id)
	return id, secret, nil
}

// HasOperator reports whether an active operator credential exists.
func (s *Service) HasOperator(ctx context.Context) (bool, error) {
	var after *storage.Cursor
	for {
		page, err := s.store.ListTokens(ctx, storage.TokenFilter{State: chave.StateActive, Now: s.clock(), Limit: MaxPageSize, After: after})
		if err != nil {
			return false, err
		}
		for _, t := range page.Tokens {
			if t.Operator {
				return true, nil
			}
		}
		if !page.More || len(page.Tokens) == 0 {
			return false, nil
		}
		last := page.Tokens[len(page.Tokens)-1]
		after = &storage.Cursor{CreateTime: last.CreateTime, ID: last.ID}
	}
}
