package postgres

import (
	"context"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
)

// GetRefreshFamily returns a family; NotFound if absent.
func (s *Store) GetRefreshFamily(ctx context.Context, id string) (chave.RefreshFamily, error) {
	f, err := sqlstore.ScanFamily(s.pool.QueryRow(ctx, sqlstore.SelectFamilySQL, id))
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
		if _, err := tx.Exec(ctx, sqlstore.InsertFamilySQL+` ON CONFLICT (id) DO NOTHING`,
			sqlstore.FamilyArgs(init)...); err != nil {
			return fmt.Errorf("insert from init: %w", err)
		}
		f, err := sqlstore.ScanFamily(tx.QueryRow(ctx, sqlstore.SelectFamilySQL+` FOR UPDATE`, id))
		if err != nil {
			return err
		}
		clientID := f.ClientID
		if err := update(&f); err != nil {
			return &closureError{err}
		}
		f.ID, f.ClientID = id, clientID
		out, err = sqlstore.ScanFamily(tx.QueryRow(ctx,
			sqlstore.UpdateFamilySQL+` RETURNING `+sqlstore.FamilyColumns, sqlstore.FamilyArgs(f)...))
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
	_, err := s.exec(ctx, sqlstore.RevokeAccessTokenSQL, sqlstore.RevokedAccessTokenArgs(r)...)
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
