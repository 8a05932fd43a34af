package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

const tokenColumns = `id, tenant, display_name, description, general_access,
	contexts, parameters, secret_hash, operator, issue_refresh_tokens,
	create_time, expire_time, revoke_time, last_use_time, creator, revoker`

const tokenPlaceholders = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16`

func scanToken(row scanner) (chave.Token, error) {
	var (
		t                                chave.Token
		contexts, params                 string
		created, expire, revoke, lastUse sql.NullInt64
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
		return fmt.Errorf("sqlite: create token %s: no create time", t.ID)
	}
	args, err := tokenArgs(t)
	if err != nil {
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO tokens (`+tokenColumns+`) VALUES (`+tokenPlaceholders+`)`, args...)
		if err != nil {
			return conflict(err, "token", t.ID)
		}
		return insertEvent(ctx, tx, t.ID, ev)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, err)
	}
	return nil
}

// GetToken returns a token; NotFound if absent.
func (s *Store) GetToken(ctx context.Context, id string) (chave.Token, error) {
	t, err := getToken(ctx, s.read, id)
	if err != nil {
		return chave.Token{}, fmt.Errorf("sqlite: get token %s: %w", id, err)
	}
	return t, nil
}

func getToken(ctx context.Context, q querier, id string) (chave.Token, error) {
	row := q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id)
	t, err := scanToken(row)
	return t, notFound(err, "token", id)
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
		if err := writeToken(ctx, tx, t); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, id, ev); err != nil {
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

func writeToken(ctx context.Context, tx *sql.Tx, t chave.Token) error {
	args, err := tokenArgs(t)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE tokens SET
		tenant = $2, display_name = $3, description = $4, general_access = $5,
		contexts = $6, parameters = $7, secret_hash = $8, operator = $9,
		issue_refresh_tokens = $10, create_time = $11, expire_time = $12,
		revoke_time = $13, last_use_time = $14, creator = $15, revoker = $16
		WHERE id = $1`, args...)
	return err
}

// TouchToken moves the token's last-use time forward to at; an earlier or
// equal time changes nothing. It writes no event. NotFound if absent.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if !at.IsZero() {
		res, err := s.write.ExecContext(ctx, `UPDATE tokens SET last_use_time = $2
			WHERE id = $1 AND (last_use_time IS NULL OR last_use_time < $2)`,
			id, at.UnixMicro())
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
