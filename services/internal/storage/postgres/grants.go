package postgres

import (
	"context"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const familyColumns = `id, client_id, generation, create_time, expire_time, revoke_time, revoke_reason`

func scanFamily(row pgx.Row) (chave.RefreshFamily, error) {
	var (
		f                         chave.RefreshFamily
		created, expires, revoked pgtype.Int8
	)
	if err := row.Scan(&f.ID, &f.ClientID, &f.Generation, &created, &expires, &revoked, &f.RevokeReason); err != nil {
		return chave.RefreshFamily{}, err
	}
	f.CreateTime, f.ExpireTime, f.RevokeTime = decodeTime(created), decodeTime(expires), decodeTime(revoked)
	return f, nil
}

func familyArgs(f chave.RefreshFamily) []any {
	return []any{f.ID, f.ClientID, f.Generation, encodeTime(f.CreateTime),
		encodeTime(f.ExpireTime), encodeTime(f.RevokeTime), f.RevokeReason}
}

// GetRefreshFamily returns a family; NotFound if absent.
func (s *Store) GetRefreshFamily(ctx context.Context, id string) (chave.RefreshFamily, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+familyColumns+` FROM refresh_families WHERE id = $1`, id)
	f, err := scanFamily(row)
	if err != nil {
		return chave.RefreshFamily{}, fmt.Errorf("postgres: get refresh family %s: %w",
			id, classify(notFound(err, "refresh family", id)))
	}
	return f, nil
}

// UpdateRefreshFamily reads the family, or starts from init when it does
// not exist, applies update and writes the result, in one transaction.
//
// The family's row is created from init if absent (INSERT … ON CONFLICT DO
// NOTHING), then locked (SELECT … FOR UPDATE): concurrent first uses of a
// family queue on the unique index, later ones on the row lock, so every
// closure sees the result of the one before. An error from update rolls
// everything back, the row inserted from init included, and is returned
// unchanged. update may run more than once if PostgreSQL aborts the
// transaction to resolve a conflict.
func (s *Store) UpdateRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, update func(*chave.RefreshFamily) error) (chave.RefreshFamily, error) {
	var out chave.RefreshFamily
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		init.ID = id
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_families (`+familyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`, familyArgs(init)...); err != nil {
			return fmt.Errorf("insert from init: %w", err)
		}
		f, err := scanFamily(tx.QueryRow(ctx,
			`SELECT `+familyColumns+` FROM refresh_families WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		clientID := f.ClientID
		if err := update(&f); err != nil {
			return &closureError{err}
		}
		f.ID, f.ClientID = id, clientID
		out, err = scanFamily(tx.QueryRow(ctx, `UPDATE refresh_families SET client_id = $2, generation = $3,
			create_time = $4, expire_time = $5, revoke_time = $6, revoke_reason = $7
			WHERE id = $1
			RETURNING `+familyColumns, familyArgs(f)...))
		return err
	})
	if err, ok := closureErr(err); ok {
		return chave.RefreshFamily{}, err
	}
	if err != nil {
		return chave.RefreshFamily{}, fmt.Errorf("postgres: update refresh family %s: %w", id, classify(err))
	}
	return out, nil
}

// RevokeAccessToken records a revoked access token; a second revocation of
// the same jti keeps the first record.
func (s *Store) RevokeAccessToken(ctx context.Context, r chave.RevokedAccessToken) error {
	_, err := s.exec(ctx, `INSERT INTO revoked_access_tokens (id, client_id, expire_time, revoke_time)
		VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.ClientID, encodeTime(r.ExpireTime), encodeTime(r.RevokeTime))
	if err != nil {
		return fmt.Errorf("postgres: revoke access token %s: %w", r.ID, classify(err))
	}
	return nil
}

// IsAccessTokenRevoked reports whether the jti was revoked.
func (s *Store) IsAccessTokenRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE id = $1)`, id).Scan(&revoked)
	if err != nil {
		return false, fmt.Errorf("postgres: check access token %s: %w", id, classify(err))
	}
	return revoked, nil
}
