package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// ListRevocations returns the credentials revoked at or after since, and
// the revoked access tokens and refresh families that expire after now (or
// never), each ordered by id. The three queries run in one read-only
// transaction on the read pool, so they see one snapshot of the database.
func (s *Store) ListRevocations(ctx context.Context, since, now time.Time) (storage.Revocations, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storage.Revocations{}, fmt.Errorf("sqlite: list revocations: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	out, err := sqlstore.ListRevocations(queryOn(ctx, tx), since, now)
	if err != nil {
		return storage.Revocations{}, fmt.Errorf("sqlite: list revocations: %w", err)
	}
	return out, nil
}
