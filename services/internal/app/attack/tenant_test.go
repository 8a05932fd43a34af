package attack

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// TestCrossTenant has globex's administrator (a credential with
// registry.admin in tenant globex) try to reach acme's token over REST
// and over gRPC. Every row must be refused with 403 or 404
// (PermissionDenied or NotFound), carry none of acme's data, and leave
// the token as it was.
func TestCrossTenant(t *testing.T) { forEach(t, testCrossTenant) }

func testCrossTenant(t *testing.T, tg *target) {
	op := tg.operatorToken()
	tg.tenant(op, "acme")
	tg.tenant(op, "globex")
	victim, _ := tg.credential(op, "acme", "acme-financeiro", "inventory")
	acmeAdminID, acmeAdminSecret := tg.credential(op, "acme", "acme-admin", "registry.admin")
	globexID, globexSecret := tg.credential(op, "globex", "globex-admin", "registry.admin")
	attacker := tg.accessToken(globexID, globexSecret)
	// What must never appear in an answer to the attacker (a 404 may echo
	// the id it was asked for).
	secrets := []string{"acme-financeiro", "acme-admin", acmeAdminID}

	rest := []struct {
		name, method, path string
		body               any
	}{
		{"get acme's token", "GET", "/v1/tokens/" + victim, nil},
		{"list acme's token's events", "GET", "/v1/tokens/" + victim + "/events", nil},
		{"update acme's token", "PATCH", "/v1/tokens/" + victim, map[string]any{"displayName": "pwned"}},
		{"update acme's token with a tenant change", "PATCH", "/v1/tokens/" + victim, map[string]any{"tenant": "globex"}},
		{"revoke acme's token", "POST", "/v1/tokens/" + victim + ":revoke", map[string]any{}},
		{"rotate acme's token", "POST", "/v1/tokens/" + victim + ":rotate", map[string]any{}},
		{"list acme's tokens", "GET", "/v1/tokens?tenant=acme", nil},
		{"list acme's revoked tokens", "GET", "/v1/tokens?tenant=acme&state=TOKEN_STATE_REVOKED", nil},
		{"create a token in acme", "POST", "/v1/tokens", map[string]any{"displayName": "backdoor", "tenant": "acme", "contexts": []string{"inventory"}}},
		{"create an admin token in acme", "POST", "/v1/tokens", map[string]any{"displayName": "backdoor", "tenant": "acme", "contexts": []string{"registry.admin"}}},
		{"read acme's tenant", "GET", "/v1/tenants/acme", nil},
		{"update acme's tenant", "PATCH", "/v1/tenants/acme", map[string]any{"displayName": "pwned"}},
		{"widen its own tenant's entitlement", "PATCH", "/v1/tenants/globex", map[string]any{"contexts": []string{"inventory", "commercial", "labels"}}},
		{"list every tenant", "GET", "/v1/tenants", nil},
		{"create a tenant", "POST", "/v1/tenants", map[string]any{"id": "evil", "displayName": "evil"}},
		{"acme's contexts", "GET", "/v1/contexts?tenant=acme", nil},
		{"acme's token, id with a trailing slash", "GET", "/v1/tokens/" + victim + "/", nil},
		{"acme's token, id percent-encoded", "GET", "/v1/tokens/" + strings.ReplaceAll(victim, "_", "%5F"), nil},
	}
	// A tenant never changes: that is refused as bad input before anything
	// is looked up.
	alsoRefused := map[string]int{"update acme's token with a tenant change": 400}
	for _, row := range rest {
		t.Run("REST "+row.name, func(t *testing.T) {
			a := tg.on(t).do(row.method, row.path, attacker, row.body)
			if a.status != 403 && a.status != 404 && a.status != alsoRefused[row.name] {
				t.Errorf("%s %s: %d %s, want 403 or 404", row.method, row.path, a.status, a.body)
			}
			for _, s := range secrets {
				if bytes.Contains(a.body, []byte(s)) {
					t.Errorf("%s %s leaked %q: %s", row.method, row.path, s, a.body)
				}
			}
		})
	}
	// Its own list shows only its own tenant's tokens.
	t.Run("REST list without a tenant filter", func(t *testing.T) {
		a := tg.on(t).do("GET", "/v1/tokens", attacker, nil)
		if a.status != 200 && a.status != 403 {
			t.Fatalf("GET /v1/tokens: %d %s", a.status, a.body)
		}
		for _, s := range secrets {
			if bytes.Contains(a.body, []byte(s)) {
				t.Errorf("the unfiltered list leaked %q: %s", s, a.body)
			}
		}
	})

	ctx := withBearer(attacker)
	grpcRows := []struct {
		name string
		call func() (fmt.Stringer, error)
	}{
		{"GetToken", func() (fmt.Stringer, error) {
			return tg.registry.GetToken(ctx, &registryv1.GetTokenRequest{Id: victim})
		}},
		{"ListTokenEvents", func() (fmt.Stringer, error) {
			return tg.registry.ListTokenEvents(ctx, &registryv1.ListTokenEventsRequest{Id: victim})
		}},
		{"UpdateToken", func() (fmt.Stringer, error) {
			return tg.registry.UpdateToken(ctx, &registryv1.UpdateTokenRequest{
				Token:      &registryv1.Token{Id: victim, DisplayName: "pwned"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
			})
		}},
		{"RevokeToken", func() (fmt.Stringer, error) {
			return tg.registry.RevokeToken(ctx, &registryv1.RevokeTokenRequest{Id: victim})
		}},
		{"RotateToken", func() (fmt.Stringer, error) {
			return tg.registry.RotateToken(ctx, &registryv1.RotateTokenRequest{Id: victim})
		}},
		{"ListTokens of acme", func() (fmt.Stringer, error) {
			return tg.registry.ListTokens(ctx, &registryv1.ListTokensRequest{Tenant: "acme"})
		}},
		{"CreateToken in acme", func() (fmt.Stringer, error) {
			return tg.registry.CreateToken(ctx, &registryv1.CreateTokenRequest{DisplayName: "backdoor", Tenant: "acme", Contexts: []string{"registry.admin"}})
		}},
		{"GetTenant acme", func() (fmt.Stringer, error) {
			return tg.registry.GetTenant(ctx, &registryv1.GetTenantRequest{Id: "acme"})
		}},
		{"UpdateTenant acme", func() (fmt.Stringer, error) {
			return tg.registry.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{
				Tenant:     &registryv1.Tenant{Id: "acme", DisplayName: "pwned"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
			})
		}},
		{"CreateTenant", func() (fmt.Stringer, error) {
			return tg.registry.CreateTenant(ctx, &registryv1.CreateTenantRequest{Tenant: &registryv1.Tenant{Id: "evil", DisplayName: "evil"}})
		}},
	}

	for _, row := range grpcRows {
		t.Run("gRPC "+row.name, func(t *testing.T) {
			resp, err := row.call()
			if c := status.Code(err); c != codes.PermissionDenied && c != codes.NotFound {
				t.Errorf("%s: %v (%v), want PermissionDenied or NotFound", row.name, c, err)
			}
			if err == nil {
				for _, s := range secrets {
					if strings.Contains(resp.String(), s) {
						t.Errorf("%s leaked %q", row.name, s)
					}
				}
			}
		})
	}

	// Two authorization metadata values, the attacker's and then the
	// operator's, never carry the operator's rights.
	t.Run("gRPC GetToken with the operator's token as a second authorization value", func(t *testing.T) {
		twice := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+op)
		_, err := tg.registry.GetToken(twice, &registryv1.GetTokenRequest{Id: victim})
		switch status.Code(err) {
		case codes.Unauthenticated, codes.InvalidArgument, codes.PermissionDenied, codes.NotFound:
		default:
			t.Errorf("GetToken with two authorization values: %v, want it refused", err)
		}
	})

	// Nothing the attacker sent changed acme's token or tenant: acme's own
	// administrator still sees them as they were.
	acme := tg.accessToken(acmeAdminID, acmeAdminSecret)
	tok := tg.must(tg.do("GET", "/v1/tokens/"+victim, acme, nil), "acme reads its token")
	if tok["displayName"] != "acme-financeiro" || tok["tenant"] != "acme" || !strings.HasSuffix(fmt.Sprint(tok["state"]), "ACTIVE") {
		t.Errorf("acme's token changed: %v", tok)
	}
	if n := len(tg.must(tg.do("GET", "/v1/tokens/"+victim+"/events", acme, nil), "acme reads its events")["events"].([]any)); n != 1 {
		t.Errorf("acme's token has %d events, want 1 (its creation)", n)
	}
	list := tg.must(tg.do("GET", "/v1/tokens?tenant=acme", acme, nil), "acme lists its tokens")
	if n := len(list["tokens"].([]any)); n != 2 {
		t.Errorf("acme has %d tokens, want 2: %v", n, list)
	}
	tenant := tg.must(tg.do("GET", "/v1/tenants/globex", op, nil), "the operator reads globex")
	if fmt.Sprint(tenant["contexts"]) != "[commercial inventory]" && fmt.Sprint(tenant["contexts"]) != "[inventory commercial]" {
		t.Errorf("globex's entitlement changed: %v", tenant["contexts"])
	}
	if _, err := tg.registry.GetTenant(withBearer(op), &registryv1.GetTenantRequest{Id: "evil"}); status.Code(err) != codes.NotFound {
		t.Errorf("a tenant admin created a tenant: %v", err)
	}
}
