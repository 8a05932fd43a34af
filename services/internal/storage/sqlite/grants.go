package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

func getFamily(ctx context.Context, q querier, id string) (chave.RefreshFamily, error) {
	f, err := sqlstore.ScanFamily(q.QueryRowContext(ctx, sqlstore.SelectFamilySQL, id))
	return f, notFound(err, "refresh family", id)
}

// GetRefreshFamily returns a family; NotFound if absent.
func (s *Store) GetRefreshFamily(ctx context.Context, id string) (chave.RefreshFamily, error) {
	f, err := getFamily(ctx, s.read, id)
	if err != nil {
		return chave.RefreshFamily{}, fmt.Errorf("sqlite: get refresh family %s: %w", id, err)
	}
	return f, nil
}

// UpdateRefreshFamily reads (or starts from init) the family, applies
// update and writes it back, in one IMMEDIATE transaction.
func (s *Store) UpdateRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, update func(*chave.RefreshFamily) error) (chave.RefreshFamily, error) {
	var out chave.RefreshFamily
	var updateErr error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		f, err := getFamily(ctx, tx, id)
		exists := err == nil
		switch {
		case chave.IsCode(err, chave.NotFound):
			f = init
		case err != nil:
			return err
		}
		clientID := f.ClientID
		if updateErr = update(&f); updateErr != nil {
			return updateErr
		}
		f.ID, f.ClientID = id, clientID
		stmt := sqlstore.InsertFamilySQL
		if exists {
			stmt = sqlstore.UpdateFamilySQL
		}
		if _, err = tx.ExecContext(ctx, stmt, sqlstore.FamilyArgs(f)...); err != nil {
			return err
		}
		out, err = getFamily(ctx, tx, id)
		return err
	})
	if updateErr != nil {
		return chave.RefreshFamily{}, updateErr
	}
	if err != nil {
		return chave.RefreshFamily{}, fmt.Errorf("sqlite: update refresh family %s: %w", id, err)
	}
	return out, nil
}

// RevokeAccessToken records a revoked access token; a second revocation of
// the same jti keeps the first record.
func (s *Store) RevokeAccessToken(ctx context.Context, r chave.RevokedAccessToken) error {
	_, err := s.write.ExecContext(ctx, sqlstore.RevokeAccessTokenSQL, sqlstore.RevokedAccessTokenArgs(r)...)
	if err != nil {
		return fmt.Errorf("sqlite: revoke access token %s: %w", r.ID, err)
	}
	return nil
}

// IsAccessTokenRevoked reports whether the jti was revoked.
func (s *Store) IsAccessTokenRevoked(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM revoked_access_tokens WHERE id = $1`, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: check access token %s: %w", id, err)
	}
	return n > 0, nil
}
