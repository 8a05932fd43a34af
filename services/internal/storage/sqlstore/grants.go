package sqlstore

import (
	"database/sql"

	"github.com/chave/chave/services/internal/chave"
)

// FamilyColumns are the columns of the refresh_families table, in the
// order of ScanFamily and FamilyArgs.
const FamilyColumns = `id, client_id, generation, create_time, expire_time, revoke_time, revoke_reason`

// Statements on refresh families and revoked access tokens.
// SelectFamilySQL and UpdateFamilySQL take the id as $1; InsertFamilySQL
// and UpdateFamilySQL take FamilyArgs. RevokeAccessTokenSQL takes
// RevokedAccessTokenArgs and keeps the first record of a jti.
const (
	InsertFamilySQL = `INSERT INTO refresh_families (` + FamilyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	SelectFamilySQL = `SELECT ` + FamilyColumns + ` FROM refresh_families WHERE id = $1`
	UpdateFamilySQL = `UPDATE refresh_families SET client_id = $2, generation = $3,
		create_time = $4, expire_time = $5, revoke_time = $6, revoke_reason = $7
		WHERE id = $1`
	RevokeAccessTokenSQL = `INSERT INTO revoked_access_tokens (` + revokedAccessTokenColumns + `)
		VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`
)

// revokedAccessTokenColumns are the columns of the revoked_access_tokens
// table, in the order of scanRevokedAccessToken and RevokedAccessTokenArgs.
const revokedAccessTokenColumns = `id, client_id, expire_time, revoke_time`

// ScanFamily reads a row of FamilyColumns.
func ScanFamily(row Scanner) (chave.RefreshFamily, error) {
	var (
		f                         chave.RefreshFamily
		created, expires, revoked sql.NullInt64
	)
	if err := row.Scan(&f.ID, &f.ClientID, &f.Generation, &created, &expires, &revoked, &f.RevokeReason); err != nil {
		return chave.RefreshFamily{}, err
	}
	f.CreateTime, f.ExpireTime, f.RevokeTime = decodeTime(created), decodeTime(expires), decodeTime(revoked)
	return f, nil
}

// FamilyArgs returns the values of FamilyColumns, in order.
func FamilyArgs(f chave.RefreshFamily) []any {
	return []any{f.ID, f.ClientID, f.Generation, encodeTime(f.CreateTime),
		encodeTime(f.ExpireTime), encodeTime(f.RevokeTime), f.RevokeReason}
}

// RevokedAccessTokenArgs returns the values of RevokeAccessTokenSQL.
func RevokedAccessTokenArgs(r chave.RevokedAccessToken) []any {
	return []any{r.ID, r.ClientID, encodeTime(r.ExpireTime), encodeTime(r.RevokeTime)}
}

// scanRevokedAccessToken reads a row of revokedAccessTokenColumns.
func scanRevokedAccessToken(row Scanner) (chave.RevokedAccessToken, error) {
	var (
		r               chave.RevokedAccessToken
		expire, revoked sql.NullInt64
	)
	if err := row.Scan(&r.ID, &r.ClientID, &expire, &revoked); err != nil {
		return chave.RevokedAccessToken{}, err
	}
	r.ExpireTime, r.RevokeTime = decodeTime(expire), decodeTime(revoked)
	return r, nil
}
