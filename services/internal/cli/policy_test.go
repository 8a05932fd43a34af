package cli_test

import (
	"strings"
	"testing"
)

// TestNewPolicyUsageCommands: set-policy shows and sets the policy, a token
// beyond it is refused naming the limit, usage counts grants, and the list
// filters reach the server.
func TestNewPolicyUsageCommands(t *testing.T) {
	s := startServer(t)
	op := s.op()
	op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory", "--context", "telegram")
	old := op.must(t, "tokens", "create", "--name", "old", "--tenant", "acme", "--context", "inventory", "-o", "json").json(t)
	oldID, oldSecret := old["clientId"].(string), old["clientSecret"].(string)

	out := op.must(t, "tenants", "set-policy", "acme", "--max-token-lifetime", "90d", "--grantable-context", "inventory", "--allowed-cidr", "127.0.0.0/8")
	for _, want := range []string{"90d", "inventory", "127.0.0.0/8"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("set-policy printed %q, want it to hold %q", out.stdout, want)
		}
	}
	if got := op.must(t, "tenants", "get", "acme", "-o", "jsonpath={.policy.maxTokenLifetime}").stdout; got != "7776000s\n" {
		t.Errorf("policy's maxTokenLifetime = %q", got)
	}
	if o := op.run(t, "tenants", "set-policy", "acme"); o.code == 0 {
		t.Error("set-policy without flags succeeded")
	}
	refused := op.run(t, "tokens", "create", "--name", "x", "--tenant", "acme", "--context", "inventory")
	if refused.code == 0 || !strings.Contains(refused.stderr, "maxTokenLifetime 7776000s") {
		t.Errorf("token without expiry under the policy: code %d, stderr %q", refused.code, refused.stderr)
	}
	if got := op.must(t, "tokens", "get", oldID, "-o", "jsonpath={.policyViolations[0]}").stdout; got != "expireTime\n" {
		t.Errorf("old token's violations: %q", got)
	}

	for range 3 {
		if got := s.grant(t, oldID, oldSecret); got != 200 {
			t.Fatalf("grant: %d", got)
		}
	}
	usage := op.must(t, "tokens", "usage", oldID)
	if !strings.Contains(usage.stdout, " 3 ") && !strings.Contains(usage.stdout, " 3\n") {
		t.Errorf("usage table: %q, want 3 succeeded", usage.stdout)
	}
	if o := op.run(t, "tokens", "usage", oldID, "--days", "91"); o.code == 0 {
		t.Error("--days 91 accepted")
	}
	if got := op.must(t, "tokens", "list", "--unused-since", "1h", "-o", "name").stdout; strings.Contains(got, oldID) {
		t.Errorf("--unused-since 1h lists the token just used: %q", got)
	}
	if got := op.must(t, "tokens", "list", "--expiring-before", "7d", "-o", "name").stdout; got != "" {
		t.Errorf("--expiring-before 7d: %q, want nothing", got)
	}
	if o := op.run(t, "tokens", "list", "--unused-since", "soon"); o.code == 0 {
		t.Errorf("--unused-since soon accepted: %q", o.stdout)
	}
	op.must(t, "tenants", "set-policy", "acme", "--clear")
	if got := op.must(t, "tenants", "get", "acme", "-o", "jsonpath={.policy.maxTokenLifetime}").stdout; got != "\n" && got != "" {
		t.Errorf("after --clear: maxTokenLifetime %q", got)
	}
}
