package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/testserver"
)

const botToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// e2e is a running all-in-one server and an HTTP client for it.
type e2e struct {
	t      *testing.T
	srv    *Server
	base   string
	dir    string
	db     string // the --db URL
	logs   *apptest.Buffer
	opID   string
	opSec  string
	redis  *testserver.Redis // nil without Redis
	client *http.Client
}

// deployment is what an end-to-end run talks to.
type deployment struct {
	name  string
	db    func(t *testing.T, dir string) string // a --db URL
	redis bool                                  // a real redis-server for the revocation set
}

var deployments = []deployment{
	{name: "sqlite", db: sqliteURL},
	{name: "sqlite+redis", db: sqliteURL, redis: true},
	{name: "postgres+redis", db: func(t *testing.T, _ string) string { return testserver.Postgres(t) }, redis: true},
}

func sqliteURL(_ *testing.T, dir string) string { return "sqlite://" + filepath.Join(dir, "chave.db") }

// forEachDeployment runs the test against every deployment.
func forEachDeployment(t *testing.T, test func(t *testing.T, e *e2e)) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) { test(t, startE2E(t, d)) })
	}
}

func startE2E(t *testing.T, d deployment) *e2e {
	t.Helper()
	return startE2EWith(t, d, nil)
}

// startE2EWith is startE2E with the configuration changed by configure
// (nil: unchanged) before the server starts.
func startE2EWith(t *testing.T, d deployment, configure func(*Config)) *e2e {
	t.Helper()
	dir := t.TempDir()
	logs := &apptest.Buffer{}
	var stdout bytes.Buffer
	cfg := Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: d.db(t, dir),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		PrintBootstrapCredential: true, Stdout: &stdout,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	var redis *testserver.Redis
	if d.redis {
		redis = testserver.StartRedis(t)
		cfg.Redis, cfg.RedisRequireNoEviction = redis.URL(), true
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	e := &e2e{t: t, srv: srv, base: "http://" + srv.HTTPAddr(), dir: dir, db: cfg.DB, logs: logs, redis: redis, client: &http.Client{Timeout: 10 * time.Second}}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil || cred.ClientID == "" {
		t.Fatalf("no operator credential printed: %q", stdout.String())
	}
	e.opID, e.opSec = cred.ClientID, cred.ClientSecret
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (e *e2e) do(method, path, bearer string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.send(req)
}

func (e *e2e) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// grant runs the client-credentials grant with HTTP Basic.
func (e *e2e) grant(id, secret, scope string) response {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, _ := http.NewRequest("POST", e.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return e.send(req)
}

func (e *e2e) accessToken(id, secret string) string {
	e.t.Helper()
	r := e.grant(id, secret, "")
	if r.status != 200 {
		e.t.Fatalf("grant: %d %s", r.status, r.body)
	}
	return r.json(e.t)["access_token"].(string)
}

func TestEndToEnd(t *testing.T) { forEachDeployment(t, testEndToEnd) }

func testEndToEnd(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)

	// Tenants.
	r := e.do("POST", "/v1/tenants", op, map[string]any{"id": "acme", "displayName": "Acme Ltda", "contexts": []string{"inventory", "telegram", "foccohub", "commercial"}})
	if r.status != 200 {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	if got := r.json(t)["id"]; got != "acme" {
		t.Fatalf("tenant answer is not the bare tenant: %s", r.body)
	}
	if r := e.do("POST", "/v1/tenants", op, map[string]any{"id": "globex", "displayName": "Globex", "contexts": []string{"inventory"}}); r.status != 200 {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}

	// A token: the secret is shown once.
	r = e.do("POST", "/v1/tokens", op, map[string]any{
		"displayName": "Equipe financeiro", "description": "Token para consulta da equipe do financeiro",
		"tenant": "acme", "contexts": []string{"inventory", "telegram"},
		"parameters": map[string]any{"telegram": map[string]string{"botToken": botToken}},
		"expireTime": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
	if r.status != 200 {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	created := r.json(t)
	clientID, _ := created["clientId"].(string)
	secret, _ := created["clientSecret"].(string)
	if clientID == "" || !strings.HasPrefix(secret, "chave_sk_") {
		t.Fatalf("create answer lacks clientId/clientSecret: %s", r.body)
	}
	tok := created["token"].(map[string]any)
	if tok["id"] != clientID || tok["state"] != "TOKEN_STATE_ACTIVE" || tok["tenant"] != "acme" {
		t.Fatalf("created token: %v", tok)
	}
	masked := "********" + botToken[len(botToken)-4:]

	// get and list: no secret, masked bot token.
	for _, path := range []string{"/v1/tokens/" + clientID, "/v1/tokens", "/v1/tokens?tenant=acme&state=TOKEN_STATE_ACTIVE", "/v1/tokens/" + clientID + "/events"} {
		r := e.do("GET", path, op, nil)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		if bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte(botToken)) || bytes.Contains(r.body, []byte(botToken[12:])) {
			t.Fatalf("GET %s reveals a secret: %s", path, r.body)
		}
	}
	got := e.do("GET", "/v1/tokens/"+clientID, op, nil).json(t)
	if got["id"] != clientID || got["displayName"] != "Equipe financeiro" {
		t.Fatalf("GET token is not the bare token: %v", got)
	}
	if p := got["parameters"].(map[string]any)["telegram"].(map[string]any)["botToken"]; p != masked {
		t.Fatalf("bot token on read = %v, want %q", p, masked)
	}
	list := e.do("GET", "/v1/tokens?tenant=acme", op, nil).json(t)
	if tokens := list["tokens"].([]any); len(tokens) != 1 || tokens[0].(map[string]any)["id"] != clientID {
		t.Fatalf("list: %v", list)
	}
	if n := len(e.do("GET", "/v1/tokens?state=TOKEN_STATE_REVOKED&tenant=acme", op, nil).json(t)["tokens"].([]any)); n != 0 {
		t.Fatalf("revoked filter listed %d tokens", n)
	}

	// The credential obtains a JWT that an independent JOSE library verifies.
	r = e.grant(clientID, secret, "")
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("grant: %d %v %s", r.status, r.header, r.body)
	}
	body := r.json(t)
	if body["token_type"] != "Bearer" || body["expires_in"].(float64) != 1800 || body["scope"] != "inventory telegram" {
		t.Fatalf("grant answer: %s", r.body)
	}
	claims := verifyWithGoJose(t, e, body["access_token"].(string))
	if claims["sub"] != clientID || claims["client_id"] != clientID || claims["tenantid"] != "acme" ||
		claims["iss"] != e.srv.Issuer() || claims["scope"] != "inventory telegram" {
		t.Fatalf("claims: %v", claims)
	}
	for _, c := range []string{"aud", "iat", "exp", "jti"} {
		if claims[c] == nil {
			t.Fatalf("claim %s missing: %v", c, claims)
		}
	}
	// scope narrows, never widens.
	if r := e.grant(clientID, secret, "inventory"); r.status != 200 || r.json(t)["scope"] != "inventory" {
		t.Fatalf("narrowed grant: %d %s", r.status, r.body)
	}
	if r := e.grant(clientID, secret, "inventory commercial"); r.status != 400 || r.json(t)["error"] != "invalid_scope" {
		t.Fatalf("widened grant: %d %s", r.status, r.body)
	}
	// A plain access token cannot manage the registry.
	if r := e.do("GET", "/v1/tokens", body["access_token"].(string), nil); r.status != 403 {
		t.Fatalf("non-admin token on the registry: %d %s", r.status, r.body)
	}

	// Revoke: the credential no longer obtains tokens.
	r = e.do("POST", "/v1/tokens/"+clientID+":revoke", op, map[string]any{})
	if r.status != 200 || r.json(t)["state"] != "TOKEN_STATE_REVOKED" {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/tokens/"+clientID+":revoke", op, map[string]any{}); r.status != 200 {
		t.Fatalf("second revoke: %d %s", r.status, r.body)
	}
	r = e.grant(clientID, secret, "")
	if r.status != 401 || r.json(t)["error"] != "invalid_client" || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("grant after revoke: %d %v %s", r.status, r.header, r.body)
	}
	if n := len(e.do("GET", "/v1/tokens?state=TOKEN_STATE_REVOKED&tenant=acme", op, nil).json(t)["tokens"].([]any)); n != 1 {
		t.Fatalf("revoked token not listed as history (%d)", n)
	}

	assertNoSecretsAtRest(t, e, secret, botToken)
}

func verifyWithGoJose(t *testing.T, e *e2e, raw string) map[string]any {
	t.Helper()
	r := e.do("GET", "/.well-known/jwks.json", "", nil)
	if r.status != 200 {
		t.Fatalf("jwks: %d %s", r.status, r.body)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &jwks); err != nil || len(jwks.Keys) == 0 {
		t.Fatalf("jwks: %v %s", err, r.body)
	}
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	if h.ExtraHeaders["typ"] != "at+jwt" || h.KeyID == "" {
		t.Fatalf("header typ %v kid %q", h.ExtraHeaders["typ"], h.KeyID)
	}
	keys := jwks.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", h.KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify against the JWKS: %v", err)
	}
	return claims
}

func assertNoSecretsAtRest(t *testing.T, e *e2e, needles ...string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.dir, "*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) || bytes.Contains(data, []byte(n[10:])) {
				t.Errorf("%s holds a secret in plaintext", filepath.Base(f))
			}
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "token created") {
		t.Error("the logs were not captured")
	}
	for _, n := range needles {
		if strings.Contains(logs, n[10:]) {
			t.Error("the logs hold a secret")
		}
	}
}

