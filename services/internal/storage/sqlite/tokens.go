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

// CreateToken inserts a token and its creation event in one transaction;
// Conflict if the id exists. The event's TokenID is set to the token's.
func (s *Store) CreateToken(ctx context.Context, t chave.Token, ev chave.Event) error {
	if t.CreateTime.IsZero() {
		// The listing order needs it; a caller that omits it has a bug.
		return fmt.Errorf("sqlite: create token %s: no create time", t.ID)
	}
	args, err := sqlstore.TokenArgs(t)
	if err != nil {
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, sqlstore.InsertTokenSQL, args...); err != nil {
			return conflict(err, "token", t.ID)
		}
		return sqlstore.InsertEvent(execOn(ctx, tx), t.ID, ev)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, err)
	}
	return nil
}

// GetToken returns a token; NotFound if absent.
func (s *Store) GetToken(ctx context.Context, id string) (chave.Token, error) {
	t, err := sqlstore.ScanToken(s.getToken.QueryRowContext(ctx, id))
	if err = notFound(err, "token", id); err != nil {
		return chave.Token{}, fmt.Errorf("sqlite: get token %s: %w", id, err)
	}
	return t, nil
}

// GetTokenBySecretHash returns the token whose secret hashes to hash;
// NotFound if none does.
func (s *Store) GetTokenBySecretHash(ctx context.Context, hash []byte) (chave.Token, error) {
	t, err := sqlstore.ScanToken(s.read.QueryRowContext(ctx, sqlstore.SelectTokenBySecretHashSQL, hash))
	if err = notFound(err, "token", "with that secret"); err != nil {
		return chave.Token{}, fmt.Errorf("sqlite: get token by secret hash: %w", err)
	}
	return t, nil
}

func getToken(ctx context.Context, q querier, id string) (chave.Token, error) {
	t, err := sqlstore.ScanToken(q.QueryRowContext(ctx, sqlstore.SelectTokenSQL, id))
	return t, notFound(err, "token", id)
}

// ListTokens returns one page of tokens, newest first (by create time, then
// id, both descending), after f.After when set.
func (s *Store) ListTokens(ctx context.Context, f storage.TokenFilter) (storage.TokenPage, error) {
	if sqlstore.MarksExpiry(f) {
		if err := s.markExpired(ctx, f.Now); err != nil {
			return storage.TokenPage{}, fmt.Errorf("sqlite: list tokens: mark expired tokens: %w", err)
		}
	}
	page, err := sqlstore.ListTokens(queryOn(ctx, s.read), f)
	if err != nil {
		return storage.TokenPage{}, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return page, nil
}

// markExpired marks the live tokens expired by now, if there are any (see
// sqlstore.MarksExpiry): a read of the read connection as a rule, a write
// transaction only when some token has expired since the last list.
func (s *Store) markExpired(ctx context.Context, now time.Time) error {
	var found int
	switch err := s.read.QueryRowContext(ctx, sqlstore.ExpiredUnmarkedSQL, now.UnixMicro()).Scan(&found); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, sqlstore.MarkExpiredSQL, now.UnixMicro())
		return err
	})
}

// UpdateToken reads the token, applies update and writes the result with
// the event update returns, in one transaction. An error from update aborts
// and is returned unchanged. The token's id and create time never change.
// update must not call the store: the write connection is held.
func (s *Store) UpdateToken(ctx context.Context, id string, update func(*chave.Token) (chave.Event, error)) (chave.Token, error) {
	var out chave.Token
	var updateErr error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := getToken(ctx, tx, id)
		if err != nil {
			return err
		}
		created := t.CreateTime
		var ev chave.Event
		if ev, updateErr = update(&t); updateErr != nil {
			return updateErr
		}
		t.ID, t.CreateTime = id, created
		args, err := sqlstore.TokenArgs(t)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlstore.UpdateTokenSQL, args...); err != nil {
			return err
		}
		if err := sqlstore.InsertEvent(execOn(ctx, tx), id, ev); err != nil {
			return err
		}
		out, err = getToken(ctx, tx, id)
		return err
	})
	if updateErr != nil {
		return chave.Token{}, updateErr
	}
	if err != nil {
		return chave.Token{}, fmt.Errorf("sqlite: update token %s: %w", id, err)
	}
	return out, nil
}

// TouchToken moves the token's last-use time forward to at; an earlier or
// equal time changes nothing. It writes no event. NotFound if absent.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if !at.IsZero() {
		res, err := s.write.ExecContext(ctx, sqlstore.TouchTokenSQL, id, at.UnixMicro())
		if err != nil {
			return fmt.Errorf("sqlite: touch token %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err == nil && n > 0 {
			return nil
		}
	}
	// Nothing changed: either the token is absent or at is not newer.
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE id = $1`, id).Scan(&one)
	if err != nil {
		return fmt.Errorf("sqlite: touch token %s: %w", id, notFound(err, "token", id))
	}
	return nil
}
