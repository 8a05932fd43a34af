package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// ListSigningKeys returns the signing keys and the set's version, read in
// one read-only transaction.
func (s *Store) ListSigningKeys(ctx context.Context) (storage.SigningKeySet, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("sqlite: list signing keys: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	out, err := sqlstore.ListSigningKeys(queryOn(ctx, tx), sqlstore.SigningKeysVersionSQL)
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	return out, nil
}

// SigningKeysVersion returns the version of the signing-key set.
func (s *Store) SigningKeysVersion(ctx context.Context) (int64, error) {
	v, err := sqlstore.SigningKeysVersion(queryOn(ctx, s.read), sqlstore.SigningKeysVersionSQL)
	if err != nil {
		return 0, fmt.Errorf("sqlite: signing keys version: %w", err)
	}
	return v, nil
}

// UpdateSigningKeys runs update in a write transaction, which holds
// SQLite's write lock from its first read.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func(storage.SigningKeySet) ([]chave.SigningKey, error)) (storage.SigningKeySet, error) {
	var out storage.SigningKeySet
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = sqlstore.UpdateSigningKeys(queryOn(ctx, tx), execOn(ctx, tx), sqlstore.SigningKeysVersionSQL, update)
		return err
	})
	if ue, ok := errors.AsType[*sqlstore.UpdateError](err); ok {
		return storage.SigningKeySet{}, ue.Err
	}
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("sqlite: update signing keys: %w", conflict(err, "signing key", ""))
	}
	return out, nil
}

// AcquireLease takes or renews the lease in one statement on the write
// connection.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now, expire time.Time) (bool, error) {
	ok, err := sqlstore.AcquireLease(queryOn(ctx, s.write), name, holder, now, expire)
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, err)
	}
	return ok, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.write.ExecContext(ctx, sqlstore.ReleaseLeaseSQL, name, holder); err != nil {
		return fmt.Errorf("sqlite: release lease %s: %w", name, err)
	}
	return nil
}
