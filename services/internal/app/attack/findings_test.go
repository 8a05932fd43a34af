package attack

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// TestFindingsStayFixed replays what an attack and a fault run once found
// (issue 14's findings, by number): each row is one finding, what it sends
// and what it must get now.
func TestFindingsStayFixed(t *testing.T) { forEach(t, testFindingsStayFixed) }

func testFindingsStayFixed(t *testing.T, tg *target) {
	op := tg.operatorToken()
	tg.tenant(op, "acme")
	tg.tenant(op, "globex")
	id, secret := tg.credential(op, "acme", "client", "inventory")
	_, otherSecret := tg.credential(op, "globex", "other", "inventory")
	conn, err := grpc.NewClient("passthrough:///"+tg.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	credentials := registryv1.NewCredentialServiceClient(conn)

	wantStatus := func(t *testing.T, a answer, want int) {
		t.Helper()
		if a.status != want {
			t.Errorf("%d %s, want %d", a.status, a.body, want)
		}
	}
	wantCode := func(t *testing.T, err error, want codes.Code) {
		t.Helper()
		if status.Code(err) != want {
			t.Errorf("%v, want %v", err, want)
		}
	}
	introspect := func(token string) bool {
		m := tg.must(tg.form("/oauth2/introspect", url.Values{"token": {token}}, tg.opID, tg.opSecret), "introspect")
		return m["active"] == true
	}

	rows := []struct {
		finding int
		name    string
		check   func(t *testing.T)
	}{
		{1, "serve's public gRPC port offers no CredentialService", func(t *testing.T) {
			_, err := credentials.AuthenticateClient(t.Context(), &registryv1.AuthenticateClientRequest{ClientId: id, ClientSecret: secret})
			wantCode(t, err, codes.Unimplemented)
			_, err = credentials.RevokeIssuedToken(t.Context(), &registryv1.RevokeIssuedTokenRequest{ClientId: id, ClientSecret: secret})
			wantCode(t, err, codes.Unimplemented)
		}},
		{2, "REST: an expiry past 9999-12-31 is 400 naming expireTime", func(t *testing.T) {
			a := tg.do("POST", "/v1/tokens", op, `{"displayName": "far", "tenant": "acme", "contexts": ["inventory"], "expireTime": "10000-01-01T00:00:00Z"}`)
			wantStatus(t, a, 400)
			if !strings.Contains(string(a.body), "expireTime") {
				t.Errorf("the error names no field: %s", a.body)
			}
		}},
		{2, "gRPC: an expiry past 9999-12-31 is InvalidArgument", func(t *testing.T) {
			_, err := tg.registry.CreateToken(withBearer(op), &registryv1.CreateTokenRequest{
				DisplayName: "far", Tenant: "acme", Contexts: []string{"inventory"},
				ExpireTime: &timestamppb.Timestamp{Seconds: 253402300800},
			})
			wantCode(t, err, codes.InvalidArgument)
		}},
		{3, "the zero time is a past date, not never", func(t *testing.T) {
			wantStatus(t, tg.do("POST", "/v1/tokens", op, `{"displayName": "zero", "tenant": "acme", "contexts": ["inventory"], "expireTime": "0001-01-01T00:00:00Z"}`), 400)
			wantStatus(t, tg.do("PATCH", "/v1/tokens/"+id, op, `{"expireTime": "0001-01-01T00:00:00Z"}`), 400)
		}},
		{5, "failed client authentications are throttled: 429 with Retry-After", func(t *testing.T) {
			victim, _ := tg.credential(op, "acme", "guessed", "inventory")
			var last answer
			for range 20 {
				last = tg.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, victim, otherSecret)
				if last.status == http.StatusTooManyRequests {
					break
				}
				wantStatus(t, last, 401)
			}
			wantStatus(t, last, 429)
			if last.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}},
		{6, "a rotation without grace ends the old secret's access and refresh tokens", func(t *testing.T) {
			cid, csecret := tg.credential(op, "acme", "rotated", "inventory", "registry.admin")
			g := tg.grant(cid, csecret)
			tg.must(tg.do("POST", "/v1/tokens/"+cid+":rotate", op, map[string]any{}), "rotate")
			if introspect(g["access_token"].(string)) {
				t.Error("the old secret's access token is still active")
			}
			wantStatus(t, tg.do("GET", "/v1/tokens?tenant=acme", g["access_token"].(string), nil), 401)
			a := tg.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g["refresh_token"].(string)}}, "", "")
			if a.status == 200 {
				t.Errorf("the old secret's refresh token still refreshes: %s", a.body)
			}
		}},
		{7, "trailing data after a JSON body is 400", func(t *testing.T) {
			wantStatus(t, tg.do("POST", "/v1/tokens", op, `{"displayName": "t", "tenant": "acme", "contexts": ["inventory"]}xyz`), 400)
			wantStatus(t, tg.do("PATCH", "/v1/tokens/"+id, op, `{"description": "a"}{"description": "b"}`), 400)
		}},
		{7, "a control character in displayName is 400 naming it", func(t *testing.T) {
			a := tg.do("POST", "/v1/tokens", op, `{"displayName": "nul\u0000here", "tenant": "acme", "contexts": ["inventory"]}`)
			wantStatus(t, a, 400)
			if !strings.Contains(string(a.body), "displayName") {
				t.Errorf("the error names no field: %s", a.body)
			}
		}},
		{7, "a too-large body is 413", func(t *testing.T) {
			big := `{"displayName": "` + strings.Repeat("x", 2<<20) + `", "tenant": "acme", "contexts": ["inventory"]}`
			wantStatus(t, tg.do("POST", "/v1/tokens", op, big), 413)
			wantStatus(t, tg.do("POST", "/rest/WSTSSAUTH", "", big), 413)
		}},
		{7, "no /metrics on the public port", func(t *testing.T) {
			wantStatus(t, tg.do("GET", "/metrics", "", nil), 404)
		}},
		{0, "TSS: the document's refresh example, trailing comma and no credentials", func(t *testing.T) {
			refresh := tg.grant(id, secret)["refresh_token"].(string)
			body := fmt.Sprintf(`{"urlTSS": "https://tss.example.com:8080", "grantType": 2, "refreshToken": "%s", }`, refresh)
			a := tg.do("POST", "/rest/WSTSSAUTH", "", body)
			wantStatus(t, a, 200)
			if m := a.json(t); m["tokenType"] != "Bearer" || m["accesstoken"] == nil || len(m) != 4 {
				t.Errorf("not the TSS answer: %s", a.body)
			}
		}},
	}
	for _, row := range rows {
		t.Run(fmt.Sprintf("finding %d: %s", row.finding, row.name), row.check)
	}
}
