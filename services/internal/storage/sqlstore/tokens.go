package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// TokenColumns are the columns of the tokens table, in the order of
// scanToken and TokenArgs. A new column goes at the end, here and in both.
const TokenColumns = `id, tenant, display_name, description, general_access,
	contexts, parameters, secret_hash, operator, issue_refresh_tokens,
	create_time, expire_time, revoke_time, last_use_time, creator, revoker,
	previous_secret_hash, previous_secret_expire_time,
	previous_secret_hash_version, previous_secret_version,
	secret_hash_version, secret_version, version`

// scanToken reads a row of TokenColumns.
func scanToken(row Scanner) (chave.Token, error) {
	var (
		t                                chave.Token
		contexts, params                 string
		created, expire, revoke, lastUse sql.NullInt64
		previousExpire                   sql.NullInt64
	)
	err := row.Scan(&t.ID, &t.Tenant, &t.DisplayName, &t.Description, &t.GeneralAccess,
		&contexts, &params, &t.SecretHash, &t.Operator, &t.IssueRefreshTokens,
		&created, &expire, &revoke, &lastUse, &t.Creator, &t.Revoker,
		&t.PreviousSecretHash, &previousExpire,
		&t.PreviousSecretHashVersion, &t.PreviousSecretVersion,
		&t.SecretHashVersion, &t.SecretVersion, &t.Version)
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
	if len(t.PreviousSecretHash) == 0 {
		t.PreviousSecretHash = nil
	}
	t.PreviousSecretExpireTime = decodeTime(previousExpire)
	t.CreateTime = decodeTime(created)
	t.ExpireTime = decodeTime(expire)
	t.RevokeTime = decodeTime(revoke)
	t.LastUseTime = decodeTime(lastUse)
	return t, nil
}

// TokenArgs returns the values of TokenColumns, in order.
func TokenArgs(t chave.Token) ([]any, error) {
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
		encodeTime(t.LastUseTime), t.Creator, t.Revoker,
		encodeBytes(t.PreviousSecretHash), encodeTime(t.PreviousSecretExpireTime),
		t.PreviousSecretHashVersion, t.PreviousSecretVersion,
		t.SecretHashVersion, t.SecretVersion, t.Version}, nil
}

// Statements on tokens, derived from TokenColumns. selectTokenSQL and
// updateTokenSQL take the id as $1; InsertTokenSQL and updateTokenSQL take
// TokenArgs, and set the state column (migration 0004) from the revoke
// time with StateOfWrite: revoked, or live until a list marks it expired.
// touchTokenSQL takes the id and a last-use time in unix microseconds, and
// changes nothing unless that time is later than the one stored.
var (
	// StateOfWrite is the state a write of TokenArgs stores: revoked when it
	// has a revoke time, else live (a later list marks it expired).
	StateOfWrite = `CASE WHEN CAST(` + placeholderOf(TokenColumns, "revoke_time") +
		` AS BIGINT) IS NULL THEN 0 ELSE 2 END`

	InsertTokenSQL = `INSERT INTO tokens (` + TokenColumns + `, state)
		VALUES (` + placeholders(TokenColumns) + `, ` + StateOfWrite + `)`
	updateTokenSQL = `UPDATE tokens SET ` + assignments(TokenColumns) + `, state = ` + StateOfWrite + `
		WHERE id = $1 RETURNING ` + TokenColumns
)

const (
	selectTokenSQL = `SELECT ` + TokenColumns + ` FROM tokens WHERE id = $1`
	// selectTokenBySecretHashSQL finds a token by its secret's hash, or by
	// that of the secret a rotation replaced (indexes tokens_secret_hash and
	// tokens_previous_secret_hash, migration 0006; a hash is unique, so at
	// most one row matches).
	selectTokenBySecretHashSQL = `SELECT ` + TokenColumns + ` FROM tokens WHERE secret_hash = $1
		UNION ALL SELECT ` + TokenColumns + ` FROM tokens WHERE previous_secret_hash = $1 LIMIT 1`
	touchTokenSQL = `UPDATE tokens SET last_use_time = $2
		WHERE id = $1 AND (last_use_time IS NULL OR last_use_time < $2)`
	tokenExistsSQL = `SELECT 1 FROM tokens WHERE id = $1`
)

