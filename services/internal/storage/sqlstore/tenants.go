package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
)

// TenantColumns are the columns of the tenants table, in the order of
// ScanTenant and TenantArgs.
const TenantColumns = `id, display_name, contexts, create_time, update_time`

// Statements on tenants. SelectTenantSQL and UpdateTenantSQL take the id as
// $1; InsertTenantSQL and UpdateTenantSQL take TenantArgs.
const (
	InsertTenantSQL = `INSERT INTO tenants (` + TenantColumns + `) VALUES ($1, $2, $3, $4, $5)`
	SelectTenantSQL = `SELECT ` + TenantColumns + ` FROM tenants WHERE id = $1`
	UpdateTenantSQL = `UPDATE tenants
		SET display_name = $2, contexts = $3, create_time = $4, update_time = $5
		WHERE id = $1`
)

// ListTenants returns every tenant through q, ordered by id.
func ListTenants(q Query) ([]chave.Tenant, error) {
	return queryAll(q, ScanTenant, `SELECT `+TenantColumns+` FROM tenants ORDER BY id`)
}

// ScanTenant reads a row of TenantColumns.
func ScanTenant(row Scanner) (chave.Tenant, error) {
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

// TenantArgs returns the values of TenantColumns, in order.
func TenantArgs(t chave.Tenant) ([]any, error) {
	contexts, err := encodeStrings(t.Contexts)
	if err != nil {
		return nil, fmt.Errorf("contexts: %w", err)
	}
	return []any{t.ID, t.DisplayName, contexts, encodeTime(t.CreateTime), encodeTime(t.UpdateTime)}, nil
}
