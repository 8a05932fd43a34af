// Package revocation holds the revocation set: what every verifier consults
// before it accepts an access token. The database stays the source of truth;
// a Set is the fast, shared copy of what it says about revocations that can
// still matter (see docs/spec.md §2.4).
//
// A set holds three kinds of entries:
//
//   - Credential: keyed by client id, valued by the revocation instant. A
//     token is revoked when its client_id has an entry and it was issued at
//     or before that instant (iat <= At). A revoked credential cannot get new
//     tokens, so the entry may be forgotten once every token it could have
//     issued has expired: At plus the access-token lifetime.
//   - AccessToken: keyed by jti; forgotten when the token expires.
//   - Family: keyed by refresh-family id; every access token whose sid names
//     the family is revoked; forgotten when the last access token the family
//     minted (by its revocation or its expiry) expires. Refresh tokens never
//     consult the set: the database refuses a revoked family's.
//   - SigningKey: keyed by kid; every access token the key signed is
//     revoked (an emergency rotation after a leak); forgotten when the
//     last token it signed expires.
//   - Changed: revokes nothing. Keyed by what changed (ChangedToken,
//     ChangedTenant), valued by its version after the change (Version):
//     what a cache of the database's rows (the registry's credential
//     cache) checks, with Versions, to learn that its copy is stale. The
//     writer keeps it as long as such a copy may live.
//
// The writer chooses each Until (the registry, with the verifiers' leeway
// added). Entries forget themselves at Until; nothing ever removes one
// earlier. The
// set only grows, so merging two views of it is always safe: writing an
// entry that exists keeps the later At and the later Until, and Rebuild adds
// the database's entries to whatever the set holds instead of replacing it
// (a revocation committed after the caller read the database may already be
// in the set, and dropping it would make a revoked token valid again).
//
// Every check fails closed: IsRevoked answers an error, never "not revoked",
// when it cannot tell. ErrUnavailable means the set could not be reached in
// time; ErrLost means the set is reachable but has lost its contents and
// must be rebuilt from the database before it can answer again.
//
// Callers keep the set and the database consistent by writing the database
// first and the set second, answering the revocation only after both
// succeeded, and writing the set again when a revocation is repeated (every
// revocation is idempotent), so that a failed Revoke is repaired by the
// retry. A Revoke that fails with ErrLost still writes its entries; the
// rebuild that follows keeps them.
package revocation

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind is the kind of thing an entry revokes.
type Kind int

// Kinds of entries.
const (
	Credential  Kind = iota + 1 // a credential: every token issued from it up to At
	AccessToken                 // one access token, by jti
	Family                      // a refresh-token family, and every access token minted from it
	SigningKey                  // a signing key, and every access token it signed
	Changed                     // a change to a stored row, by its version: revokes nothing
)

func (k Kind) String() string {
	switch k {
	case Credential:
		return "credential"
	case AccessToken:
		return "access_token"
	case Family:
		return "family"
	case SigningKey:
		return "signing_key"
	case Changed:
		return "changed"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Entry is one revocation.
type Entry struct {
	Kind Kind
	// ID is the client id (Credential), the jti (AccessToken), the family
	// id (Family), the kid (SigningKey) or what changed (Changed).
	ID string
	// At is the revocation instant. Only Credential entries compare it with
	// a token's iat; the others store it for the record (Changed: the
	// instant of the change).
	At time.Time
	// Version is a Changed entry's version after the change, > 0; writing
	// an entry that exists keeps the greater version. Other kinds leave it
	// zero.
	Version int64
	// Until is when the entry may be forgotten: no token it revokes is
	// still accepted after it. An entry whose Until has passed is ignored.
	Until time.Time
}

// Validate reports whether the entry can be stored.
func (e Entry) Validate() error {
	switch {
	case e.Kind < Credential || e.Kind > Changed:
		return fmt.Errorf("revocation: invalid entry kind %d", int(e.Kind))
	case e.Kind == Changed && e.Version <= 0:
		return fmt.Errorf("revocation: changed entry %q: version %d, want > 0", e.ID, e.Version)
	case e.ID == "":
		return fmt.Errorf("revocation: %s entry without an id", e.Kind)
	case e.At.Before(minTime) || e.At.After(maxTime):
		return fmt.Errorf("revocation: %s entry %q: revocation instant %s out of range", e.Kind, e.ID, e.At)
	case e.Until.IsZero():
		return fmt.Errorf("revocation: %s entry %q without an expiry", e.Kind, e.ID)
	}
	return nil
}

// The instants an entry's At may take: UnixNano is defined between them.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2200, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// Query describes an access token to check. Empty fields are not looked up.
type Query struct {
	ClientID string    // client_id
	IssuedAt time.Time // iat; the zero time counts as issued before any revocation
	TokenID  string    // jti
	FamilyID string    // sid: the refresh family the token was minted from
	KeyID    string    // kid: the key that signed the token
}

// Set is a revocation set.
type Set interface {
	// Revoke adds entries; when it returns nil they are in the set and every
	// later IsRevoked sees them. Entries whose Until has passed are skipped.
	// On a lost set it still writes the entries and returns ErrLost.
	Revoke(ctx context.Context, entries ...Entry) error
	// IsRevoked reports whether any entry revokes the token, in at most one
	// round trip to the set's store. Any error means the answer is unknown
	// and the token must be refused: it wraps ErrUnavailable or ErrLost.
	IsRevoked(ctx context.Context, q Query) (bool, error)
	// Rebuild adds every entry of the database's view to the set and then
	// marks the set whole again, so that IsRevoked answers once more after
	// a loss. It returns ErrLost if the set was lost again while it ran;
	// the caller reads the database again and retries.
	Rebuild(ctx context.Context, all []Entry) error
	// Healthy returns nil when the set is reachable and not lost.
	Healthy(ctx context.Context) error
	// Versions answers, in one round trip, the set's current generation
	// and the version of the Changed entry under each of ids (0 where
	// there is none), in versions, which has len(ids). The generation
	// changes whenever the set may have lost entries and was rebuilt (every
	// Rebuild), so that a copy stamped with an older generation cannot
	// trust the absence of an entry. Errors as IsRevoked's: ErrLost while
	// the set is lost, ErrUnavailable when it cannot tell.
	Versions(ctx context.Context, ids []string, versions []int64) (Generation, error)
	// Size returns the number of live entries, for metrics.
	Size(ctx context.Context) (int64, error)
	// Close releases the set's resources.
	Close() error
}

// Generation names one life of a set's contents: a set that may have lost
// entries answers another one once rebuilt.
type Generation string

// ChangedToken and ChangedTenant are the IDs of the Changed entries of a
// credential (by client id) and of a tenant.
func ChangedToken(clientID string) string { return "t:" + clientID }

// ChangedTenant: see ChangedToken.
func ChangedTenant(tenantID string) string { return "n:" + tenantID }

var (
	// ErrUnavailable: the set's store could not be reached, or did not
	// answer in time.
	ErrUnavailable = errors.New("revocation set unavailable")
	// ErrLost: the set's store lost its contents (a flush, a restart
	// without persistence, a failover to an empty replica). The set answers
	// nothing until Rebuild completes.
	ErrLost = errors.New("revocation set lost; rebuild it from the database")
)

// validate checks every entry before a set writes any of them.
func validate(entries []Entry) error {
	for _, e := range entries {
		if err := e.Validate(); err != nil {
			return err
		}
	}
	return nil
}
