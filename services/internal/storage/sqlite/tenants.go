package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// CreateTenant inserts a tenant; Conflict if the id exists.
func (s *Store) CreateTenant(ctx context.Context, t chave.Tenant) error {
	args, err := sqlstore.TenantArgs(t)
	if err != nil {
		return fmt.Errorf("sqlite: create tenant %s: %w", t.ID, err)
	}
	if _, err = s.write.ExecContext(ctx, sqlstore.InsertTenantSQL, args...); err != nil {
		return fmt.Errorf("sqlite: create tenant %s: %w", t.ID, conflict(err, "tenant", t.ID))
	}
	return nil
}

// GetTenant returns a tenant; NotFound if absent.
func (s *Store) GetTenant(ctx context.Context, id string) (chave.Tenant, error) {
	t, err := sqlstore.ScanTenant(s.getTenant.QueryRowContext(ctx, id))
	if err = notFound(err, "tenant", id); err != nil {
		return chave.Tenant{}, fmt.Errorf("sqlite: get tenant %s: %w", id, err)
	}
	return t, nil
}

func getTenant(ctx context.Context, q querier, id string) (chave.Tenant, error) {
	t, err := sqlstore.ScanTenant(q.QueryRowContext(ctx, sqlstore.SelectTenantSQL, id))
	return t, notFound(err, "tenant", id)
}

// ListTenants returns every tenant ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]chave.Tenant, error) {
	out, err := sqlstore.ListTenants(queryOn(ctx, s.read))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: %w", err)
	}
	return out, nil
}

// UpdateTenant reads the tenant, applies update and writes the result in
// one transaction. An error from update aborts and is returned unchanged.
// The tenant's id and create time never change.
func (s *Store) UpdateTenant(ctx context.Context, id string, update func(*chave.Tenant) error) (chave.Tenant, error) {
	var out chave.Tenant
	var updateErr error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := getTenant(ctx, tx, id)
		if err != nil {
			return err
		}
		created := t.CreateTime
		if updateErr = update(&t); updateErr != nil {
			return updateErr
		}
		t.ID, t.CreateTime = id, created
		args, err := sqlstore.TenantArgs(t)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlstore.UpdateTenantSQL, args...); err != nil {
			return err
		}
		out, err = getTenant(ctx, tx, id)
		return err
	})
	if updateErr != nil {
		return chave.Tenant{}, updateErr
	}
	if err != nil {
		return chave.Tenant{}, fmt.Errorf("sqlite: update tenant %s: %w", id, err)
	}
	return out, nil
}
