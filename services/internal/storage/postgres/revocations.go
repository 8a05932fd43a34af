package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
)

// ListRevocations returns the credentials revoked at or after since, and
// the revoked access tokens and refresh families that expire after now (or
// never), each ordered by id. The three queries run in one REPEATABLE READ,
// READ ONLY transaction, so they see one snapshot of the database; such a
// transaction is never aborted to resolve a conflict, so it is not retried.
func (s *Store) ListRevocations(ctx context.Context, since, now time.Time) (storage.Revocations, error) {
	var out storage.Revocations
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			out, err = sqlstore.ListRevocations(queryOn(ctx, tx), since, now)
			return err
		})
	if err != nil {
		return storage.Revocations{}, fmt.Errorf("postgres: list revocations: %w", classify(err))
	}
	return out, nil
}
