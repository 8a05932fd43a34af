package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// familyColumns are the columns of the refresh_families table, in the
// order of scanFamily and familyArgs. A new column goes at the end, here
// and in both.
const familyColumns = `id, client_id, generation, create_time, expire_time, revoke_time, revoke_reason`

// scanFamily reads a row of familyColumns.
func scanFamily(row Scanner) (chave.RefreshFamily, error) {
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

// familyArgs returns the values of familyColumns, in order.
func familyArgs(f chave.RefreshFamily) []any {
	return []any{f.ID, f.ClientID, f.Generation, encodeTime(f.CreateTime),
		encodeTime(f.ExpireTime), encodeTime(f.RevokeTime), f.RevokeReason}
}

// revokedAccessTokenColumns are the columns of the revoked_access_tokens
// table, in the order of scanRevokedAccessToken and revokedAccessTokenArgs.
const revokedAccessTokenColumns = `id, client_id, expire_time, revoke_time`

// revokedAccessTokenArgs returns the values of revokedAccessTokenColumns.
func revokedAccessTokenArgs(r chave.RevokedAccessToken) []any {
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

// Statements on refresh families and revoked access tokens.
// selectFamilySQL and updateFamilySQL take the id as $1;
// insertFamilyFromInitSQL and updateFamilySQL take familyArgs.
// revokeAccessTokenSQL takes revokedAccessTokenArgs and keeps the first
// record of a jti.
var (
	insertFamilyFromInitSQL = `INSERT INTO refresh_families (` + familyColumns + `)
		VALUES (` + placeholders(familyColumns) + `) ON CONFLICT (id) DO NOTHING`
	updateFamilySQL = `UPDATE refresh_families SET ` + assignments(familyColumns) +
		` WHERE id = $1 RETURNING ` + familyColumns
	revokeAccessTokenSQL = `INSERT INTO revoked_access_tokens (` + revokedAccessTokenColumns + `)
		VALUES (` + placeholders(revokedAccessTokenColumns) + `) ON CONFLICT (id) DO NOTHING`
)

// startFamilySQL and advanceFamilySQL move a family from generation $8
// (startFamilySQL, for generation 0, creating it from familyArgs at
// generation 1) or $3 (advanceFamilySQL, on id $1 and client $2) to the
// next, in one statement: they change no row when the family is at another
// generation, revoked or another client's. Neither returns the row: that
// cost more than the write.
var (
	startFamilySQL = `INSERT INTO refresh_families (` + familyColumns + `)
		VALUES (` + placeholders(familyColumns) + `) ON CONFLICT (id) DO UPDATE SET generation = refresh_families.generation + 1
		WHERE refresh_families.generation = $8 AND refresh_families.client_id = $2 AND refresh_families.revoke_time IS NULL`
	advanceFamilySQL = `UPDATE refresh_families SET generation = generation + 1
		WHERE id = $1 AND client_id = $2 AND generation = $3 AND revoke_time IS NULL`
)

const (
	selectFamilySQL       = `SELECT ` + familyColumns + ` FROM refresh_families WHERE id = $1`
	accessTokenRevokedSQL = `SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE id = $1)`
)

// GetRefreshFamily returns a family; NotFound if absent.
func (s *Store) GetRefreshFamily(ctx context.Context, id string) (chave.RefreshFamily, error) {
	f, err := scanFamily(s.read.QueryRowContext(ctx, selectFamilySQL, id))
	if err != nil {
		return chave.RefreshFamily{}, s.fail(notFound(err, "refresh family", id), "get refresh family %s", id)
	}
	return f, nil
}

// UpdateRefreshFamily reads the family, or starts from init when it does
// not exist, applies update and writes the result, in one transaction.
//
// The family's row is created from init if absent (INSERT … ON CONFLICT DO
// NOTHING), then read (locked with Flavor.ForUpdate): concurrent first uses
// of a family queue on the unique index, later ones on the row lock (on
// SQLite on the write lock), so every closure sees the result of the one
// before. An error from update rolls everything back, the row inserted
// from init included, and is returned unchanged. update may run more than
// once if the database aborts the transaction to resolve a conflict.
func (s *Store) UpdateRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, update func(*chave.RefreshFamily) error) (chave.RefreshFamily, error) {
	var out chave.RefreshFamily
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		init.ID = id
		if _, err := tx.ExecContext(ctx, insertFamilyFromInitSQL, familyArgs(init)...); err != nil {
			return fmt.Errorf("insert from init: %w", err)
		}
		f, err := scanFamily(tx.QueryRowContext(ctx, selectFamilySQL+s.flavor.ForUpdate, id))
		if err != nil {
			return err
		}
		clientID := f.ClientID
		if err := update(&f); err != nil {
			return &closureError{err}
		}
		f.ID, f.ClientID = id, clientID
		out, err = scanFamily(tx.QueryRowContext(ctx, updateFamilySQL, familyArgs(f)...))
		return err
	})
	if err != nil {
		return chave.RefreshFamily{}, s.fail(err, "update refresh family %s", id)
	}
	return out, nil
}

// AdvanceRefreshFamily moves the family from generation gen to gen+1 in
// one statement, outside any explicit transaction of its own: the single
// write of a refresh grant, so that SQLite's one writer is held for as
// short as it can be. Under Flavor.GroupCommit the statement runs in the
// writer's transaction, with the advances of other callers waiting at the
// same time (groupcommit.go), and returns once that is committed. A family
// never used (gen 0) is created from init at generation 1. Whatever else
// it finds (another generation, a revoked family, another client's, none
// at gen > 0) it leaves as it is and reports false, for the caller to
// decide with UpdateRefreshFamily.
func (s *Store) AdvanceRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, gen int64) (bool, error) {
	if gen == 0 {
		init.ID, init.Generation = id, 1
		init.RevokeTime, init.RevokeReason = time.Time{}, ""
	}
	var (
		ok  bool
		err error
	)
	if s.group != nil {
		ok, err = s.group.advance(ctx, id, init, gen)
	} else {
		err = s.retry(ctx, func() error {
			var err error
			ok, err = advanceFamilyWith(ctx, s.startFamily, s.advanceFamily, id, init, gen)
			return err
		})
	}
	if err != nil {
		return false, s.fail(err, "advance refresh family %s", id)
	}
	return ok, nil
}

// advanceFamilyWith runs the advance on the prepared statements start
// (startFamilySQL, for gen 0, with init ready to insert) and next
// (advanceFamilySQL), and reports whether it changed the row.
func advanceFamilyWith(ctx context.Context, start, next *sql.Stmt, id string, init chave.RefreshFamily, gen int64) (bool, error) {
	var (
		res sql.Result
		err error
	)
	if gen == 0 {
		res, err = start.ExecContext(ctx, append(familyArgs(init), gen)...)
	} else {
		res, err = next.ExecContext(ctx, id, init.ClientID, gen)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RevokeAccessToken records a revoked access token; a second revocation of
// the same jti keeps the first record.
func (s *Store) RevokeAccessToken(ctx context.Context, r chave.RevokedAccessToken) error {
	if _, err := s.exec(ctx, revokeAccessTokenSQL, revokedAccessTokenArgs(r)...); err != nil {
		return s.fail(err, "revoke access token %s", r.ID)
	}
	return nil
}

// IsAccessTokenRevoked reports whether the jti was revoked.
func (s *Store) IsAccessTokenRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	if err := s.read.QueryRowContext(ctx, accessTokenRevokedSQL, id).Scan(&revoked); err != nil {
		return false, s.fail(err, "check access token %s", id)
	}
	return revoked, nil
}
