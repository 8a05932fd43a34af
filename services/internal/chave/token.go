package chave

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Limits on free text.
const (
	MaxDisplayNameLen = 200
	MaxDescriptionLen = 2000
	MaxContexts       = 64
)

// State is a token's state. Only revocation is stored; expiry is derived
// from the expire time.
type State int

// Token states.
const (
	StateUnspecified State = iota
	StateActive
	StateRevoked
	StateExpired
)

func (s State) String() string {
	switch s {
	case StateActive:
		return "ACTIVE"
	case StateRevoked:
		return "REVOKED"
	case StateExpired:
		return "EXPIRED"
	}
	return "UNSPECIFIED"
}

// Parameters are per-context settings: context id → parameter name → value.
// At rest, the values of secret parameters are ciphertext.
type Parameters map[string]map[string]string

// Clone returns a deep copy.
func (p Parameters) Clone() Parameters {
	if p == nil {
		return nil
	}
	out := make(Parameters, len(p))
	for ctx, values := range p {
		m := make(map[string]string, len(values))
		for k, v := range values {
			m[k] = v
		}
		out[ctx] = m
	}
	return out
}

// Token is an API credential. Nothing is ever hard-deleted: revoked and
// expired tokens stay as history.
type Token struct {
	ID            string // the client id
	DisplayName   string
	Description   string
	Tenant        string // empty only for the operator credential
	GeneralAccess bool
	Contexts      []string // custom access and reserved scopes, sorted
	Parameters    Parameters
	SecretHash    []byte // keyed hash of the secret; never the secret
	// SecretHashVersion is the version of the server's hashing key that
	// made SecretHash; 0 (a token from before key versions) reads as 1.
	SecretHashVersion int
	// SecretVersion is a fingerprint of the secret, fixed when the secret
	// is set and kept when the secret is re-hashed under another server
	// key version, so that what names the secret (access and refresh
	// tokens, revocation entries) outlives a re-hash. Empty: derived from
	// SecretHash (a token from before key versions, never re-hashed).
	SecretVersion string
	// PreviousSecretHash is the keyed hash of the secret a rotation with a
	// grace period replaced; it still authenticates until
	// PreviousSecretExpireTime, never after. Both are zero otherwise.
	PreviousSecretHash       []byte
	PreviousSecretExpireTime time.Time
	// PreviousSecretHashVersion and PreviousSecretVersion are the
	// previous secret's SecretHashVersion and SecretVersion.
	PreviousSecretHashVersion int
	PreviousSecretVersion     string
	// Operator marks the bootstrap credential, which manages every tenant.
	Operator bool
	// IssueRefreshTokens makes client-credentials grants also return a
	// refresh token.
	IssueRefreshTokens bool

	CreateTime  time.Time
	ExpireTime  time.Time // zero: never expires
	RevokeTime  time.Time // zero: not revoked
	LastUseTime time.Time // zero: never used
	Creator     string
	Revoker     string

	// Version counts the stored changes of the token: every UpdateToken
	// stores the version it read plus one (TouchToken does not). The
	// registry's credential cache compares it with the versions the
	// revocation set holds, to tell a cached copy is stale.
	Version int64

	// PolicyViolations lists the fields that break the tenant's policy now
	// (TenantPolicy.Violations). Computed on read, never stored.
	PolicyViolations []string
}

// State derives the token's state at now.
func (t Token) State(now time.Time) State {
	switch {
	case !t.RevokeTime.IsZero():
		return StateRevoked
	case !t.ExpireTime.IsZero() && !now.Before(t.ExpireTime):
		return StateExpired
	default:
		return StateActive
	}
}

// PreviousSecretPending reports whether the previous secret still
// authenticates at now.
func (t Token) PreviousSecretPending(now time.Time) bool {
	return len(t.PreviousSecretHash) > 0 && now.Before(t.PreviousSecretExpireTime)
}

// MaxRotationGrace is the longest a rotated-away secret may keep working.
const MaxRotationGrace = 7 * 24 * time.Hour

