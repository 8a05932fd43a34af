package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// tenantColumns are the columns of the tenants table, in the order of
// scanTenant and tenantArgs. A new column goes at the end, here and in both.
const tenantColumns = `id, display_name, contexts, create_time, update_time, policy, version`

// scanTenant reads a row of tenantColumns.
func scanTenant(row Scanner) (chave.Tenant, error) {
	var (
		t                chave.Tenant
		contexts, policy string
		created, updated sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.DisplayName, &contexts, &created, &updated, &policy, &t.Version); err != nil {
		return chave.Tenant{}, err
	}
	var err error
	if t.Contexts, err = decodeStrings(contexts); err != nil {
		return chave.Tenant{}, fmt.Errorf("tenant %s: contexts: %w", t.ID, err)
	}
	if t.Policy, err = decodePolicy(policy); err != nil {
		return chave.Tenant{}, fmt.Errorf("tenant %s: policy: %w", t.ID, err)
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
	policy, err := encodePolicy(t.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return []any{t.ID, t.DisplayName, contexts, encodeTime(t.CreateTime), encodeTime(t.UpdateTime), policy, t.Version}, nil
}

// storedPolicy is the JSON of the tenants.policy column (migration 0007);
// "{}" is the zero policy.
type storedPolicy struct {
	MaxTokenLifetimeSeconds int64    `json:"maxTokenLifetimeSeconds,omitempty"`
	GrantableContexts       []string `json:"grantableContexts,omitempty"`
	AllowedClientCIDRs      []string `json:"allowedClientCidrs,omitempty"`
}

func encodePolicy(p chave.TenantPolicy) (string, error) {
	b, err := json.Marshal(storedPolicy{
		MaxTokenLifetimeSeconds: int64(p.MaxTokenLifetime / time.Second),
		GrantableContexts:       p.GrantableContexts,
		AllowedClientCIDRs:      p.AllowedClientCIDRs,
	})
	return string(b), err
}

func decodePolicy(text string) (chave.TenantPolicy, error) {
	var sp storedPolicy
	if err := json.Unmarshal([]byte(text), &sp); err != nil {
		return chave.TenantPolicy{}, err
	}
	return chave.TenantPolicy{
		MaxTokenLifetime:   time.Duration(sp.MaxTokenLifetimeSeconds) * time.Second,
		GrantableContexts:  nilIfEmpty(sp.GrantableContexts),
		AllowedClientCIDRs: nilIfEmpty(sp.AllowedClientCIDRs),
	}, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Statements on tenants, derived from tenantColumns. selectTenantSQL and
// updateTenantSQL take the id as $1; insertTenantSQL and updateTenantSQL
// take tenantArgs.
var (
	insertTenantSQL = `INSERT INTO tenants (` + tenantColumns + `) VALUES (` + placeholders(tenantColumns) + `)`
	updateTenantSQL = `UPDATE tenants SET ` + assignments(tenantColumns) + ` WHERE id = $1 RETURNING ` + tenantColumns
)

const (
	selectTenantSQL = `SELECT ` + tenantColumns + ` FROM tenants WHERE id = $1`
	listTenantsSQL  = `SELECT ` + tenantColumns + ` FROM tenants ORDER BY id`
)

// CreateTenant inserts a tenant; Conflict if the id exists.
func (s *Store) CreateTenant(ctx context.Context, t chave.Tenant) error {
	args, err := tenantArgs(t)
	if err != nil {
		return s.fail(err, "create tenant %s", t.ID)
	}
	if _, err = s.exec(ctx, insertTenantSQL, args...); err != nil {
		return s.fail(s.conflict(err, "tenant", t.ID), "create tenant %s", t.ID)
	}
	return nil
}

// GetTenant returns a tenant; NotFound if absent.
func (s *Store) GetTenant(ctx context.Context, id string) (chave.Tenant, error) {
	t, err := scanTenant(s.getTenant.QueryRowContext(ctx, id))
	if err = notFound(err, "tenant", id); err != nil {
		return chave.Tenant{}, s.fail(err, "get tenant %s", id)
	}
	return t, nil
}

// ListTenants returns every tenant ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]chave.Tenant, error) {
	out, err := queryAll(queryOn(ctx, s.read), scanTenant, listTenantsSQL)
	if err != nil {
		return nil, s.fail(err, "list tenants")
	}
	return out, nil
}

// UpdateTenant reads the tenant, locking it, applies update and writes the
// result, its Version one more than the one read, in one transaction. An error from update aborts and is returned
// unchanged. The tenant's id and create time never change. update may run
// more than once if the database aborts the transaction to resolve a
// conflict.
func (s *Store) UpdateTenant(ctx context.Context, id string, update func(*chave.Tenant) error) (chave.Tenant, error) {
	var out chave.Tenant
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanTenant(tx.QueryRowContext(ctx, selectTenantSQL+s.flavor.ForUpdate, id))
		if err != nil {
			return notFound(err, "tenant", id)
		}
		created, version := t.CreateTime, t.Version
		if err := update(&t); err != nil {
			return &closureError{err}
		}
		t.ID, t.CreateTime, t.Version = id, created, version+1 // see UpdateToken
		args, err := tenantArgs(t)
		if err != nil {
			return err
		}
		out, err = scanTenant(tx.QueryRowContext(ctx, updateTenantSQL, args...))
		return err
	})
	if err != nil {
		return chave.Tenant{}, s.fail(err, "update tenant %s", id)
	}
	return out, nil
}
