package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// AddTokenUsage adds each count to its credential's day in one transaction.
func (s *Store) AddTokenUsage(ctx context.Context, counts []chave.UsageCount) error {
	if len(counts) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error { return sqlstore.AddTokenUsage(execOn(ctx, tx), counts) })
	if err != nil {
		return fmt.Errorf("postgres: add token usage: %w", classify(err))
	}
	return nil
}

// ListTokenUsage returns a credential's days from since on, newest first.
func (s *Store) ListTokenUsage(ctx context.Context, tokenID string, since time.Time) ([]chave.UsageDay, error) {
	out, err := sqlstore.ListTokenUsage(queryOn(ctx, s.pool), tokenID, since)
	if err != nil {
		return nil, fmt.Errorf("postgres: list token usage %s: %w", tokenID, classify(err))
	}
	return out, nil
}

// PruneTokenUsage deletes every day before before.
func (s *Store) PruneTokenUsage(ctx context.Context, before time.Time) error {
	if _, err := s.exec(ctx, sqlstore.PruneTokenUsageSQL, sqlstore.PruneUsageArgs(before)...); err != nil {
		return fmt.Errorf("postgres: prune token usage: %w", classify(err))
	}
	return nil
}

// CountExpiringTokens counts, per tenant, the tokens not revoked expiring
// in (after, before].
func (s *Store) CountExpiringTokens(ctx context.Context, after, before time.Time) (map[string]int, error) {
	out, err := sqlstore.CountExpiringTokens(queryOn(ctx, s.pool), after, before)
	if err != nil {
		return nil, fmt.Errorf("postgres: count expiring tokens: %w", classify(err))
	}
	return out, nil
}
