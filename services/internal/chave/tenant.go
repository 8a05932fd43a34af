package chave

import (
	"regexp"
	"strings"
	"time"
)

// Tenant is a company. Its entitled contexts are the ones its tokens may
// reach ("vary by system version and by API modules purchased").
type Tenant struct {
	ID          string
	DisplayName string
	Contexts    []string // entitled context ids, sorted, no duplicates
	Policy      TenantPolicy
	CreateTime  time.Time
	UpdateTime  time.Time
	// Version counts the stored changes of the tenant (see Token.Version).
	Version int64
}

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidateTenantID checks an operator-chosen tenant id.
func ValidateTenantID(field, id string) error {
	if id == "" {
		return InvalidField(field, "is required")
	}
	if !tenantIDPattern.MatchString(id) {
		return InvalidField(field, "must be 1 to 63 lowercase letters, digits or hyphens, starting with a letter or digit")
	}
	return nil
}

// Validate checks the tenant against the catalog and normalises its context
// list (sorted, without duplicates).
func (t *Tenant) Validate(catalog *Catalog) error {
	if err := ValidateTenantID("id", t.ID); err != nil {
		return err
	}
	t.DisplayName = strings.TrimSpace(t.DisplayName)
	if t.DisplayName == "" {
		return InvalidField("displayName", "is required")
	}
	if len(t.DisplayName) > MaxDisplayNameLen {
		return InvalidField("displayName", "must be at most %d bytes", MaxDisplayNameLen)
	}
	if err := CheckLine("displayName", t.DisplayName); err != nil {
		return err
	}
	for _, c := range t.Contexts {
		if IsReservedScope(c) {
			return InvalidField("contexts", "%q is a reserved scope, not an entitlement", c)
		}
		if _, ok := catalog.Lookup(c); !ok {
			return InvalidField("contexts", "unknown context %q", c)
		}
	}
	t.Contexts = SortedSet(t.Contexts)
	return t.Policy.validate(t.Contexts)
}

// Entitled reports whether the tenant may use the context.
func (t Tenant) Entitled(contextID string) bool {
	for _, c := range t.Contexts {
		if c == contextID {
			return true
		}
	}
	return false
}
