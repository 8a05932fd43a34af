package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// TestNewCompanyPolicyEndToEnd: the operator sets a tenant's policy; a
// token beyond its maximum lifetime is refused naming the field and the
// limit, one within it works, one written before it is flagged and keeps
// working, and a client address outside the allowed ranges is refused
// like a wrong secret.
func TestNewCompanyPolicyEndToEnd(t *testing.T) { forEachDeployment(t, testCompanyPolicy) }

func testCompanyPolicy(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	// Written before the policy: no expiry.
	oldID, oldSecret := e.credential(t, op, map[string]any{"displayName": "before the policy"})
	adminID, adminSecret := e.credential(t, op, map[string]any{"contexts": []string{"registry.admin"},
		"expireTime": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})

	r := e.do("PATCH", "/v1/tenants/acme", op, map[string]any{"policy": map[string]any{
		"maxTokenLifetime": "7776000s", "grantableContexts": []string{"inventory"}}})
	if r.status != 200 {
		t.Fatalf("set policy: %d %s", r.status, r.body)
	}
	policy, _ := r.json(t)["policy"].(map[string]any)
	if policy["maxTokenLifetime"] != "7776000s" || fmt.Sprint(policy["grantableContexts"]) != "[inventory]" {
		t.Fatalf("tenant answer's policy: %s", r.body)
	}
	// Bad policies name their field.
	for _, bad := range []map[string]any{
		{"grantableContexts": []string{"telegram"}},
		{"allowedClientCidrs": []string{"10.0.0.1"}},
		{"maxTokenLifetime": "1s"},
	} {
		r := e.do("PATCH", "/v1/tenants/acme", op, map[string]any{"policy": bad})
		if r.status != 400 || !strings.Contains(string(r.body), "policy.") {
			t.Errorf("policy %v: %d %s, want 400 naming the field", bad, r.status, r.body)
		}
	}

	// The tenant's admin reads the policy but cannot change it.
	admin := e.accessToken(adminID, adminSecret)
	if r := e.do("GET", "/v1/tenants/acme", admin, nil); r.status != 200 || !strings.Contains(string(r.body), "7776000s") {
		t.Fatalf("tenant admin reads the tenant: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/v1/tenants/acme", admin, map[string]any{"policy": map[string]any{}}); r.status != 403 {
		t.Fatalf("tenant admin changes the policy: %d %s, want 403", r.status, r.body)
	}

	// Without an expiry, or beyond the maximum: refused, naming both.
	before := time.Now()
	for name, body := range map[string]map[string]any{
		"no expiry": {"displayName": "x", "tenant": "acme", "contexts": []string{"inventory"}},
		"too late": {"displayName": "x", "tenant": "acme", "contexts": []string{"inventory"},
			"expireTime": before.Add(91 * 24 * time.Hour).UTC().Format(time.RFC3339)},
	} {
		r := e.do("POST", "/v1/tokens", op, body)
		msg := string(r.body)
		if r.status != 400 || !strings.Contains(msg, "expireTime: ") || !strings.Contains(msg, "maxTokenLifetime 7776000s") ||
			!strings.Contains(msg, before.Add(90*24*time.Hour).UTC().Format("2006-01-02T")) {
			t.Errorf("%s: %d %s, want 400 naming expireTime, the limit and the policy", name, r.status, r.body)
		}
	}
	// Within it: created. By the tenant admin only with grantable contexts.
	within := before.Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if r := e.do("POST", "/v1/tokens", admin, map[string]any{"displayName": "x", "tenant": "acme",
		"contexts": []string{"commercial"}, "expireTime": within}); r.status != 400 || !strings.Contains(string(r.body), "contexts") {
		t.Errorf("tenant admin grants a context outside grantableContexts: %d %s, want 400", r.status, r.body)
	}
	r = e.do("POST", "/v1/tokens", admin, map[string]any{"displayName": "x", "tenant": "acme",
		"contexts": []string{"inventory"}, "expireTime": within})
	if r.status != 200 {
		t.Fatalf("token within the policy: %d %s", r.status, r.body)
	}
	newID := r.json(t)["clientId"].(string)
	// Updating the new token beyond the maximum is refused too.
	if r := e.do("PATCH", "/v1/tokens/"+newID, op, map[string]any{
		"expireTime": before.Add(200 * 24 * time.Hour).UTC().Format(time.RFC3339)}); r.status != 400 || !strings.Contains(string(r.body), "maxTokenLifetime") {
		t.Errorf("update beyond the maximum: %d %s, want 400", r.status, r.body)
	}

	// The old token breaks the policy: flagged, still working.
	got := e.do("GET", "/v1/tokens/"+oldID, op, nil).json(t)
	if fmt.Sprint(got["policyViolations"]) != "[expireTime]" {
		t.Errorf("old token's policyViolations = %v, want [expireTime]", got["policyViolations"])
	}
	if r := e.grant(oldID, oldSecret, ""); r.status != 200 {
		t.Errorf("old token's grant after the policy: %d %s", r.status, r.body)
	}
	if got := e.do("GET", "/v1/tokens/"+newID, op, nil).json(t); fmt.Sprint(got["policyViolations"]) != "[]" {
		t.Errorf("new token's policyViolations = %v, want none", got["policyViolations"])
	}

	// Allowed client ranges: the test client is at 127.0.0.1.
	if r := e.do("PATCH", "/v1/tenants/acme", op, map[string]any{"policy": map[string]any{
		"maxTokenLifetime": "7776000s", "allowedClientCidrs": []string{"203.0.113.0/24"}}}); r.status != 200 {
		t.Fatalf("set CIDRs: %d %s", r.status, r.body)
	}
	r = e.grant(oldID, oldSecret, "")
	if r.status != 401 || r.json(t)["error"] != "invalid_client" || strings.Contains(string(r.body), "203.0.113") {
		t.Errorf("grant from outside the ranges: %d %s, want 401 invalid_client revealing nothing", r.status, r.body)
	}
	// A client cannot claim an allowed address: the gateway trusts no proxy
	// by default, so X-Forwarded-For from the test client is ignored.
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", e.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.5")
	req.SetBasicAuth(url.QueryEscape(oldID), url.QueryEscape(oldSecret))
	if r := e.send(req); r.status != 401 {
		t.Errorf("grant claiming an allowed address in X-Forwarded-For: %d %s, want 401", r.status, r.body)
	}
	wrong := e.grant(oldID, "chave_sk_wrong", "")
	if string(wrong.body) != string(r.body) {
		t.Errorf("a refused address answers %s, a wrong secret %s: they must look alike", r.body, wrong.body)
	}
	if r := e.grant(e.opID, e.opSec, ""); r.status != 200 {
		t.Errorf("the operator is no tenant's: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/v1/tenants/acme", op, map[string]any{"policy": map[string]any{
		"allowedClientCidrs": []string{"203.0.113.0/24", "127.0.0.0/8"}}}); r.status != 200 {
		t.Fatalf("set CIDRs: %d %s", r.status, r.body)
	}
	if r := e.grant(oldID, oldSecret, ""); r.status != 200 {
		t.Errorf("grant from inside the ranges: %d %s", r.status, r.body)
	}
}

// TestNewUsageEndToEnd: the usage of a credential equals the grants made,
// succeeded and failed, while counted in memory and after the shutdown's
// flush; failures of unknown client ids count nowhere.
func TestNewUsageEndToEnd(t *testing.T) { forEachDeployment(t, testUsage) }

func testUsage(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, map[string]any{"issueRefreshTokens": true})
	otherID, otherSecret := e.credential(t, op, nil)
	const ok, failed = 5, 3
	for range ok - 1 {
		if r := e.grant(id, secret, ""); r.status != 200 {
			t.Fatalf("grant: %d %s", r.status, r.body)
		}
	}
	// A refresh grant counts as a grant too.
	r := e.grant(id, secret, "")
	rt, _ := r.json(t)["refresh_token"].(string)
	if r.status != 200 || rt == "" {
		t.Fatalf("grant with a refresh token: %d %s", r.status, r.body)
	}
	if r := e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, id, secret); r.status != 200 {
		t.Fatalf("refresh grant: %d %s", r.status, r.body)
	}
	for range failed {
		// A well-formed secret, another credential's: wrong for id.
		if r := e.grant(id, otherSecret, ""); r.status != 401 {
			t.Fatalf("grant with a wrong secret: %d %s", r.status, r.body)
		}
	}
	if r := e.grant("unknown-client", otherSecret, ""); r.status != 401 {
		t.Fatalf("grant of an unknown client: %d %s", r.status, r.body)
	}
	if r := e.grant(otherID, otherSecret, ""); r.status != 200 {
		t.Fatalf("other grant: %d %s", r.status, r.body)
	}
	// Summed over the days: the test may straddle a UTC midnight.
	r = e.do("GET", "/v1/tokens/"+id+"/usage", op, nil)
	if r.status != 200 {
		t.Fatalf("usage: %d %s", r.status, r.body)
	}
	var sumOK, sumFailed float64
	days, _ := r.json(t)["days"].([]any)
	for _, d := range days {
		day := d.(map[string]any)
		if date, _ := day["date"].(string); date != time.Now().UTC().Format(time.DateOnly) &&
			date != time.Now().Add(-time.Hour).UTC().Format(time.DateOnly) {
			t.Errorf("usage day %v is not today", day)
		}
		// int64 fields are JSON strings (protojson).
		var s, f float64
		fmt.Sscan(fmt.Sprint(day["succeeded"]), &s)
		fmt.Sscan(fmt.Sprint(day["failed"]), &f)
		sumOK, sumFailed = sumOK+s, sumFailed+f
	}
	if sumOK != ok+1 || sumFailed != failed || len(days) == 0 {
		t.Fatalf("usage: %s, want %d succeeded and %d failed", r.body, ok+1, failed)
	}
	// Owner-checked: another tenant's admin sees no such token.
	e.do("POST", "/v1/tenants", op, map[string]any{"id": "globex", "displayName": "Globex", "contexts": []string{"inventory"}})
	r = e.do("POST", "/v1/tokens", op, map[string]any{"displayName": "admin", "tenant": "globex", "contexts": []string{"registry.admin"}})
	foreign := r.json(t)
	foreignAdmin := e.accessToken(foreign["clientId"].(string), foreign["clientSecret"].(string))
	if r := e.do("GET", "/v1/tokens/"+id+"/usage", foreignAdmin, nil); r.status != 404 {
		t.Errorf("another tenant's usage: %d %s, want 404", r.status, r.body)
	}
	if r := e.do("GET", "/v1/tokens/"+id+"/usage?days=91", op, nil); r.status != 400 || !strings.Contains(string(r.body), "days") {
		t.Errorf("usage of 91 days: %d %s, want 400 naming days", r.status, r.body)
	}

	// Inactive and expiring filters.
	soon := time.Now().Add(2 * 24 * time.Hour).UTC().Format(time.RFC3339)
	expiringID, _ := e.credential(t, op, map[string]any{"expireTime": soon})
	week := url.QueryEscape(time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339))
	if got := listIDs(t, e, op, "/v1/tokens?tenant=acme&expireBefore="+week); !slices.Equal(got, []string{expiringID}) {
		t.Errorf("expireBefore a week: %v, want [%s]", got, expiringID)
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if got := listIDs(t, e, op, "/v1/tokens?tenant=acme&unusedSince="+future); !slices.Contains(got, id) || len(got) != 3 {
		t.Errorf("unusedSince an hour ahead: %v, want all three acme tokens", got)
	}
	past := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if got := listIDs(t, e, op, "/v1/tokens?tenant=acme&unusedSince="+past); len(got) != 0 {
		t.Errorf("unusedSince an hour ago: %v, want none (all created since)", got)
	}

	// Stopping flushes the counts: the database holds them all.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.srv.Stop(ctx)
	store, err := OpenStore(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored, err := store.ListTokenUsage(ctx, id, time.Now().Add(-24*time.Hour))
	var n chave.UsageDay
	for _, d := range stored {
		n.Succeeded, n.Failed = n.Succeeded+d.Succeeded, n.Failed+d.Failed
	}
	if err != nil || len(stored) == 0 || n.Succeeded != ok+1 || n.Failed != failed {
		t.Fatalf("stored usage after the shutdown: %+v, %v; want %d succeeded, %d failed", stored, err, ok+1, failed)
	}
}

func listIDs(t *testing.T, e *e2e, bearer, path string) []string {
	t.Helper()
	r := e.do("GET", path, bearer, nil)
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var out []string
	toks, _ := r.json(t)["tokens"].([]any)
	for _, tok := range toks {
		out = append(out, tok.(map[string]any)["id"].(string))
	}
	return out
}