// CreateToken inserts a token and its creation event in one transaction;
// Conflict if the id exists. The event's TokenID is set to the token's.
func (s *Store) CreateToken(ctx context.Context, t chave.Token, ev chave.Event) error {
	if t.CreateTime.IsZero() {
		// The listing order needs it; a caller that omits it has a bug.
		return fmt.Errorf("%s: create token %s: no create time", s.flavor.Name, t.ID)
	}
	args, err := TokenArgs(t)
	if err != nil {
		return s.fail(err, "create token %s", t.ID)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, InsertTokenSQL, args...); err != nil {
			return s.conflict(err, "token", t.ID)
		}
		return insertEvent(execOn(ctx, tx), t.ID, ev)
	})
	if err != nil {
		return s.fail(err, "create token %s", t.ID)
	}
	return nil
}

// GetToken returns a token; NotFound if absent.
func (s *Store) GetToken(ctx context.Context, id string) (chave.Token, error) {
	t, err := scanToken(s.getToken.QueryRowContext(ctx, id))
	if err = notFound(err, "token", id); err != nil {
		return chave.Token{}, s.fail(err, "get token %s", id)
	}
	return t, nil
}

// GetTokenBySecretHash returns the token whose secret hashes to hash;
// NotFound if none does.
func (s *Store) GetTokenBySecretHash(ctx context.Context, hash []byte) (chave.Token, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, selectTokenBySecretHashSQL, hash))
	if err = notFound(err, "token", "with that secret"); err != nil {
		return chave.Token{}, s.fail(err, "get token by secret hash")
	}
	return t, nil
}

// ListTokens returns one page of tokens, newest first (by create time, then
// id, both descending), after f.After when set.
func (s *Store) ListTokens(ctx context.Context, f storage.TokenFilter) (storage.TokenPage, error) {
	if marksExpiry(f) {
		if err := s.markExpired(ctx, f.Now); err != nil {
			return storage.TokenPage{}, s.fail(err, "list tokens: mark expired tokens")
		}
	}
	page, err := listTokens(queryOn(ctx, s.read), f)
	if err != nil {
		return storage.TokenPage{}, s.fail(err, "list tokens")
	}
	return page, nil
}

// markExpired marks the live tokens expired by now, if there are any (see
// marksExpiry): a read as a rule (an empty range of tokens_state_expiry), a
// write only when some token has expired since the last list.
func (s *Store) markExpired(ctx context.Context, now time.Time) error {
	var found int
	switch err := s.read.QueryRowContext(ctx, expiredUnmarkedSQL, now.UnixMicro()).Scan(&found); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	_, err := s.exec(ctx, markExpiredSQL, now.UnixMicro())
	return err
}

// UpdateToken reads the token, locking it, applies update and writes the
// result, its Version one more than the one read, with the event update
// returns, in one transaction. An error from
// update aborts and is returned unchanged. The token's id and create time
// never change. update must not call the store (on SQLite the write
// connection is held), and may run more than once if the database aborts
// the transaction to resolve a conflict.
func (s *Store) UpdateToken(ctx context.Context, id string, update func(*chave.Token) (chave.Event, error)) (chave.Token, error) {
	var out chave.Token
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanToken(tx.QueryRowContext(ctx, selectTokenSQL+s.flavor.ForUpdate, id))
		if err != nil {
			return notFound(err, "token", id)
		}
		created, version := t.CreateTime, t.Version
		ev, err := update(&t)
		if err != nil {
			return &closureError{err}
		}
		// The version counts the changes, under the row's lock: the write
		// below stores the one read plus one, whatever update did.
		t.ID, t.CreateTime, t.Version = id, created, version+1
		args, err := TokenArgs(t)
		if err != nil {
			return err
		}
		if out, err = scanToken(tx.QueryRowContext(ctx, updateTokenSQL, args...)); err != nil {
			return err
		}
		return insertEvent(execOn(ctx, tx), id, ev)
	})
	if err != nil {
		return chave.Token{}, s.fail(err, "update token %s", id)
	}
	return out, nil
}

// TouchToken moves the token's last-use time forward to at; an earlier or
// equal time changes nothing. It writes no event. NotFound if absent.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if !at.IsZero() {
		res, err := s.exec(ctx, touchTokenSQL, id, at.UnixMicro())
		if err != nil {
			return s.fail(err, "touch token %s", id)
		}
		if n, err := res.RowsAffected(); err == nil && n > 0 {
			return nil
		}
	}
	// Nothing changed: either the token is absent or at is not newer.
	var one int
	if err := s.read.QueryRowContext(ctx, tokenExistsSQL, id).Scan(&one); err != nil {
		return s.fail(notFound(err, "token", id), "touch token %s", id)
	}
	return nil
}
