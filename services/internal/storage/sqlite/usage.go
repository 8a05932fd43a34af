package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// AddTokenUsage adds each count to its credential's day in one transaction.
func (s *Store) AddTokenUsage(ctx context.Context, counts []chave.UsageCount) error {
	if len(counts) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return sqlstore.AddTokenUsage(execOn(ctx, tx), counts) })
	if err != nil {
		return fmt.Errorf("sqlite: add token usage: %w", err)
	}
	return nil
}

// ListTokenUsage returns a credential's days from since on, newest first.
func (s *Store) ListTokenUsage(ctx context.Context, tokenID string, since time.Time) ([]chave.UsageDay, error) {
	out, err := sqlstore.ListTokenUsage(queryOn(ctx, s.read), tokenID, since)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list token usage %s: %w", tokenID, err)
	}
	return out, nil
}

// PruneTokenUsage deletes every day before before.
func (s *Store) PruneTokenUsage(ctx context.Context, before time.Time) error {
	if _, err := s.write.ExecContext(ctx, sqlstore.PruneTokenUsageSQL, sqlstore.PruneUsageArgs(before)...); err != nil {
		return fmt.Errorf("sqlite: prune token usage: %w", err)
	}
	return nil
}

// CountExpiringTokens counts, per tenant, the tokens not revoked expiring
// in (after, before].
func (s *Store) CountExpiringTokens(ctx context.Context, after, before time.Time) (map[string]int, error) {
	out, err := sqlstore.CountExpiringTokens(queryOn(ctx, s.read), after, before)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count expiring tokens: %w", err)
	}
	return out, nil
}
