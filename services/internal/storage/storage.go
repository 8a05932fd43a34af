// Package storage defines the contract every storage backend (SQLite,
// PostgreSQL) fulfils. The conformance suite in storage/conformance checks
// it; each backend runs that suite in a short test file.
//
// Backends store what they are given: secrets arrive already hashed and
// secret parameters already encrypted. Errors carry chave codes: NotFound
// for a missing row, Conflict for a duplicate id.
//
// Every backend reads back times in UTC (microsecond precision), empty
// lists, maps and hashes as nil, and events in the order they were written.
// A token needs a create time. Update closures run inside the backend's
// transaction and must not call the Store.
package storage

import (
	"context"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// Store is the persistent state of the registry.
type Store interface {
	// CreateTenant inserts a tenant; Conflict if the id exists.
	CreateTenant(ctx context.Context, t chave.Tenant) error
	// GetTenant returns a tenant; NotFound if absent.
	GetTenant(ctx context.Context, id string) (chave.Tenant, error)
	// ListTenants returns every tenant ordered by id.
	ListTenants(ctx context.Context) ([]chave.Tenant, error)
	// UpdateTenant reads the tenant, applies update and writes the result,
	// all in one transaction. An error from update aborts and is returned
	// unchanged.
	UpdateTenant(ctx context.Context, id string, update func(*chave.Tenant) error) (chave.Tenant, error)

	// CreateToken inserts a token and its creation event in one
	// transaction; Conflict if the id exists.
	CreateToken(ctx context.Context, t chave.Token, ev chave.Event) error
	// GetToken returns a token; NotFound if absent.
	GetToken(ctx context.Context, id string) (chave.Token, error)
	// GetClient returns a token with its tenant in one read, for a grant:
	// the token's Parameters are not read (nil); the tenant is the zero
	// Tenant when the token has none (the operator) or its tenant does not
	// exist. NotFound if the token is absent.
	GetClient(ctx context.Context, id string) (chave.Token, chave.Tenant, error)
	// GetTokenBySecretHash returns the token whose secret hashes to hash
	// (what a leak report looks up); NotFound if none does.
	GetTokenBySecretHash(ctx context.Context, hash []byte) (chave.Token, error)
	// ListTokens returns one page of tokens, newest first (by create time,
	// then id, both descending).
	ListTokens(ctx context.Context, f TokenFilter) (TokenPage, error)
	// UpdateToken reads the token, applies update and writes the result
	// together with the event update returns, all in one transaction, so
	// concurrent updates never lose one another. An error from update aborts
	// and is returned unchanged. The token's id and create time never change.
	UpdateToken(ctx context.Context, id string, update func(*chave.Token) (chave.Event, error)) (chave.Token, error)
	// ListTokenEvents returns a token's audit trail, oldest first; NotFound
	// if the token is absent.
	ListTokenEvents(ctx context.Context, tokenID string) ([]chave.Event, error)
	// TouchToken records a use of the token, moving its last-use time
	// forward only. It writes no event. NotFound if absent.
	TouchToken(ctx context.Context, id string, at time.Time) error

	// GetRefreshFamily returns a family; NotFound if it was never used or
	// revoked.
	GetRefreshFamily(ctx context.Context, id string) (chave.RefreshFamily, error)
	// UpdateRefreshFamily reads the family, or starts from init when it does
	// not exist, applies update and writes the result, all in one
	// transaction, so that concurrent uses of one generation serialise. An
	// error from update aborts with nothing written and is returned
	// unchanged. The family's id and client id never change.
	UpdateRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, update func(*chave.RefreshFamily) error) (chave.RefreshFamily, error)
	// AdvanceRefreshFamily is the common case of UpdateRefreshFamily, in
	// one write: it moves the family from generation gen to gen+1 and
	// returns true when the family is at gen, not revoked and
	// init.ClientID's, creating it from init at generation 1 when gen is 0
	// and it does not exist. Of concurrent advances of one generation
	// exactly one succeeds. Otherwise (another generation, revoked, another
	// client's, absent at gen > 0) it writes nothing and returns false. It
	// returns no family: a refresh grant needs only to know that it won,
	// and reading the row back cost the advance two thirds of its CPU.
	// With a context already ended it fails with the context's error and
	// writes nothing.
	AdvanceRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, gen int64) (bool, error)
	// RevokeAccessToken records an access token's revocation. Revoking a
	// revoked token keeps the first record.
	RevokeAccessToken(ctx context.Context, r chave.RevokedAccessToken) error
	// IsAccessTokenRevoked reports whether the jti was revoked.
	IsAccessTokenRevoked(ctx context.Context, id string) (bool, error)

	// ListRevocations returns every revocation that can still matter at
	// now: credentials and signing keys revoked at or after since (older
	// ones can no longer have live tokens), and access tokens and refresh
	// families revoked whose expiry is after now. It is what rebuilds a
	// revocation set.
	ListRevocations(ctx context.Context, since, now time.Time) (Revocations, error)

	// AddTokenUsage adds each count to its credential's day, creating the
	// day when it has none, all in one transaction (what a flush of the
	// registry's in-memory usage counters writes).
	AddTokenUsage(ctx context.Context, counts []chave.UsageCount) error
	// ListTokenUsage returns a credential's days from since on (inclusive),
	// newest first; none is an empty list, also for an unknown token.
	ListTokenUsage(ctx context.Context, tokenID string, since time.Time) ([]chave.UsageDay, error)
	// PruneTokenUsage deletes every day before before.
	PruneTokenUsage(ctx context.Context, before time.Time) error
	// CountExpiringTokens counts, per tenant, the tokens not revoked whose
	// expire time is after after and at or before before. Tenants without
	// one are absent; the operator credential counts under "".
	CountExpiringTokens(ctx context.Context, after, before time.Time) (map[string]int, error)

	// SigningKeyStore keeps the signing keys and the fleet's leases.
	SigningKeyStore

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// TokenFilter selects a page of tokens.
type TokenFilter struct {
	Tenant string      // empty: every tenant
	State  chave.State // StateUnspecified: every state
	Now    time.Time   // the instant states are derived at
	Limit  int         // page size, > 0
	// ExpireBefore, when set, keeps only tokens with an expire time before
	// it.
	ExpireBefore time.Time
	// UnusedSince, when set, keeps only tokens not used since it: last used
	// before it, or never used and created before it.
	UnusedSince time.Time
	// After continues a listing after this position (exclusive); nil starts
	// at the newest token.
	After *Cursor
}

// Cursor is a position in the newest-first token order.
type Cursor struct {
	CreateTime time.Time
	ID         string
}

// TokenPage is one page of a listing.
type TokenPage struct {
	Tokens []chave.Token
	// More reports whether tokens follow the last one of this page.
	More bool
}

// Revocations is the database's view of what a revocation set must hold.
type Revocations struct {
	Credentials  []chave.Token // revoked credentials (RevokeTime set)
	AccessTokens []chave.RevokedAccessToken
	Families     []chave.RefreshFamily // revoked families
	// SigningKeys are the signing keys revoked (RevokeTime set) at or
	// after since: the tokens they signed are refused by kid.
	SigningKeys []chave.SigningKey
}
