package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
)

const tenantColumns = `id, display_name, contexts, create_time, update_time`

func scanTenant(row scanner) (chave.Tenant, error) {
	var (
		t                chave.Tenant
		contexts         string
		created, updated sql.NullInt64
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
		return fmt.Errorf("sqlite: create tenant %s: %w", t.ID, err)
	}
	_, err = s.write.ExecContext(ctx,
		`INSERT INTO tenants (`+tenantColumns+`) VALUES ($1, $2, $3, $4, $5)`, args...)
	if err != nil {
		return fmt.Errorf("sqlite: create tenant %s: %w", t.ID, conflict(err, "tenant", t.ID))
	}
	return nil
}

// GetTenant returns a tenant; NotFound if absent.
func (s *Store) GetTenant(ctx context.Context, id string) (chave.Tenant, error) {
	t, err := getTenant(ctx, s.read, id)
	if err != nil {
		return chave.Tenant{}, fmt.Errorf("sqlite: get tenant %s: %w", id, err)
	}
	return t, nil
}

func getTenant(ctx context.Context, q querier, id string) (chave.Tenant, error) {
	row := q.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id)
	t, err := scanTenant(row)
	return t, notFound(err, "tenant", id)
}

// ListTenants returns every tenant ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]chave.Tenant, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tenants: %w", err)
	}
	defer rows.Close()
	var out []chave.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
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
		if err := writeTenant(ctx, tx, t); err != nil {
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

func writeTenant(ctx context.Context, tx *sql.Tx, t chave.Tenant) error {
	args, err := tenantArgs(t)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE tenants
		SET display_name = $2, contexts = $3, create_time = $4, update_time = $5
		WHERE id = $1`, args...)
	return err
}