// Validate checks every caller-settable field of the token against the
// tenant's entitlement and the catalog at now, and normalises the context
// list. Parameter values must be plaintext here. Errors name the JSON field.
func (t *Token) Validate(tenant Tenant, catalog *Catalog, now time.Time) error {
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
	if len(t.Description) > MaxDescriptionLen {
		return InvalidField("description", "must be at most %d bytes", MaxDescriptionLen)
	}
	if err := CheckText("description", t.Description); err != nil {
		return err
	}
	if !t.ExpireTime.IsZero() {
		if err := CheckTime("expireTime", t.ExpireTime); err != nil {
			return err
		}
		if !t.ExpireTime.After(now) {
			return InvalidField("expireTime", "must be in the future (got %s)", t.ExpireTime.UTC().Format(time.RFC3339))
		}
	}
	if t.Tenant != tenant.ID {
		return InvalidField("tenant", "does not match the tenant %q", tenant.ID)
	}
	if len(t.Contexts) > MaxContexts {
		return InvalidField("contexts", "must hold at most %d entries", MaxContexts)
	}
	custom := 0
	for _, c := range t.Contexts {
		if IsReservedScope(c) {
			continue
		}
		if _, ok := catalog.Lookup(c); !ok {
			return InvalidField("contexts", "unknown context %q", c)
		}
		if !tenant.Entitled(c) {
			return InvalidField("contexts", "tenant %q is not entitled to context %q", tenant.ID, c)
		}
		custom++
	}
	switch {
	case t.GeneralAccess && custom > 0:
		return InvalidField("generalAccess", "general access and a list of contexts exclude each other; choose one")
	case !t.GeneralAccess && len(t.Contexts) == 0:
		return InvalidField("contexts", "choose general access or list at least one context")
	}
	t.Contexts = SortedSet(t.Contexts)
	return t.validateParameters(tenant, catalog)
}

func (t *Token) validateParameters(tenant Tenant, catalog *Catalog) error {
	reach := t.Scopes(tenant)
	for ctxID, values := range t.Parameters {
		field := "parameters." + ctxID
		ctx, ok := catalog.Lookup(ctxID)
		if !ok {
			return InvalidField(field, "unknown context %q", ctxID)
		}
		if !slices.Contains(reach, ctxID) {
			return InvalidField(field, "the token does not reach context %q", ctxID)
		}
		for name, value := range values {
			spec, ok := ctx.Parameter(name)
			if !ok {
				return InvalidField(field+"."+name, "context %q has no parameter %q", ctxID, name)
			}
			if err := CheckLine(field+"."+name, value); err != nil {
				return err
			}
			if err := spec.ValidateValue(field+"."+name, value); err != nil {
				return err
			}
		}
	}
	// Required parameters of the contexts the token was explicitly given.
	for _, ctxID := range t.Contexts {
		ctx, ok := catalog.Lookup(ctxID)
		if !ok {
			continue
		}
		for _, spec := range ctx.Parameters {
			if _, set := t.Parameters[ctxID][spec.Name]; spec.Required && !set {
				return InvalidField("parameters."+ctxID+"."+spec.Name, "is required by context %q", ctxID)
			}
		}
	}
	return nil
}

// Scopes returns what the token reaches now: general access resolves to the
// tenant's entitlement (including contexts added later), custom access is
// intersected with it, and reserved scopes listed on the token are kept.
// The result is sorted.
func (t Token) Scopes(tenant Tenant) []string {
	var out []string
	if t.GeneralAccess {
		out = append(out, tenant.Contexts...)
	}
	for _, c := range t.Contexts {
		if IsReservedScope(c) || tenant.Entitled(c) {
			out = append(out, c)
		}
	}
	return SortedSet(out)
}

// NarrowScopes returns the requested scopes if every one is within granted,
// and false otherwise. An empty request means all of granted.
func NarrowScopes(granted []string, requested string) ([]string, bool) {
	req := strings.Fields(requested)
	if len(req) == 0 {
		return slices.Clone(granted), true
	}
	for _, s := range req {
		i := sort.SearchStrings(granted, s)
		if i == len(granted) || granted[i] != s {
			return nil, false
		}
	}
	return SortedSet(req), true
}
