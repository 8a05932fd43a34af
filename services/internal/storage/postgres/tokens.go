package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const tokenColumns = `id, tenant, display_name, description, general_access,
	contexts, parameters, secret_hash, operator, issue_refresh_tokens,
	create_time, expire_time, revoke_time, last_use_time, creator, revoker`

const tokenPlaceholders = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16`

func scanToken(row pgx.Row) (chave.Token, error) {
	var (
		t                                chave.Token
		contexts, params                 string
		created, expire, revoke, lastUse pgtype.Int8
	)
	err := row.Scan(&t.ID, &t.Tenant, &t.DisplayName, &t.Description, &t.GeneralAccess,
		&contexts, &params, &t.SecretHash, &t.Operator, &t.IssueRefreshTokens,
		&created, &expire, &revoke, &lastUse, &t.Creator, &t.Revoker)
	if err != nil {
		return chave.Token{}, err
	}
	if t.Contexts, err = decodeStrings(contexts); err != nil {
		return chave.Token{}, fmt.Errorf("token %s: contexts: %w", t.ID, err)
	}
	if t.Parameters, err = decodeParameters(params); err != nil {
		return chave.Token{}, fmt.Errorf("token %s: parameters: %w", t.ID, err)
	}
	if len(t.SecretHash) == 0 {
		t.SecretHash = nil
	}
	t.CreateTime = decodeTime(created)
	t.ExpireTime = decodeTime(expire)
	t.RevokeTime = decodeTime(revoke)
	t.LastUseTime = decodeTime(lastUse)
	return t, nil
}

// tokenArgs returns the values of tokenColumns, in order.
func tokenArgs(t chave.Token) ([]any, error) {
	contexts, err := encodeStrings(t.Contexts)
	if err != nil {
		return nil, fmt.Errorf("contexts: %w", err)
	}
	params, err := encodeParameters(t.Parameters)
	if err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	return []any{t.ID, t.Tenant, t.DisplayName, t.Description, t.GeneralAccess,
		contexts, params, encodeBytes(t.SecretHash), t.Operator, t.IssueRefreshTokens,
		encodeTime(t.CreateTime), encodeTime(t.ExpireTime), encodeTime(t.RevokeTime),
		encodeTime(t.LastUseTime), t.Creator, t.Revoker}, nil
}

// CreateToken inserts a token and its creation event in one transaction;
// Conflict if the id exists. The event's TokenID is set to the token's.
func (s *Store) CreateToken(ctx context.Context, t chave.Token, ev chave.Event) error {
	if t.CreateTime.IsZero() {
		// The listing order needs it; a caller that omits it has a bug.
		return fmt.Errorf("postgres: create token %s: no create time", t.ID)
	}
	args, err := tokenArgs(t)
	if err != nil {
		return fmt.Errorf("postgres: create token %s: %w", t.ID, err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (`+tokenPlaceholders+`)`, args...)
		if err != nil {
			return conflict(err, "token", t.ID)
		}
		return insertEvent(ctx, tx, t.ID, ev)
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

// getToken reads a token, locking its row until the end of the transaction
// if forUpdate.
func getToken(ctx context.Context, q querier, id string, forUpdate bool) (chave.Token, error) {
	query := `SELECT ` + tokenColumns + ` FROM tokens WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	t, err := scanToken(q.QueryRow(ctx, query, id))
	return t, notFound(err, "token", id)
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
		args, err := tokenArgs(t)
		if err != nil {
			return err
		}
		out, err = scanToken(tx.QueryRow(ctx, `UPDATE tokens SET
			tenant = $2, display_name = $3, description = $4, general_access = $5,
			contexts = $6, parameters = $7, secret_hash = $8, operator = $9,
			issue_refresh_tokens = $10, create_time = $11, expire_time = $12,
			revoke_time = $13, last_use_time = $14, creator = $15, revoker = $16
			WHERE id = $1
			RETURNING `+tokenColumns, args...))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, id, ev)
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
		tag, err := s.exec(ctx, `UPDATE tokens SET last_use_time = $2
			WHERE id = $1 AND (last_use_time IS NULL OR last_use_time < $2)`,
			id, at.UnixMicro())
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
