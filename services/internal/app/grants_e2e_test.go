package app

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/chave/chave/services/internal/secrets"
)

// credential creates a tenant (once) and a credential with the contexts.
func (e *e2e) credential(t *testing.T, op string, body map[string]any) (id, secret string) {
	t.Helper()
	// 409: an earlier call of the test made it.
	if r := e.do("POST", "/v1/tenants", op, map[string]any{"id": "acme", "displayName": "Acme", "contexts": []string{"inventory", "commercial", "labels"}}); r.status != 200 && r.status != 409 {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	if body == nil {
		body = map[string]any{}
	}
	body["tenant"] = "acme"
	if body["displayName"] == nil {
		body["displayName"] = "integration"
	}
	if body["contexts"] == nil && body["generalAccess"] == nil {
		body["contexts"] = []string{"inventory", "commercial"}
	}
	r := e.do("POST", "/v1/tokens", op, body)
	if r.status != 200 {
		t.Fatalf("create credential: %d %s", r.status, r.body)
	}
	m := r.json(t)
	return m["clientId"].(string), m["clientSecret"].(string)
}

func (e *e2e) form(path string, form url.Values, basicID, basicSecret string) response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return e.send(req)
}

func (e *e2e) refresh(id, secret, refreshToken, scope string) response {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return e.form("/oauth2/token", form, id, secret)
}

