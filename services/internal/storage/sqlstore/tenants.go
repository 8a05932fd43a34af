package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// TenantColumns are the columns of the tenants table, in the order of
// ScanTenant and TenantArgs.
const TenantColumns = `id, display_name, contexts, create_time, update_time, policy`

// Statements on tenants. SelectTenantSQL and UpdateTenantSQL take the id as
// $1; InsertTenantSQL and UpdateTenantSQL take TenantArgs.
const (
	InsertTenantSQL = `INSERT INTO tenants (` + TenantColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`
	SelectTenantSQL = `SELECT ` + TenantColumns + ` FROM tenants WHERE id = $1`
	UpdateTenantSQL = `UPDATE tenants
		SET display_name = $2, contexts = $3, create_time = $4, update_time = $5, policy = $6
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
		contexts, policy string
		created, updated sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.DisplayName, &contexts, &created, &updated, &policy); err != nil {
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

// TenantArgs returns the values of TenantColumns, in order.
func TenantArgs(t chave.Tenant) ([]any, error) {
	contexts, err := encodeStrings(t.Contexts)
	if err != nil {
		return nil, fmt.Errorf("contexts: %w", err)
	}
	policy, err := encodePolicy(t.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return []any{t.ID, t.DisplayName, contexts, encodeTime(t.CreateTime), encodeTime(t.UpdateTime), policy}, nil
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
