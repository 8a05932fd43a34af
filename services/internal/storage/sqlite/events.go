package sqlite

import (
	"context"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// ListTokenEvents returns a token's audit trail, oldest first (in the order
// the events were written); NotFound if the token is absent.
func (s *Store) ListTokenEvents(ctx context.Context, tokenID string) ([]chave.Event, error) {
	out, err := sqlstore.ListTokenEvents(queryOn(ctx, s.read), tokenID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events of token %s: %w", tokenID, err)
	}
	return out, nil
}