func (e *e2e) introspect(callerID, callerSecret, token string) map[string]any {
	e.t.Helper()
	r := e.form("/oauth2/introspect", url.Values{"token": {token}}, callerID, callerSecret)
	if r.status != 200 {
		e.t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	return r.json(e.t)
}

// TestStandardOAuth2Client drives chave with golang.org/x/oauth2, a client
// written by nobody here.
func TestStandardOAuth2Client(t *testing.T) { forEachDeployment(t, testStandardOAuth2Client) }

func testStandardOAuth2Client(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.client)

	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.base + "/oauth2/token", Scopes: []string{"inventory"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("clientcredentials: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.Before(time.Now().Add(29*time.Minute)) {
		t.Fatalf("token = %+v", tok)
	}
	if got := tok.Extra("scope"); got != "inventory" {
		t.Fatalf("scope = %v", got)
	}
	// The same credentials in the body instead of Basic.
	cc.AuthStyle = oauth2.AuthStyleInParams
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("clientcredentials with body auth: %v", err)
	}

	// A refresh through oauth2.TokenSource: an expired token is refreshed.
	cfg := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: e.base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	stale := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	fresh, err := cfg.TokenSource(ctx, stale).Token()
	if err != nil {
		t.Fatalf("refresh through TokenSource: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.RefreshToken == "" {
		t.Fatal("refresh did not rotate the tokens")
	}
	claims := verifyWithGoJose(t, e, fresh.AccessToken)
	if claims["scope"] != "inventory" || claims["client_id"] != id {
		t.Fatalf("refreshed claims: %v", claims)
	}
	// A wrong secret: the library surfaces RFC 6749's invalid_client.
	bad := clientcredentials.Config{ClientID: id, ClientSecret: wrongSecret(t), TokenURL: e.base + "/oauth2/token"}
	_, err = bad.Token(ctx)
	var re *oauth2.RetrieveError
	if err == nil || !asRetrieveError(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
}

// wrongSecret returns another well-formed secret, so that the refusal comes
// from the keyed-hash comparison, not from the format check before it.
func wrongSecret(t *testing.T) string {
	t.Helper()
	s, err := secrets.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal()
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool {
	re, ok := err.(*oauth2.RetrieveError)
	if ok {
		*target = re
	}
	return ok
}

func TestRefreshRotationReuseAndRevocation(t *testing.T) {
	forEachDeployment(t, testRefreshRotationReuseAndRevocation)
}

func testRefreshRotationReuseAndRevocation(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	otherID, otherSecret := e.credential(t, op, map[string]any{"displayName": "other"})

	first := e.grant(id, secret, "").json(t)
	rt1 := first["refresh_token"].(string)
	r := e.refresh(id, secret, rt1, "")
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	second := r.json(t)
	rt2 := second["refresh_token"].(string)
	if got := e.introspect(id, secret, rt1); len(got) != 1 || got["active"] != false {
		t.Fatalf("a spent refresh token introspects %v", got)
	}
	if got := e.introspect(id, secret, rt2); got["active"] != true {
		t.Fatalf("the current refresh token introspects %v", got)
	}

	// Bound to its client.
	if r := e.refresh(otherID, otherSecret, rt2, ""); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("another client's refresh token: %d %s", r.status, r.body)
	}
	// Narrows, never widens.
	if r := e.refresh(id, secret, rt2, "inventory labels"); r.status != 400 || r.json(t)["error"] != "invalid_scope" {
		t.Fatalf("widening refresh: %d %s", r.status, r.body)
	}
	r = e.refresh(id, secret, rt2, "inventory")
	if r.status != 200 || r.json(t)["scope"] != "inventory" {
		t.Fatalf("narrowing refresh: %d %s", r.status, r.body)
	}
	third := r.json(t)
	if got := e.introspect(id, secret, third["access_token"].(string)); got["active"] != true {
		t.Fatalf("fresh access token introspects %v", got)
	}
	// Reuse of rt1: invalid_grant, and the whole family is revoked: the
	// newest refresh token and every access token descended from the grant.
	if r := e.refresh(id, secret, rt1, ""); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %s", r.status, r.body)
	}
	if r := e.refresh(id, secret, third["refresh_token"].(string), ""); r.status != 400 {
		t.Fatalf("newest refresh token after reuse: %d %s", r.status, r.body)
	}
	for _, at := range []any{first["access_token"], second["access_token"], third["access_token"]} {
		if got := e.introspect(id, secret, at.(string)); len(got) != 1 || got["active"] != false {
			t.Fatalf("access token of a revoked family introspects %v", got)
		}
	}
	// A new grant starts a new, healthy family.
	if r := e.grant(id, secret, ""); r.status != 200 {
		t.Fatalf("grant after family revocation: %d", r.status)
	}
}

func TestParallelRefreshExactlyOneWins(t *testing.T) {
	forEachDeployment(t, testParallelRefreshExactlyOneWins)
}

func testParallelRefreshExactlyOneWins(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	rt := e.grant(id, secret, "").json(t)["refresh_token"].(string)
	const n = 12
	statuses := make(chan response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses <- e.refresh(id, secret, rt, "")
		}()
	}
	close(start)
	wg.Wait()
	close(statuses)
	ok := 0
	for r := range statuses {
		switch {
		case r.status == 200:
			ok++
		case r.status == 400 && bytes.Contains(r.body, []byte(`"invalid_grant"`)):
		default:
			t.Errorf("parallel refresh answered %d %s", r.status, r.body)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d parallel refreshes succeeded, want exactly 1", ok, n)
	}
}

func TestCredentialRevocationAndRotationCutOffRefresh(t *testing.T) {
	forEachDeployment(t, testCredentialRevocationAndRotationCutOffRefresh)
}

func testCredentialRevocationAndRotationCutOffRefresh(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	g := e.grant(id, secret, "").json(t)

	// Rotation: the old refresh token dies with the old secret.
	newSecret := e.do("POST", "/v1/tokens/"+id+":rotate", op, map[string]any{}).json(t)["clientSecret"].(string)
	if r := e.refresh(id, newSecret, g["refresh_token"].(string), ""); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("refresh token from before rotation: %d %s", r.status, r.body)
	}
	g = e.grant(id, newSecret, "").json(t)
	if got := e.introspect(e.opID, e.opSec, g["access_token"].(string)); got["active"] != true || got["tenantid"] != "acme" {
		t.Fatalf("operator introspection = %v", got)
	}
	// Revocation: refresh refused, access tokens inactive.
	e.do("POST", "/v1/tokens/"+id+":revoke", op, map[string]any{})
	if r := e.refresh(id, newSecret, g["refresh_token"].(string), ""); r.status == 200 {
		t.Fatalf("refresh after credential revocation succeeded: %s", r.body)
	}
	if got := e.introspect(e.opID, e.opSec, g["access_token"].(string)); got["active"] != false {
		t.Fatalf("access token of a revoked credential introspects %v", got)
	}
}

