package postgres

import (
	"context"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const tenantColumns = `id, display_name, contexts, create_time, update_time`

func scanTenant(row pgx.Row) (chave.Tenant, error) {
	var (
		t                chave.Tenant
		contexts         string
		created, updated pgtype.Int8
	)
	if err := row.Scan(&t.ID, &t.DisplayName, &contexts, &created, &updated); err != nil {
		return chave.Tenant{}, err
	}
	var err error
	if t.Contexts, err = decodeStrings(contexts); err != nil {
		return chave.Tenant{}, fmt.Errorf("tenant %s: contexts: %w", t.ID, err)
	}
	t.CreateTime = decodeTime(created)
	t.UpdateTime = decodeTime(updated)
	return t, nil
}

// tenantArgs returns the values of tenantColumns, in order.
func tenantArgs(t chave.Tenant) ([]any, error) {
	contexts, err := encodeStrings(t.Contexts)
	if err != nil {
		return nil, fmt.Errorf("contexts: %w", err)
	}
	return []any{t.ID, t.DisplayName, contexts, encodeTime(t.CreateTime), encodeTime(t.UpdateTime)}, nil
}

// CreateTenant inserts a tenant; Conflict if the id exists.
func (s *Store) CreateTenant(ctx context.Context, t chave.Tenant) error {
	args, err := tenantArgs(t)
	if err != nil {
		return fmt.Errorf("postgres: create tenant %s: %w", t.ID, err)
	}
	_, err = s.exec(ctx, `INSERT INTO tenants (`+tenantColumns+`) VALUES ($1, $2, $3, $4, $5)`, args...)
	if err != nil {
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
	query := `SELECT ` + tenantColumns + ` FROM tenants WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	t, err := scanTenant(q.QueryRow(ctx, query, id))
	return t, notFound(err, "tenant", id)
}

// ListTenants returns every tenant ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]chave.Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chave.Tenant, error) { return scanTenant(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list tenants: %w", classify(err))
	}
	if len(out) == 0 {
		return nil, nil
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
		args, err := tenantArgs(t)
		if err != nil {
			return err
		}
		out, err = scanTenant(tx.QueryRow(ctx, `UPDATE tenants
			SET display_name = $2, contexts = $3, create_time = $4, update_time = $5
			WHERE id = $1
			RETURNING `+tenantColumns, args...))
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
