package postgres

import (
	"context"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
)

// CreateTenant inserts a tenant; Conflict if the id exists.
func (s *Store) CreateTenant(ctx context.Context, t chave.Tenant) error {
	args, err := sqlstore.TenantArgs(t)
	if err != nil {
		return fmt.Errorf("postgres: create tenant %s: %w", t.ID, err)
	}
	if _, err = s.exec(ctx, sqlstore.InsertTenantSQL, args...); err != nil {
		return fmt.Errorf("postgres: create tenant %s: %w", t.ID, classify(conflict(err, "tenant", t.ID)))
	}
	return nil
}

// GetTenant returns a tenant; NotFound if absent.
func (s *Store) GetTenant(ctx context.Context, id string) (chave.Tenant, error) {
	t, err := getTenant(ctx, s.pool, id, false)
	if err != nil {
		return chave.Tenant{}, fmt.Errorf("postgres: get tenant %s: %w", id, classify(err))
	}
	return t, nil
}

// getTenant reads a tenant, locking its row until the end of the
// transaction if forUpdate.
func getTenant(ctx context.Context, q querier, id string, forUpdate bool) (chave.Tenant, error) {
	stmt := sqlstore.SelectTenantSQL
	if forUpdate {
		stmt += ` FOR UPDATE`
	}
	t, err := sqlstore.ScanTenant(q.QueryRow(ctx, stmt, id))
	return t, notFound(err, "tenant", id)
}

// ListTenants returns every tenant ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]chave.Tenant, error) {
	out, err := sqlstore.ListTenants(queryOn(ctx, s.pool))
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: %w", classify(err))
	}
	return out, nil
}

// UpdateTenant reads the tenant, locking it, applies update and writes the
// result in one transaction. An error from update aborts and is returned
// unchanged. The tenant's id and create time never change. update may run
// more than once if PostgreSQL aborts the transaction to resolve a
// conflict.
func (s *Store) UpdateTenant(ctx context.Context, id string, update func(*chave.Tenant) error) (chave.Tenant, error) {
	var out chave.Tenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := getTenant(ctx, tx, id, true)
		if err != nil {
			return err
		}
		created := t.CreateTime
		if err := update(&t); err != nil {
			return &closureError{err}
		}
		t.ID, t.CreateTime = id, created
		args, err := sqlstore.TenantArgs(t)
		if err != nil {
			return err
		}
		out, err = sqlstore.ScanTenant(tx.QueryRow(ctx,
			sqlstore.UpdateTenantSQL+` RETURNING `+sqlstore.TenantColumns, args...))
		return err
	})
	if err, ok := closureErr(err); ok {
		return chave.Tenant{}, err
	}
	if err != nil {
		return chave.Tenant{}, fmt.Errorf("postgres: update tenant %s: %w", id, classify(err))
	}
	return out, nil
}
