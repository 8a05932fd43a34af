package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
)

// ListSigningKeys returns the signing keys and the set's version, read in
// one REPEATABLE READ, READ ONLY transaction.
func (s *Store) ListSigningKeys(ctx context.Context) (storage.SigningKeySet, error) {
	var out storage.SigningKeySet
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			out, err = sqlstore.ListSigningKeys(queryOn(ctx, tx), sqlstore.SigningKeysVersionSQL)
			return err
		})
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("postgres: list signing keys: %w", classify(err))
	}
	return out, nil
}

// SigningKeysVersion returns the version of the signing-key set.
func (s *Store) SigningKeysVersion(ctx context.Context) (int64, error) {
	v, err := sqlstore.SigningKeysVersion(queryOn(ctx, s.pool), sqlstore.SigningKeysVersionSQL)
	if err != nil {
		return 0, fmt.Errorf("postgres: signing keys version: %w", classify(err))
	}
	return v, nil
}

// UpdateSigningKeys runs update in a transaction that locks the set's
// version row (SELECT … FOR UPDATE), so that concurrent updates queue up.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func(storage.SigningKeySet) ([]chave.SigningKey, error)) (storage.SigningKeySet, error) {
	var out storage.SigningKeySet
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = sqlstore.UpdateSigningKeys(queryOn(ctx, tx), execOn(ctx, tx), sqlstore.SigningKeysVersionSQL+` FOR UPDATE`, update)
		if ue, ok := errors.AsType[*sqlstore.UpdateError](err); ok {
			return &closureError{ue.Err}
		}
		return err
	})
	if err, ok := closureErr(err); ok {
		return storage.SigningKeySet{}, err
	}
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("postgres: update signing keys: %w", classify(conflict(err, "signing key", "")))
	}
	return out, nil
}

// AcquireLease takes or renews the lease in one statement.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now, expire time.Time) (bool, error) {
	var ok bool
	err := s.retry.do(ctx, func() error {
		var err error
		ok, err = sqlstore.AcquireLease(queryOn(ctx, s.pool), name, holder, now, expire)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: acquire lease %s: %w", name, classify(err))
	}
	return ok, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.exec(ctx, sqlstore.ReleaseLeaseSQL, name, holder); err != nil {
		return fmt.Errorf("postgres: release lease %s: %w", name, classify(err))
	}
	return nil
}
