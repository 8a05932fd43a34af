package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
)

// CreateToken inserts a token and its creation event in one transaction;
// Conflict if the id exists. The event's TokenID is set to the token's.
func (s *Store) CreateToken(ctx context.Context, t chave.Token, ev chave.Event) error {
	if t.CreateTime.IsZero() {
		// The listing order needs it; a caller that omits it has a bug.
		return fmt.Errorf("postgres: create token %s: no create time", t.ID)
	}
	args, err := sqlstore.TokenArgs(t)
	if err != nil {
		return fmt.Errorf("postgres: create token %s: %w", t.ID, err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlstore.InsertTokenSQL, args...); err != nil {
			return conflict(err, "token", t.ID)
		}
		return sqlstore.InsertEvent(execOn(ctx, tx), t.ID, ev)
	})
	if err != nil {
		return fmt.Errorf("postgres: create token %s: %w", t.ID, classify(err))
	}
	return nil
}

// GetToken returns a token; NotFound if absent.
func (s *Store) GetToken(ctx context.Context, id string) (chave.Token, error) {
	t, err := getToken(ctx, s.pool, id, false)
	if err != nil {
		return chave.Token{}, fmt.Errorf("postgres: get token %s: %w", id, classify(err))
	}
	return t, nil
}

// GetTokenBySecretHash returns the token whose secret hashes to hash;
// NotFound if none does.
func (s *Store) GetTokenBySecretHash(ctx context.Context, hash []byte) (chave.Token, error) {
	t, err := sqlstore.ScanToken(s.pool.QueryRow(ctx, sqlstore.SelectTokenBySecretHashSQL, hash))
	if err = notFound(err, "token", "with that secret"); err != nil {
		return chave.Token{}, fmt.Errorf("postgres: get token by secret hash: %w", classify(err))
	}
	return t, nil
}

// getToken reads a token, locking its row until the end of the transaction
// if forUpdate.
func getToken(ctx context.Context, q querier, id string, forUpdate bool) (chave.Token, error) {
	stmt := sqlstore.SelectTokenSQL
	if forUpdate {
		stmt += ` FOR UPDATE`
	}
	t, err := sqlstore.ScanToken(q.QueryRow(ctx, stmt, id))
	return t, notFound(err, "token", id)
}

// ListTokens returns one page of tokens, newest first (by create time, then
// id, both descending), after f.After when set.
func (s *Store) ListTokens(ctx context.Context, f storage.TokenFilter) (storage.TokenPage, error) {
	if sqlstore.MarksExpiry(f) {
		// As a rule an empty range of tokens_state_expiry, no row written.
		if _, err := s.exec(ctx, sqlstore.MarkExpiredSQL, f.Now.UnixMicro()); err != nil {
			return storage.TokenPage{}, fmt.Errorf("postgres: list tokens: mark expired tokens: %w", classify(err))
		}
	}
	page, err := sqlstore.ListTokens(queryOn(ctx, s.pool), f)
	if err != nil {
		return storage.TokenPage{}, fmt.Errorf("postgres: list tokens: %w", classify(err))
	}
	return page, nil
}

// UpdateToken reads the token, locking it, applies update and writes the
// result with the event update returns, in one transaction. An error from
// update aborts and is returned unchanged. The token's id and create time
// never change. update may run more than once if PostgreSQL aborts the
// transaction to resolve a conflict.
func (s *Store) UpdateToken(ctx context.Context, id string, update func(*chave.Token) (chave.Event, error)) (chave.Token, error) {
	var out chave.Token
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := getToken(ctx, tx, id, true)
		if err != nil {
			return err
		}
		created := t.CreateTime
		ev, err := update(&t)
		if err != nil {
			return &closureError{err}
		}
		t.ID, t.CreateTime = id, created
		args, err := sqlstore.TokenArgs(t)
		if err != nil {
			return err
		}
		out, err = sqlstore.ScanToken(tx.QueryRow(ctx,
			sqlstore.UpdateTokenSQL+` RETURNING `+sqlstore.TokenColumns, args...))
		if err != nil {
			return err
		}
		return sqlstore.InsertEvent(execOn(ctx, tx), id, ev)
	})
	if err, ok := closureErr(err); ok {
		return chave.Token{}, err
	}
	if err != nil {
		return chave.Token{}, fmt.Errorf("postgres: update token %s: %w", id, classify(err))
	}
	return out, nil
}

// TouchToken moves the token's last-use time forward to at; an earlier or
// equal time changes nothing. It writes no event. NotFound if absent.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if !at.IsZero() {
		tag, err := s.exec(ctx, sqlstore.TouchTokenSQL, id, at.UnixMicro())
		if err != nil {
			return fmt.Errorf("postgres: touch token %s: %w", id, classify(err))
		}
		if tag.RowsAffected() > 0 {
			return nil
		}
	}
	// Nothing changed: either the token is absent or at is not newer.
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tokens WHERE id = $1)`, id).Scan(&exists)
	if err == nil && !exists {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return fmt.Errorf("postgres: touch token %s: %w", id, classify(notFound(err, "token", id)))
	}
	return nil
}
