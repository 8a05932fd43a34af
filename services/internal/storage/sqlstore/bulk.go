package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
)

// NewToken is a token and its creation event, as CreateToken takes them.
type NewToken struct {
	Token chave.Token
	Event chave.Event
}

// CreateTokens inserts tokens with their creation events in one
// transaction: the rows CreateToken writes for each, in order, through its
// own two statements prepared once for the whole batch. Conflict (and
// nothing written) if an id exists or repeats.
//
// It is not part of storage.Store: it is the bench's bulk seeding path
// (chave-load seed), so that a registry of a million credentials takes
// seconds to build rather than the hours the API would. (Multi-row INSERTs
// are no faster: SQLite looks each $N placeholder up in a list as it
// compiles, quadratic in the row count.)
func (s *Store) CreateTokens(ctx context.Context, tokens []NewToken) error {
	if len(tokens) == 0 {
		return nil
	}
	// The statements run under a context that is never cancelled, with ctx
	// checked between rows instead: modernc's driver watches a cancellable
	// context with a goroutine per statement, a tenth of the batch's time.
	run := context.WithoutCancel(ctx)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.flavor.BulkTx != "" {
			if _, err := tx.ExecContext(ctx, s.flavor.BulkTx); err != nil {
				return fmt.Errorf("bulk settings: %w", err)
			}
		}
		insertToken, err := tx.PrepareContext(ctx, InsertTokenSQL)
		if err != nil {
			return err
		}
		defer insertToken.Close()
		insertEv, err := tx.PrepareContext(ctx, insertEventSQL)
		if err != nil {
			return err
		}
		defer insertEv.Close()
		for i, nt := range tokens {
			if i%1000 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			t := nt.Token
			if t.CreateTime.IsZero() {
				return fmt.Errorf("token %s: no create time", t.ID)
			}
			args, err := TokenArgs(t)
			if err != nil {
				return fmt.Errorf("token %s: %w", t.ID, err)
			}
			if _, err := insertToken.ExecContext(run, args...); err != nil {
				return s.conflict(err, "token", t.ID)
			}
			ev, err := eventArgs(t.ID, nt.Event)
			if err != nil {
				return fmt.Errorf("token %s: %w", t.ID, err)
			}
			if _, err := insertEv.ExecContext(run, ev...); err != nil {
				return fmt.Errorf("token %s: insert event: %w", t.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return s.fail(err, "create %d tokens", len(tokens))
	}
	return nil
}
