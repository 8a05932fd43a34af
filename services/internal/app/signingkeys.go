package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/revocation"
)

// OpenSigningKeyDB opens the database cfg.DB names and the signing keys it
// keeps, sealed under the key-encryption key of cfg (KeyEncryptionKey,
// else the secrets file's): what `chave keys` administers. The caller
// closes the store.
func OpenSigningKeyDB(ctx context.Context, cfg Config) (*signing.DB, storage.Store, error) {
	if err := checkDB(cfg.DB); err != nil {
		return nil, nil, err
	}
	kek, err := loadKEK(cfg.KeyEncryptionKey, cfg.keys(), cfg.DB)
	if err != nil {
		return nil, nil, err
	}
	store, err := OpenStore(ctx, cfg.DB)
	if err != nil {
		return nil, nil, err
	}
	db, err := signing.NewDB(store, kek)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return db, store, nil
}

// RevokeSigningKeys writes the entries of the signing keys an emergency
// rotation revoked into the shared revocation set of cfg.Redis, each kept
// horizon past its revocation, so that every verifier consulting the set
// refuses their tokens from now on. A set found lost is no failure: the
// entries are written, verifiers fail closed until the registry rebuilds
// it, and the rebuild reads the revoked keys from the database.
func RevokeSigningKeys(ctx context.Context, cfg Config, keys []chave.SigningKey, horizon time.Duration) error {
	if cfg.Redis == "" {
		return errors.New("--redis: no revocation set to write")
	}
	client, err := revocation.ParseURL(cfg.Redis)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	// A command, not a request path: it may wait for Redis longer than a
	// verifier would.
	set, err := revocation.NewRedis(client, revocation.Options{Timeout: revokeKeysTimeout})
	if err != nil {
		client.Close()
		return fmt.Errorf("--redis: %w", err)
	}
	defer set.Close()
	entries := make([]revocation.Entry, 0, len(keys))
	for _, k := range keys {
		entries = append(entries, registry.SigningKeyEntry(k, horizon))
	}
	for range revokeKeysAttempts {
		err = set.Revoke(ctx, entries...)
		if err == nil || errors.Is(err, revocation.ErrLost) {
			return nil
		}
		if !errors.Is(err, revocation.ErrUnavailable) || ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("writing the revoked signing keys into the revocation set: %w", err)
}

// How long, and how often, RevokeSigningKeys tries to reach Redis.
const (
	revokeKeysTimeout  = 5 * time.Second
	revokeKeysAttempts = 3
)
