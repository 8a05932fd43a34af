package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// The queries of listRevocations. A NULL expire time (no expiry) counts as
// still in the future.
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
	revokedCredentialsSQL = `SELECT ` + TokenColumns + ` FROM tokens
		WHERE revoke_time IS NOT NULL AND revoke_time >= $1`
	revokedAccessTokensSQL = `SELECT ` + revokedAccessTokenColumns + ` FROM revoked_access_tokens
		WHERE expire_time IS NULL OR expire_time > $1`
	revokedFamiliesSQL = `SELECT ` + familyColumns + ` FROM refresh_families
		WHERE revoke_time IS NOT NULL AND expire_time > $1
		UNION ALL
		SELECT ` + familyColumns + ` FROM refresh_families
		WHERE revoke_time IS NOT NULL AND expire_time IS NULL`
)

// listRevocations returns, through q, the credentials and signing keys
// revoked at or after since, and the revoked access tokens and refresh
// families that expire after now (or never), each ordered by id. It runs
// four queries: for one
// snapshot of the database, q runs them in one transaction.
func listRevocations(q Query, since, now time.Time) (storage.Revocations, error) {
	var (
		out storage.Revocations
		err error
	)
	if out.Credentials, err = queryAll(q, scanToken, revokedCredentialsSQL, since.UnixMicro()); err != nil {
		return storage.Revocations{}, fmt.Errorf("credentials: %w", err)
	}
	if out.AccessTokens, err = queryAll(q, scanRevokedAccessToken, revokedAccessTokensSQL, now.UnixMicro()); err != nil {
		return storage.Revocations{}, fmt.Errorf("access tokens: %w", err)
	}
	if out.Families, err = queryAll(q, scanFamily, revokedFamiliesSQL, now.UnixMicro()); err != nil {
		return storage.Revocations{}, fmt.Errorf("refresh families: %w", err)
	}
	if out.SigningKeys, err = listRevokedSigningKeys(q, since); err != nil {
		return storage.Revocations{}, fmt.Errorf("signing keys: %w", err)
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
	slices.SortFunc(r.SigningKeys, func(a, b chave.SigningKey) int { return cmp.Compare(a.ID, b.ID) })
}

// ListRevocations returns the credentials and signing keys revoked at or
// after since, and the revoked access tokens and refresh families that
// expire after now (or never), each ordered by id. The four queries run in one read-only
// transaction of Flavor.SnapshotTx on the read pool, so they see one
// snapshot of the database; such a transaction is never aborted to resolve
// a conflict, so it is not retried.
func (s *Store) ListRevocations(ctx context.Context, since, now time.Time) (storage.Revocations, error) {
	tx, err := s.read.BeginTx(ctx, &s.flavor.SnapshotTx)
	if err != nil {
		return storage.Revocations{}, s.fail(err, "list revocations: begin")
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	out, err := listRevocations(queryOn(ctx, tx), since, now)
	if err != nil {
		return storage.Revocations{}, s.fail(err, "list revocations")
	}
	return out, nil
}
