package storage

import (
	"context"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// SigningKeyStore keeps the signing keys of the whole fleet and the leases
// that let one process at a time act for it (the scheduled rotation). It
// is the part of Store the auth service uses.
type SigningKeyStore interface {
	// ListSigningKeys returns every stored signing key, ordered by id, with
	// the version of the set, in one snapshot. An empty store has version 0
	// and no keys.
	ListSigningKeys(ctx context.Context) (SigningKeySet, error)
	// SigningKeysVersion returns the version of the set alone: what a
	// replica polls to notice a change. Every UpdateSigningKeys that writes
	// increments it.
	SigningKeysVersion(ctx context.Context) (int64, error)
	// UpdateSigningKeys reads the set, locking it against concurrent
	// updates, and passes it to update; if update returns a non-nil list,
	// that list replaces the stored keys and the version is incremented,
	// all in one transaction. It returns the set as stored at the end. An
	// error from update aborts with nothing written and is returned
	// unchanged; update may run more than once.
	UpdateSigningKeys(ctx context.Context, update func(SigningKeySet) ([]chave.SigningKey, error)) (SigningKeySet, error)

	// AcquireLease takes the lease name for holder until expire if nobody
	// holds it, its holder's expiry is at or before now, or holder holds it
	// already (a renewal), and reports whether holder holds it afterwards.
	AcquireLease(ctx context.Context, name, holder string, now, expire time.Time) (bool, error)
	// ReleaseLease gives the lease up if holder holds it; otherwise it
	// does nothing.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// SigningKeySet is the stored signing keys and the version of the set.
type SigningKeySet struct {
	Version int64
	Keys    []chave.SigningKey // ordered by id
}