func TestEndToEndBadInput(t *testing.T) { forEachDeployment(t, testEndToEndBadInput) }

func testEndToEndBadInput(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	for _, tn := range []map[string]any{
		{"id": "acme", "displayName": "Acme", "contexts": []string{"inventory", "telegram", "foccohub"}},
		{"id": "globex", "displayName": "Globex", "contexts": []string{"inventory"}},
	} {
		if r := e.do("POST", "/v1/tenants", op, tn); r.status != 200 {
			t.Fatalf("create tenant: %d %s", r.status, r.body)
		}
	}
	valid := func(edit func(map[string]any)) map[string]any {
		m := map[string]any{"displayName": "x", "tenant": "acme", "contexts": []string{"inventory"}}
		edit(m)
		return m
	}
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing display name", valid(func(m map[string]any) { delete(m, "displayName") }), "displayName"},
		{"expire time in the past", valid(func(m map[string]any) { m["expireTime"] = "2020-01-01T00:00:00Z" }), "expireTime"},
		{"unknown context", valid(func(m map[string]any) { m["contexts"] = []string{"nope"} }), "contexts"},
		{"not entitled", valid(func(m map[string]any) { m["contexts"] = []string{"labels"} }), "contexts"},
		{"general and custom", valid(func(m map[string]any) { m["generalAccess"] = true }), "generalAccess"},
		{"neither", valid(func(m map[string]any) { delete(m, "contexts") }), "contexts"},
		{"marketplace not in list", valid(func(m map[string]any) {
			m["contexts"] = []string{"foccohub"}
			m["parameters"] = map[string]any{"foccohub": map[string]any{"marketplace": "ebay"}}
		}), "parameters.foccohub.marketplace"},
		{"malformed bot token", valid(func(m map[string]any) {
			m["contexts"] = []string{"telegram"}
			m["parameters"] = map[string]any{"telegram": map[string]any{"botToken": "12:nope"}}
		}), "parameters.telegram.botToken"},
		{"parameter not a string", valid(func(m map[string]any) {
			m["contexts"] = []string{"telegram"}
			m["parameters"] = map[string]any{"telegram": map[string]any{"botToken": 12}}
		}), "parameters.telegram.botToken"},
		{"unknown tenant", valid(func(m map[string]any) { m["tenant"] = "nope" }), "tenant"},
		{"missing tenant", valid(func(m map[string]any) { delete(m, "tenant") }), "tenant"},
		{"malformed JSON", `{"displayName": "x",`, ""},
		{"unknown field", `{"displayName": "x", "tenant": "acme", "contexts": ["inventory"], "colour": 1}`, ""},
		{"bad timestamp", valid(func(m map[string]any) { m["expireTime"] = "tomorrow" }), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/v1/tokens", op, tc.body)
			if r.status != 400 {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			m := r.json(t)
			msg, _ := m["message"].(string)
			if m["code"] == nil || msg == "" {
				t.Fatalf("not a status body: %s", r.body)
			}
			if tc.field != "" && !strings.HasPrefix(msg, tc.field+":") {
				t.Fatalf("message %q does not name %s", msg, tc.field)
			}
		})
	}

	// No bearer, a bad bearer: 401.
	for _, bearer := range []string{"", "not-a-jwt", op + "x"} {
		if r := e.do("GET", "/v1/tokens", bearer, nil); r.status != 401 {
			t.Errorf("bearer %.10q: %d %s", bearer, r.status, r.body)
		}
	}
	// A tenant admin never sees another tenant's token.
	r := e.do("POST", "/v1/tokens", op, map[string]any{"displayName": "admin", "tenant": "globex", "contexts": []string{"registry.admin"}})
	adminCred := r.json(t)
	globexAdmin := e.accessToken(adminCred["clientId"].(string), adminCred["clientSecret"].(string))
	acmeTok := e.do("POST", "/v1/tokens", op, valid(func(map[string]any) {})).json(t)["clientId"].(string)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/tokens/" + acmeTok, nil},
		{"GET", "/v1/tokens/" + acmeTok + "/events", nil},
		{"POST", "/v1/tokens/" + acmeTok + ":revoke", map[string]any{}},
		{"POST", "/v1/tokens/" + acmeTok + ":rotate", map[string]any{}},
		{"PATCH", "/v1/tokens/" + acmeTok, map[string]any{"displayName": "pwned"}},
	} {
		r := e.do(req.method, req.path, globexAdmin, req.body)
		if r.status != 404 && r.status != 403 {
			t.Errorf("%s %s by another tenant: %d %s", req.method, req.path, r.status, r.body)
		}
		if bytes.Contains(r.body, []byte(`"displayName"`)) {
			t.Errorf("%s %s leaked data: %s", req.method, req.path, r.body)
		}
	}
	if r := e.do("GET", "/v1/tokens?tenant=acme", globexAdmin, nil); r.status != 403 {
		t.Errorf("list of another tenant: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/tenants", globexAdmin, map[string]any{"id": "x", "displayName": "x"}); r.status != 403 {
		t.Errorf("tenant admin created a tenant: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/tokens/"+acmeTok+"-missing", op, nil); r.status != 404 {
		t.Errorf("missing token: %d", r.status)
	}
	// The token is untouched by the other tenant's attempts.
	if r := e.do("GET", "/v1/tokens/"+acmeTok, op, nil).json(t); r["state"] != "TOKEN_STATE_ACTIVE" || r["displayName"] != "x" {
		t.Errorf("another tenant changed the token: %v", r)
	}
}

func TestEndToEndUpdateRotateContexts(t *testing.T) {
	forEachDeployment(t, testEndToEndUpdateRotateContexts)
}

func testEndToEndUpdateRotateContexts(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	e.do("POST", "/v1/tenants", op, map[string]any{"id": "acme", "displayName": "Acme", "contexts": []string{"inventory", "commercial"}})
	c := e.do("POST", "/v1/tokens", op, map[string]any{"displayName": "x", "tenant": "acme", "generalAccess": true}).json(t)
	id, secret := c["clientId"].(string), c["clientSecret"].(string)

	// PATCH changes only the fields in the body.
	r := e.do("PATCH", "/v1/tokens/"+id, op, map[string]any{"description": "nova descrição"})
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["description"] != "nova descrição" || m["displayName"] != "x" || m["generalAccess"] != true {
		t.Fatalf("patch answer: %v", m)
	}
	if r := e.do("PATCH", "/v1/tokens/"+id, op, map[string]any{"expireTime": "2001-01-01T00:00:00Z"}); r.status != 400 {
		t.Fatalf("patch into the past: %d %s", r.status, r.body)
	}
	// General access follows the tenant's entitlement at grant time.
	if r := e.grant(id, secret, ""); r.json(t)["scope"] != "commercial inventory" {
		t.Fatalf("general access scope: %s", r.body)
	}
	if r := e.do("PATCH", "/v1/tenants/acme", op, map[string]any{"contexts": []string{"inventory", "commercial", "labels"}}); r.status != 200 {
		t.Fatalf("patch tenant: %d %s", r.status, r.body)
	}
	if r := e.grant(id, secret, ""); r.json(t)["scope"] != "commercial inventory labels" {
		t.Fatalf("general access after entitlement grew: %s", r.body)
	}
	// Rotate: new secret once, the old one stops working.
	r = e.do("POST", "/v1/tokens/"+id+":rotate", op, map[string]any{})
	newSecret, _ := r.json(t)["clientSecret"].(string)
	if r.status != 200 || newSecret == "" || newSecret == secret {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if r := e.grant(id, secret, ""); r.status != 401 {
		t.Fatalf("old secret after rotate: %d", r.status)
	}
	if r := e.grant(id, newSecret, ""); r.status != 200 {
		t.Fatalf("new secret after rotate: %d %s", r.status, r.body)
	}
	// Contexts as entitled for the tenant, with parameter schemas.
	r = e.do("GET", "/v1/contexts?tenant=acme", op, nil)
	if n := len(r.json(t)["contexts"].([]any)); r.status != 200 || n != 3 {
		t.Fatalf("contexts: %d %s", r.status, r.body)
	}
	all := e.do("GET", "/v1/contexts", op, nil).json(t)["contexts"].([]any)
	if len(all) != 11 {
		t.Fatalf("catalog has %d contexts", len(all))
	}
	events := e.do("GET", "/v1/tokens/"+id+"/events", op, nil).json(t)["events"].([]any)
	if len(events) != 3 { // create, update, rotate: the refused patch wrote nothing
		t.Fatalf("events: %v", events)
	}
}
