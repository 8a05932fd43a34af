package registry

import (
	"context"

	"github.com/chave/chave/services/internal/chave"
)

// Caller is the authenticated principal of a registry call.
type Caller struct {
	ClientID string
	Tenant   string // empty for the operator
	Operator bool   // the operator manages every tenant
}

type callerKey struct{}

// WithCaller returns a context carrying the caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller the authentication interceptor stored.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// canSeeTenant reports whether the caller may read or manage the tenant's
// tokens.
func (c Caller) canSeeTenant(tenant string) bool {
	return c.Operator || (tenant != "" && c.Tenant == tenant)
}

func (c Caller) requireOperator() error {
	if !c.Operator {
		return chave.Errorf(chave.PermissionDenied, "only the operator manages tenants")
	}
	return nil
}
