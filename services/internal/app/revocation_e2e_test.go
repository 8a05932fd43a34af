package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// verdict is what one verification path said of a token.
type verdict int

const (
	accepted verdict = iota
	refused
	unavailable
)

func (v verdict) String() string { return [...]string{"accepted", "refused", "unavailable"}[v] }

// paths are every way a token gets verified: introspection, the auth
// service's VerifyToken RPC, the registry's own Bearer check, and, when the
// deployment has Redis, the Go package a resource server imports.
type paths struct {
	e        *e2e
	auth     authv1.AuthServiceClient
	resource http.Handler // verify.HTTPMiddleware over a shared Redis set
}

func newPaths(t *testing.T, e *e2e) *paths {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+e.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &paths{e: e, auth: authv1.NewAuthServiceClient(conn)}
	if e.redis == nil {
		return p
	}
	client, err := revocation.ParseURL(e.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	set, err := revocation.NewRedis(client, revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	v, err := verify.New(verify.Config{
		Issuer: e.srv.Issuer(), Audience: e.srv.Issuer(),
		Keys:        verify.NewRemoteKeys(e.base+"/.well-known/jwks.json", verify.RemoteKeysOptions{}),
		Revocations: revocation.Checker(set),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.resource = verify.HTTPMiddleware(v)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return p
}

// check asks every path about the token.
func (p *paths) check(t *testing.T, id, secret, token string) map[string]verdict {
	t.Helper()
	out := map[string]verdict{}
	r := p.e.form("/oauth2/introspect", url.Values{"token": {token}}, id, secret)
	switch {
	case r.status == 200 && r.json(t)["active"] == true:
		out["introspection"] = accepted
	case r.status == 200:
		out["introspection"] = refused
	case r.status == 503:
		out["introspection"] = unavailable
	default:
		t.Fatalf("introspection answered %d %s", r.status, r.body)
	}
	_, err := p.auth.VerifyToken(context.Background(), &authv1.VerifyTokenRequest{Token: token})
	out["VerifyToken"] = grpcVerdict(t, err)
	if p.resource != nil {
		req := httptest.NewRequest("GET", "/resource", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		p.resource.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusNoContent:
			out["Go package"] = accepted
		case http.StatusUnauthorized:
			out["Go package"] = refused
		case http.StatusServiceUnavailable:
			out["Go package"] = unavailable
		default:
			t.Fatalf("Go package answered %d", rec.Code)
		}
	}
	return out
}

func grpcVerdict(t *testing.T, err error) verdict {
	t.Helper()
	switch status.Code(err) {
	case codes.OK:
		return accepted
	case codes.Unauthenticated:
		return refused
	case codes.Unavailable:
		return unavailable
	}
	t.Fatalf("VerifyToken: %v", err)
	return refused
}

func expectAll(t *testing.T, what string, got map[string]verdict, want verdict) {
	t.Helper()
	for path, v := range got {
		if v != want {
			t.Errorf("%s: %s says %s, want %s", what, path, v, want)
		}
	}
}

func TestCredentialRevocationReachesEveryVerifier(t *testing.T) {
	forEachDeployment(t, testCredentialRevocationReachesEveryVerifier)
}

func testCredentialRevocationReachesEveryVerifier(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	p := newPaths(t, e)
	at := e.accessToken(id, secret)
	expectAll(t, "a fresh token", p.check(t, id, secret, at), accepted)
	// The operator revokes the credential; the moment the call returns,
	// no path accepts its token.
	if r := e.do("POST", "/v1/tokens/"+id+":revoke", op, map[string]any{}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	got := p.check(t, e.opID, e.opSec, at) // the credential itself can no longer authenticate
	expectAll(t, "after the credential's revocation", got, refused)
}

// TestRedisLossNeverRevivesARevokedToken kills, flushes and restarts Redis
// in the middle of a run: a revoked token is never accepted by any path,
// and a valid one verifies again once the set is rebuilt.
func TestRedisLossNeverRevivesARevokedToken(t *testing.T) {
	for _, d := range deployments {
		if d.redis {
			t.Run(d.name, func(t *testing.T) { testRedisLoss(t, startE2E(t, d)) })
		}
	}
}

func testRedisLoss(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	p := newPaths(t, e)
	revoked, valid := e.accessToken(id, secret), e.accessToken(id, secret)
	if r := e.form("/oauth2/revoke", url.Values{"token": {revoked}}, id, secret); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	// inspect checks both tokens through every path; the revoked one must
	// never be accepted, whatever state Redis is in.
	inspect := func(what string) (validAccepted bool) {
		t.Helper()
		for path, v := range p.check(t, e.opID, e.opSec, revoked) {
			if v == accepted {
				t.Fatalf("%s: %s accepted a revoked token", what, path)
			}
		}
		validAccepted = true
		for _, v := range p.check(t, e.opID, e.opSec, valid) {
			validAccepted = validAccepted && v == accepted
		}
		return validAccepted
	}
	waitValid := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !inspect(what) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the valid token never verified again", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitValid("before any failure")

	// FLUSHALL: the set is lost; verifiers fail closed until the keeper
	// rebuilds it from the database.
	if err := flushAll(e); err != nil {
		t.Fatal(err)
	}
	inspect("right after FLUSHALL")
	waitValid("after FLUSHALL")

	// Kill: every path answers unavailable (never accepted), /readyz 503.
	e.redis.Kill()
	expectAll(t, "valid token with Redis dead", p.check(t, e.opID, e.opSec, valid), unavailable)
	inspect("with Redis dead")
	eventuallyReadyz(t, e, 503) // readiness follows within about 100 ms
	// Restart without persistence: empty, then rebuilt.
	e.redis.Restart()
	inspect("right after the restart")
	waitValid("after the restart")
	eventuallyReadyz(t, e, 200)
}

// eventuallyReadyz waits, for a few seconds at most, until /readyz answers
// want.
func eventuallyReadyz(t *testing.T, e *e2e, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.do("GET", "/readyz", "", nil)
		if r.status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s, want %d", r.status, r.body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func flushAll(e *e2e) error {
	client, err := revocation.ParseURL(e.redis.URL())
	if err != nil {
		return err
	}
	defer client.Close()
	return client.FlushAll(context.Background()).Err()
}
