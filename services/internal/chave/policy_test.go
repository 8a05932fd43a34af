package chave

import (
	"strings"
	"testing"
	"time"
)

func TestNewPolicyValidate(t *testing.T) {
	entitled := []string{"commercial", "foccohub", "telegram"}
	for _, tc := range []struct {
		name  string
		p     TenantPolicy
		field string // "" : valid
	}{
		{"zero", TenantPolicy{}, ""},
		{"full", TenantPolicy{MaxTokenLifetime: 90 * 24 * time.Hour, GrantableContexts: []string{"telegram", "commercial"},
			AllowedClientCIDRs: []string{"10.1.2.3/8", " 2001:db8::1/32 "}}, ""},
		{"lifetime too short", TenantPolicy{MaxTokenLifetime: time.Minute}, "policy.maxTokenLifetime"},
		{"lifetime negative", TenantPolicy{MaxTokenLifetime: -time.Hour}, "policy.maxTokenLifetime"},
		{"lifetime too long", TenantPolicy{MaxTokenLifetime: MaxPolicyTokenLifetime + time.Second}, "policy.maxTokenLifetime"},
		{"lifetime fractional", TenantPolicy{MaxTokenLifetime: 2*time.Hour + time.Millisecond}, "policy.maxTokenLifetime"},
		{"not entitled", TenantPolicy{GrantableContexts: []string{"inventory"}}, "policy.grantableContexts"},
		{"reserved scope", TenantPolicy{GrantableContexts: []string{ScopeRegistryAdmin}}, "policy.grantableContexts"},
		{"bad cidr", TenantPolicy{AllowedClientCIDRs: []string{"10.0.0.1"}}, "policy.allowedClientCidrs"},
		{"garbage cidr", TenantPolicy{AllowedClientCIDRs: []string{"10.0.0.0/33"}}, "policy.allowedClientCidrs"},
		{"too many cidrs", TenantPolicy{AllowedClientCIDRs: strings.Split(strings.Repeat("10.0.0.0/8,", MaxPolicyCIDRs+1), ",")[:MaxPolicyCIDRs+1]}, "policy.allowedClientCidrs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			err := p.validate(entitled)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("validate: %v, want nil", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Code != Invalid || e.Field != tc.field {
				t.Fatalf("validate: got %v, want Invalid naming %s", err, tc.field)
			}
		})
	}
	p := TenantPolicy{GrantableContexts: []string{"telegram", "commercial", "telegram"}, AllowedClientCIDRs: []string{"10.1.2.3/8", "2001:db8::1/32"}}
	if err := p.validate(entitled); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.GrantableContexts, ","); got != "commercial,telegram" {
		t.Errorf("grantable contexts normalised to %q", got)
	}
	if got := strings.Join(p.AllowedClientCIDRs, ","); got != "10.0.0.0/8,2001:db8::/32" {
		t.Errorf("CIDRs normalised to %q", got)
	}
}

func TestNewPolicyCheckExpiry(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p := TenantPolicy{MaxTokenLifetime: 7776000 * time.Second}
	limit := now.Add(p.MaxTokenLifetime)
	if err := p.CheckExpiry(limit, now); err != nil {
		t.Errorf("an expiry at the limit: %v", err)
	}
	for name, expire := range map[string]time.Time{"none": {}, "beyond": limit.Add(time.Second)} {
		err := p.CheckExpiry(expire, now)
		e, ok := err.(*Error)
		if !ok || e.Field != "expireTime" || !strings.Contains(e.Message, "2027-03-01T00:00:00Z") ||
			!strings.Contains(e.Message, "maxTokenLifetime 7776000s") {
			t.Errorf("%s: got %v, want an expireTime error naming the limit and the policy", name, err)
		}
	}
	if err := (TenantPolicy{}).CheckExpiry(time.Time{}, now); err != nil {
		t.Errorf("no policy: %v", err)
	}
	tok := Token{CreateTime: now.Add(-time.Hour)}
	if v := p.Violations(tok, now); len(v) != 1 || v[0] != "expireTime" {
		t.Errorf("a token without expiry under a maximum: violations %v", v)
	}
	tok.RevokeTime = now
	if v := p.Violations(tok, now); v != nil {
		t.Errorf("a revoked token: violations %v, want none", v)
	}
}

func TestNewPolicyCheckGrant(t *testing.T) {
	p := TenantPolicy{GrantableContexts: []string{"telegram"}}
	ok := []struct{ before, after Token }{
		{Token{}, Token{Contexts: []string{"telegram", ScopeRegistryAdmin}}},
		{Token{Contexts: []string{"commercial"}}, Token{Contexts: []string{"commercial", "telegram"}}}, // kept, not added
		{Token{GeneralAccess: true}, Token{GeneralAccess: true}},
	}
	for _, c := range ok {
		if err := p.CheckGrant(c.before, c.after); err != nil {
			t.Errorf("CheckGrant(%v → %v): %v", c.before.Contexts, c.after.Contexts, err)
		}
	}
	if err := p.CheckGrant(Token{}, Token{Contexts: []string{"commercial"}}); err == nil || err.(*Error).Field != "contexts" {
		t.Errorf("granting a context outside the list: %v, want a contexts error", err)
	}
	if err := p.CheckGrant(Token{}, Token{GeneralAccess: true}); err == nil || err.(*Error).Field != "generalAccess" {
		t.Errorf("granting general access: %v, want a generalAccess error", err)
	}
	if err := (TenantPolicy{}).CheckGrant(Token{}, Token{GeneralAccess: true}); err != nil {
		t.Errorf("no list: %v", err)
	}
}

func TestNewPolicyAllowsAddress(t *testing.T) {
	p := TenantPolicy{AllowedClientCIDRs: []string{"203.0.113.0/24", "2001:db8::/32"}}
	for addr, want := range map[string]bool{
		"203.0.113.7": true, "::ffff:203.0.113.7": true, "2001:db8::1": true,
		"203.0.114.1": false, "": false, "garbage": false, "10.0.0.1": false,
	} {
		if got := p.AllowsAddress(addr); got != want {
			t.Errorf("AllowsAddress(%q) = %v, want %v", addr, got, want)
		}
	}
	if !(TenantPolicy{}).AllowsAddress("") {
		t.Error("no list must admit any address, even an unknown one")
	}
}