func TestRevokeAndIntrospectEndpoints(t *testing.T) {
	forEachDeployment(t, testRevokeAndIntrospectEndpoints)
}

func testRevokeAndIntrospectEndpoints(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	otherID, otherSecret := e.credential(t, op, map[string]any{"displayName": "other"})
	inspectorID, inspectorSecret := e.credential(t, op, map[string]any{"displayName": "inspector", "contexts": []string{"inventory", "token.introspect"}})
	g := e.grant(id, secret, "").json(t)
	at := g["access_token"].(string)

	got := e.introspect(id, secret, at)
	for _, k := range []string{"scope", "client_id", "sub", "exp", "iat", "iss", "token_type", "tenantid"} {
		if got[k] == nil {
			t.Fatalf("introspection lacks %s: %v", k, got)
		}
	}
	if got["active"] != true || got["client_id"] != id || got["tenantid"] != "acme" || got["iss"] != e.srv.Issuer() {
		t.Fatalf("introspection = %v", got)
	}
	if got := e.introspect(otherID, otherSecret, at); len(got) != 1 || got["active"] != false {
		t.Fatalf("another client introspects a foreign token: %v", got)
	}
	if got := e.introspect(inspectorID, inspectorSecret, at); got["active"] != true {
		t.Fatalf("token.introspect of the same tenant: %v", got)
	}
	if got := e.introspect(id, secret, "garbage"); len(got) != 1 || got["active"] != false {
		t.Fatalf("garbage introspects %v", got)
	}
	if r := e.form("/oauth2/introspect", url.Values{"token": {at}}, id, "wrong"); r.status != 401 {
		t.Fatalf("introspection with a bad secret: %d", r.status)
	}

	// RFC 7009: another client cannot revoke it; the owner can; unknown
	// tokens answer 200.
	if r := e.form("/oauth2/revoke", url.Values{"token": {at}}, otherID, otherSecret); r.status >= 500 {
		t.Fatalf("another client's revocation: %d %s", r.status, r.body)
	}
	if e.introspect(id, secret, at)["active"] != true {
		t.Fatal("another client revoked the token")
	}
	if r := e.form("/oauth2/revoke", url.Values{"token": {"unknown"}}, id, secret); r.status != 200 {
		t.Fatalf("revoking an unknown token: %d %s", r.status, r.body)
	}
	if r := e.form("/oauth2/revoke", url.Values{"token": {at}}, id, secret); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if got := e.introspect(id, secret, at); got["active"] != false {
		t.Fatalf("revoked access token introspects %v", got)
	}
	// Revoking a refresh token revokes its family.
	rt := g["refresh_token"].(string)
	if got := e.introspect(id, secret, rt); got["active"] != true || got["token_use"] != "refresh_token" {
		t.Fatalf("refresh token introspects %v", got)
	}
	if r := e.form("/oauth2/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, id, secret); r.status != 200 {
		t.Fatalf("revoke refresh token: %d %s", r.status, r.body)
	}
	if r := e.refresh(id, secret, rt, ""); r.status != 400 {
		t.Fatalf("refresh after revocation: %d %s", r.status, r.body)
	}
}

func TestServerMetadata(t *testing.T) { forEachDeployment(t, testServerMetadata) }

func testServerMetadata(t *testing.T, e *e2e) {
	r := e.do("GET", "/.well-known/oauth-authorization-server", "", nil)
	if r.status != 200 {
		t.Fatalf("metadata: %d %s", r.status, r.body)
	}
	m := r.json(t)
	iss := e.srv.Issuer()
	want := map[string]string{
		"issuer": iss, "token_endpoint": iss + "/oauth2/token", "jwks_uri": iss + "/.well-known/jwks.json",
		"revocation_endpoint": iss + "/oauth2/revoke", "introspection_endpoint": iss + "/oauth2/introspect",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %q", k, m[k], v)
		}
	}
	for _, k := range []string{"grant_types_supported", "token_endpoint_auth_methods_supported", "scopes_supported"} {
		if l, _ := m[k].([]any); len(l) == 0 {
			t.Errorf("%s missing: %v", k, m[k])
		}
	}
}
