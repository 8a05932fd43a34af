package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
)

// TokenColumns are the columns of the tokens table, in the order of
// ScanToken and TokenArgs.
const TokenColumns = `id, tenant, display_name, description, general_access,
	contexts, parameters, secret_hash, operator, issue_refresh_tokens,
	create_time, expire_time, revoke_time, last_use_time, creator, revoker,
	previous_secret_hash, previous_secret_expire_time`

// Statements on tokens. SelectTokenSQL and UpdateTokenSQL take the id as
// $1; InsertTokenSQL and UpdateTokenSQL take TokenArgs. TouchTokenSQL takes
// the id and a last-use time in unix microseconds, and changes nothing
// unless that time is later than the one stored.
//
// Both writes set the state column (migration 0004) from the revoke time:
// revoked, or live until a list marks it expired.
const (
	InsertTokenSQL = `INSERT INTO tokens (` + TokenColumns + `, state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, ` + StateOfWrite + `)`
	SelectTokenSQL = `SELECT ` + TokenColumns + ` FROM tokens WHERE id = $1`
	// SelectTokenBySecretHashSQL finds a token by its secret's hash, or
	// by that of the secret a rotation replaced (indexes
	// tokens_secret_hash and tokens_previous_secret_hash; a hash is
	// unique, so at most one row matches).
	SelectTokenBySecretHashSQL = `SELECT ` + TokenColumns + ` FROM tokens WHERE secret_hash = $1
		UNION ALL SELECT ` + TokenColumns + ` FROM tokens WHERE previous_secret_hash = $1 LIMIT 1`
	UpdateTokenSQL = `UPDATE tokens SET
		tenant = $2, display_name = $3, description = $4, general_access = $5,
		contexts = $6, parameters = $7, secret_hash = $8, operator = $9,
		issue_refresh_tokens = $10, create_time = $11, expire_time = $12,
		revoke_time = $13, last_use_time = $14, creator = $15, revoker = $16,
		previous_secret_hash = $17, previous_secret_expire_time = $18,
		state = ` + StateOfWrite + `
		WHERE id = $1`
	TouchTokenSQL = `UPDATE tokens SET last_use_time = $2
		WHERE id = $1 AND (last_use_time IS NULL OR last_use_time < $2)`
)

// ScanToken reads a row of TokenColumns.
func ScanToken(row Scanner) (chave.Token, error) {
	var (
		t                                chave.Token
		contexts, params                 string
		created, expire, revoke, lastUse sql.NullInt64
		previousExpire                   sql.NullInt64
	)
	err := row.Scan(&t.ID, &t.Tenant, &t.DisplayName, &t.Description, &t.GeneralAccess,
		&contexts, &params, &t.SecretHash, &t.Operator, &t.IssueRefreshTokens,
		&created, &expire, &revoke, &lastUse, &t.Creator, &t.Revoker,
		&t.PreviousSecretHash, &previousExpire)
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
		encodeBytes(t.PreviousSecretHash), encodeTime(t.PreviousSecretExpireTime)}, nil
}
