package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The queries of ListRevocations, the same in both backends. A NULL expire
// time (no expiry) counts as still in the future.
//
// They have no ORDER BY: the results are sorted by id in Go instead. Given
// one, SQLite walks the whole table in primary-key order to skip the sort,
// rather than search the few rows wanted through the indexes of migration
// 0003 and 0002. For the same reason the families query is the union of its
// two disjoint cases (expiry after now; no expiry) rather than one OR: each
// half is a range search of the partial index refresh_families_revoked,
// where SQLite would answer the OR from refresh_families_expiry, reading
// every live family, revoked or not. PostgreSQL plans either form well.
const (
	revokedCredentialsQuery = `SELECT ` + tokenColumns + ` FROM tokens
		WHERE revoke_time IS NOT NULL AND revoke_time >= $1`
	revokedAccessTokensQuery = `SELECT id, client_id, expire_time, revoke_time FROM revoked_access_tokens
		WHERE expire_time IS NULL OR expire_time > $1`
	revokedFamiliesQuery = `SELECT ` + familyColumns + ` FROM refresh_families
		WHERE revoke_time IS NOT NULL AND expire_time > $1
		UNION ALL
		SELECT ` + familyColumns + ` FROM refresh_families
		WHERE revoke_time IS NOT NULL AND expire_time IS NULL`
)

// ListRevocations returns the credentials revoked at or after since, and
// the revoked access tokens and refresh families that expire after now (or
// never), each ordered by id. The three queries run in one REPEATABLE READ,
// READ ONLY transaction, so they see one snapshot of the database; such a
// transaction is never aborted to resolve a conflict, so it is not retried.
func (s *Store) ListRevocations(ctx context.Context, since, now time.Time) (storage.Revocations, error) {
	var out storage.Revocations
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			if out.Credentials, err = queryAll(ctx, tx, revokedCredentialsQuery, since.UnixMicro(), scanToken); err != nil {
				return fmt.Errorf("credentials: %w", err)
			}
			if out.AccessTokens, err = queryAll(ctx, tx, revokedAccessTokensQuery, now.UnixMicro(), scanRevokedAccessToken); err != nil {
				return fmt.Errorf("access tokens: %w", err)
			}
			if out.Families, err = queryAll(ctx, tx, revokedFamiliesQuery, now.UnixMicro(), scanFamily); err != nil {
				return fmt.Errorf("refresh families: %w", err)
			}
			return nil
		})
	if err != nil {
		return storage.Revocations{}, fmt.Errorf("postgres: list revocations: %w", classify(err))
	}
	sortRevocations(&out)
	return out, nil
}

// sortRevocations orders each list by id, comparing bytewise as the
// database's own ORDER BY id would (SQLite's BINARY collation, PostgreSQL's
// "C"); ids are unique, so the order is total.
func sortRevocations(r *storage.Revocations) {
	slices.SortFunc(r.Credentials, func(a, b chave.Token) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(r.AccessTokens, func(a, b chave.RevokedAccessToken) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(r.Families, func(a, b chave.RefreshFamily) int { return cmp.Compare(a.ID, b.ID) })
}

func scanRevokedAccessToken(row pgx.Row) (chave.RevokedAccessToken, error) {
	var (
		r               chave.RevokedAccessToken
		expire, revoked pgtype.Int8
	)
	if err := row.Scan(&r.ID, &r.ClientID, &expire, &revoked); err != nil {
		return chave.RevokedAccessToken{}, err
	}
	r.ExpireTime, r.RevokeTime = decodeTime(expire), decodeTime(revoked)
	return r, nil
}

// queryAll runs a query of one argument and scans every row; no rows give
// a nil slice.
func queryAll[T any](ctx context.Context, q querier, query string, arg any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
