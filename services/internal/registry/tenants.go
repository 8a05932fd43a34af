// Tenants and the context catalog.

package registry

import (
	"context"
	"fmt"
	"slices"

	"github.com/chave/chave/services/internal/chave"
)

// CreateTenant creates a tenant. Operator only.
func (s *Service) CreateTenant(ctx context.Context, c Caller, t chave.Tenant) (chave.Tenant, error) {
	if err := c.requireOperator(); err != nil {
		return chave.Tenant{}, err
	}
	if err := t.Validate(s.catalog); err != nil {
		return chave.Tenant{}, err
	}
	now := s.clock()
	t.CreateTime, t.UpdateTime = now, now
	if err := s.store.CreateTenant(ctx, t); err != nil {
		if chave.IsCode(err, chave.Conflict) {
			return chave.Tenant{}, &chave.Error{Code: chave.Conflict, Field: "id", Message: fmt.Sprintf("tenant %q already exists", t.ID)}
		}
		return chave.Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	s.log.InfoContext(ctx, "tenant created", "tenant", t.ID, "actor", c.ClientID)
	return t, nil
}

// GetTenant returns a tenant: the operator reads any, a tenant's admins
// their own, with its entitlement.
func (s *Service) GetTenant(ctx context.Context, c Caller, id string) (chave.Tenant, error) {
	if !c.canSeeTenant(id) {
		return chave.Tenant{}, chave.Errorf(chave.PermissionDenied, "a tenant's admins read only their own tenant")
	}
	return s.store.GetTenant(ctx, id)
}

// ListTenants lists every tenant. Operator only.
func (s *Service) ListTenants(ctx context.Context, c Caller) ([]chave.Tenant, error) {
	if err := c.requireOperator(); err != nil {
		return nil, err
	}
	return s.store.ListTenants(ctx)
}

// UpdateTenant changes the masked fields ("display_name", "contexts",
// "policy") of a tenant; an empty mask changes all. Operator only. A
// stricter policy breaks no credential: those it no longer admits are
// flagged (Token.PolicyViolations) and keep working.
func (s *Service) UpdateTenant(ctx context.Context, c Caller, patch chave.Tenant, mask []string) (chave.Tenant, error) {
	if err := c.requireOperator(); err != nil {
		return chave.Tenant{}, err
	}
	fields, err := normaliseMask(mask, map[string]string{"display_name": "displayName", "contexts": "contexts", "policy": "policy"})
	if err != nil {
		return chave.Tenant{}, err
	}
	t, err := s.store.UpdateTenant(ctx, patch.ID, func(t *chave.Tenant) error {
		if slices.Contains(fields, "displayName") {
			t.DisplayName = patch.DisplayName
		}
		if slices.Contains(fields, "contexts") {
			t.Contexts = patch.Contexts
		}
		if slices.Contains(fields, "policy") {
			t.Policy = patch.Policy
		}
		if err := t.Validate(s.catalog); err != nil {
			return err
		}
		t.UpdateTime = s.clock()
		return nil
	})
	if err != nil {
		return chave.Tenant{}, err
	}
	s.log.InfoContext(ctx, "tenant updated", "tenant", t.ID, "actor", c.ClientID, "fields", fields)
	if err := s.propagateChanges(ctx, s.changedTenant(t)); err != nil {
		return chave.Tenant{}, err
	}
	return t, nil
}

// ListContexts returns the catalog as entitled for the tenant: the caller's
// own, or for the operator the named tenant's (empty: the whole catalog).
func (s *Service) ListContexts(ctx context.Context, c Caller, tenant string) ([]chave.Context, error) {
	if !c.Operator {
		if tenant != "" && tenant != c.Tenant {
			return nil, chave.Errorf(chave.PermissionDenied, "a credential lists only its own tenant's contexts")
		}
		tenant = c.Tenant
	}
	all := s.catalog.Contexts()
	if tenant == "" {
		return all, nil
	}
	t, err := s.store.GetTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(ctx chave.Context) bool { return !t.Entitled(ctx.ID) }), nil
}
