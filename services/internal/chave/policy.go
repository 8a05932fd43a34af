package chave

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Limits on a company policy.
const (
	// MaxPolicyCIDRs bounds allowedClientCidrs.
	MaxPolicyCIDRs = 64
	// MinPolicyTokenLifetime and MaxPolicyTokenLifetime bound
	// maxTokenLifetime when it is set.
	MinPolicyTokenLifetime = time.Hour
	MaxPolicyTokenLifetime = 10 * 366 * 24 * time.Hour
)

// TenantPolicy is a company's rules for its tokens, set by the operator.
// The zero policy sets no rule.
type TenantPolicy struct {
	// MaxTokenLifetime caps a token's expiry at the time of each write
	// (create or update): the expire time is required and at most this far
	// ahead. Zero: no cap.
	MaxTokenLifetime time.Duration
	// GrantableContexts are the entitled contexts a tenant admin may give a
	// token (sorted); the operator may give any entitled context. Empty:
	// every entitled context, and general access.
	GrantableContexts []string
	// AllowedClientCIDRs are the client address ranges the token endpoints
	// admit for the tenant's credentials (normalised prefixes, sorted).
	// Empty: any address.
	AllowedClientCIDRs []string
}

// IsZero reports whether the policy sets no rule.
func (p TenantPolicy) IsZero() bool {
	return p.MaxTokenLifetime == 0 && len(p.GrantableContexts) == 0 && len(p.AllowedClientCIDRs) == 0
}

// validate checks the policy against the tenant's entitlement (sorted) and
// normalises its lists. Errors name policy.<field>.
func (p *TenantPolicy) validate(entitled []string) error {
	switch lt := p.MaxTokenLifetime; {
	case lt == 0:
	case lt < MinPolicyTokenLifetime || lt > MaxPolicyTokenLifetime:
		return InvalidField("policy.maxTokenLifetime", "must be between %s and %s (got %s)",
			FormatSeconds(MinPolicyTokenLifetime), FormatSeconds(MaxPolicyTokenLifetime), FormatSeconds(lt))
	case lt%time.Second != 0:
		return InvalidField("policy.maxTokenLifetime", "must be a whole number of seconds (got %s)", lt)
	}
	if len(p.GrantableContexts) > MaxContexts {
		return InvalidField("policy.grantableContexts", "must hold at most %d entries", MaxContexts)
	}
	for _, c := range p.GrantableContexts {
		if !slices.Contains(entitled, c) {
			return InvalidField("policy.grantableContexts", "%q is not among the tenant's entitled contexts", c)
		}
	}
	p.GrantableContexts = nilIfEmpty(SortedSet(p.GrantableContexts))
	if len(p.AllowedClientCIDRs) > MaxPolicyCIDRs {
		return InvalidField("policy.allowedClientCidrs", "must hold at most %d entries", MaxPolicyCIDRs)
	}
	cidrs := make([]string, 0, len(p.AllowedClientCIDRs))
	for _, s := range p.AllowedClientCIDRs {
		prefix, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return InvalidField("policy.allowedClientCidrs", "%q is not a CIDR range such as 203.0.113.0/24 or 2001:db8::/32", s)
		}
		cidrs = append(cidrs, prefix.Masked().String())
	}
	p.AllowedClientCIDRs = nilIfEmpty(SortedSet(cidrs))
	return nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// FormatSeconds writes a duration the way the REST API does
// (google.protobuf.Duration's JSON form): "7776000s".
func FormatSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return fmt.Sprintf("%.9fs", d.Seconds())
}

// ExpiryLimit is the latest expire time a token written at now may have;
// zero when the policy sets no cap.
func (p TenantPolicy) ExpiryLimit(now time.Time) time.Time {
	if p.MaxTokenLifetime == 0 {
		return time.Time{}
	}
	return now.Add(p.MaxTokenLifetime).UTC()
}

// CheckExpiry checks a token's expire time, as written at now, against the
// maximum lifetime. The error names expireTime and the limit.
func (p TenantPolicy) CheckExpiry(expire, now time.Time) error {
	limit := p.ExpiryLimit(now)
	if limit.IsZero() {
		return nil
	}
	why := fmt.Sprintf("(company policy maxTokenLifetime %s)", FormatSeconds(p.MaxTokenLifetime))
	if expire.IsZero() {
		return InvalidField("expireTime", "is required and must be at most %s %s", limit.Format(time.RFC3339), why)
	}
	if expire.After(limit) {
		return InvalidField("expireTime", "must be at most %s %s", limit.Format(time.RFC3339), why)
	}
	return nil
}

// CheckGrant checks what a tenant admin gives a token (before is the
// token as it was, the zero Token for a new one) against the grantable
// contexts: every context it adds must be grantable, and general access is
// not when the policy lists contexts. Reserved scopes are not contexts and
// pass.
func (p TenantPolicy) CheckGrant(before, after Token) error {
	if len(p.GrantableContexts) == 0 {
		return nil
	}
	if after.GeneralAccess && !before.GeneralAccess {
		return InvalidField("generalAccess", "company policy lets a tenant admin grant only the contexts %s, not general access",
			strings.Join(p.GrantableContexts, ", "))
	}
	for _, c := range after.Contexts {
		if IsReservedScope(c) || slices.Contains(before.Contexts, c) || slices.Contains(p.GrantableContexts, c) {
			continue
		}
		return InvalidField("contexts", "company policy lets a tenant admin grant only the contexts %s, not %q",
			strings.Join(p.GrantableContexts, ", "), c)
	}
	return nil
}

// Violations lists the fields of an active token that break the policy at
// now (a policy made stricter after the token was written): "expireTime"
// when it has no expiry or one beyond the maximum lifetime from now. Such
// tokens keep working; the list is for admins to act on.
func (p TenantPolicy) Violations(t Token, now time.Time) []string {
	if t.State(now) != StateActive {
		return nil
	}
	if p.CheckExpiry(t.ExpireTime, now) != nil {
		return []string{"expireTime"}
	}
	return nil
}

// AllowsAddress reports whether the token endpoints admit a client at addr
// (an IP address; empty or unparsable when unknown, which no list admits).
func (p TenantPolicy) AllowsAddress(addr string) bool {
	if len(p.AllowedClientCIDRs) == 0 {
		return true
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, s := range p.AllowedClientCIDRs {
		if prefix, err := netip.ParsePrefix(s); err == nil && prefix.Contains(ip) {
			return true
		}
	}
	return false
}
