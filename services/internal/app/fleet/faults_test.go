//go:build linux

package fleet_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// outage is a TCP proxy in front of PostgreSQL that the test can take
// down (every connection cut, new ones refused) and bring back on the same
// address: PostgreSQL stopped, as chave sees it, without stopping the
// server other tests share.
type outage struct {
	addr, upstream string
	mu             sync.Mutex
	ln             net.Listener
	conns          map[net.Conn]struct{}
}

func newOutage(t *testing.T, upstream string) *outage {
	t.Helper()
	o := &outage{upstream: upstream, conns: map[net.Conn]struct{}{}}
	o.up(t, "127.0.0.1:0")
	o.addr = o.ln.Addr().String()
	t.Cleanup(func() { o.down() })
	return o
}

func (o *outage) up(t *testing.T, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; wait for the kernel to free it
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy listen %s: %v", addr, err)
	}
	o.mu.Lock()
	o.ln = ln
	o.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go o.serve(c)
		}
	}()
}

func (o *outage) serve(c net.Conn) {
	u, err := net.Dial("tcp", o.upstream)
	if err != nil {
		c.Close()
		return
	}
	o.mu.Lock()
	o.conns[c], o.conns[u] = struct{}{}, struct{}{}
	o.mu.Unlock()
	go func() { _, _ = io.Copy(u, c); u.Close() }()
	_, _ = io.Copy(c, u)
	c.Close()
}

// down refuses new connections and cuts every open one.
func (o *outage) down() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for c := range o.conns {
		c.Close()
		delete(o.conns, c)
	}
}

// counts is what the load saw.
type counts struct {
	grants, grantFailures     atomic.Int64 // 200s; 503s and transport errors while something is down
	revokes, revokeFailures   atomic.Int64
	checks                    atomic.Int64 // verifications of acknowledged revocations during the run
	revokedAccepted           atomic.Int64 // must stay 0
	status500                 atomic.Int64 // must stay 0
	status500PostgreSQL       atomic.Int64 // during and right after the PostgreSQL outage: reported (a known finding)
	postgresDown              atomic.Bool
	other5xx, transportErrors atomic.Int64 // reported

	mu    sync.Mutex
	acked []revokedCred // revokes that answered 200
}

type revokedCred struct{ id, token string }

// TestFleetFaultsUnderLoad runs the services apart over PostgreSQL and
// Redis under a steady load of grants, revocations and verifications, and
// breaks one thing after another: kill -9 of the registry, the auth service
// and the gateway, Redis killed and restarted empty, Redis flushed,
// PostgreSQL unreachable for 10 s. It prints the counts and requires 0
// revoked tokens accepted, 0 acknowledged revokes lost (every revoke that
// answered 200 is revoked at the end, on every verifier) and 0 HTTP 500s.
//
// Known finding, counted and logged but not yet required to be 0: when
// PostgreSQL's connections are cut, a few grants and introspections
// answer 500 (server_error) instead of 503; once that is fixed, fold
// status500PostgreSQL into status500.
func TestFleetFaultsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs PostgreSQL, Redis and three services under faults")
	}
	dir := t.TempDir()
	pgURL, err := url.Parse(testserver.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	pg := newOutage(t, pgURL.Host)
	pgURL.Host = pg.addr
	redis := testserver.StartRedis(t)
	pki := apptest.NewPKI(t, dir)
	bin := buildChave(t)
	gatewayAddr, registryAddr, authAddr := freePort(t), freePort(t), freePort(t)
	issuer := "http://" + gatewayAddr
	env := append(os.Environ(),
		"CHAVE_DB="+pgURL.String(), "CHAVE_REDIS="+redis.URL(), "CHAVE_REDIS_REQUIRE_NOEVICTION=true",
		"CHAVE_ISSUER="+issuer, "CHAVE_METRICS_ADDR=127.0.0.1:0", "CHAVE_LOG_LEVEL=warn",
		"CHAVE_HASH_KEY="+randomKey(t), "CHAVE_ENCRYPTION_KEY="+randomKey(t), "CHAVE_REFRESH_TOKEN_KEY="+randomKey(t),
		"CHAVE_SIGNING_KEYS_FILE="+filepath.Join(dir, "signing-keys.json"),
		"CHAVE_TLS_CERT="+pki.ServerCert, "CHAVE_TLS_KEY="+pki.ServerKey, "CHAVE_TLS_CLIENT_CA="+pki.CA,
		"CHAVE_TLS_CA="+pki.CA, "CHAVE_TLS_CLIENT_CERT="+pki.ClientCert, "CHAVE_TLS_CLIENT_KEY="+pki.ClientKey,
	)
	f := &fleet{t: t, bin: bin, env: env}
	t.Cleanup(f.cleanup)
	f.run("migrate")
	var op struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(f.run("bootstrap")), &op); err != nil || op.ClientID == "" {
		t.Fatalf("bootstrap: %v", err)
	}
	registry := f.start("registry", "registry", "--grpc-addr", registryAddr)
	auth := f.start("auth", "auth", "--grpc-addr", authAddr, "--registry", registryAddr)
	gateway := f.start("gateway", "gateway", "--http-addr", gatewayAddr, "--registry", registryAddr, "--auth", authAddr)

	c := &client{t: t, base: "http://" + gatewayAddr, http: &http.Client{Timeout: 10 * time.Second}}
	ready := func() bool { return c.do("GET", "/readyz", "", nil).status == 200 }
	eventually(t, "gateway /readyz 200", 30*time.Second, ready)
	opToken := c.want(c.grant(op.ClientID, op.ClientSecret), 200, "operator grant").json(t)["access_token"].(string)
	c.want(c.do("POST", "/v1/tenants", opToken, map[string]any{"id": "acme", "displayName": "Acme", "contexts": []string{"inventory"}}), 200, "create tenant")
	loadCred := c.want(c.do("POST", "/v1/tokens", opToken, map[string]any{"displayName": "load", "tenant": "acme", "contexts": []string{"inventory"}}), 200, "create credential").json(t)
	loadID, loadSecret := loadCred["clientId"].(string), loadCred["clientSecret"].(string)

	// The load: its requests may fail while something is down (503, or a
	// refused connection while the gateway is dead), never with a 500,
	// and a revoked token must never verify.
	var n counts
	httpc := &http.Client{Timeout: 10 * time.Second}
	send := func(req *http.Request) (int, []byte, bool) {
		resp, err := httpc.Do(req)
		if err != nil {
			n.transportErrors.Add(1)
			return 0, nil, false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		switch {
		case resp.StatusCode == 500 && n.postgresDown.Load():
			n.status500PostgreSQL.Add(1)
			t.Logf("HTTP 500 from %s %s with PostgreSQL cut off: %s", req.Method, req.URL.Path, body)
		case resp.StatusCode == 500:
			n.status500.Add(1)
			t.Errorf("HTTP 500 from %s %s: %s", req.Method, req.URL.Path, body)
		case resp.StatusCode > 500 && resp.StatusCode != 503:
			n.other5xx.Add(1)
		}
		return resp.StatusCode, body, true
	}
	form := func(path string, v url.Values, id, secret string) *http.Request {
		req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return req
	}
	jsonReq := func(method, path string, body any) *http.Request {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, c.base+path, strings.NewReader(string(data)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+opToken)
		return req
	}
	grant := func(id, secret string) (string, bool) {
		code, body, _ := send(form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret))
		if code != 200 {
			return "", false
		}
		var m struct {
			AccessToken string `json:"access_token"`
		}
		return m.AccessToken, json.Unmarshal(body, &m) == nil && m.AccessToken != ""
	}
	// active asks introspection; ok is false when it could not tell.
	active := func(token string) (isActive, ok bool) {
		code, body, _ := send(form("/oauth2/introspect", url.Values{"token": {token}}, op.ClientID, op.ClientSecret))
		if code != 200 {
			return false, false
		}
		var m struct{ Active bool }
		return m.Active, json.Unmarshal(body, &m) == nil
	}

	ctx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	pause := func() bool { // pacing between failed attempts, not synchronisation
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
			return true
		}
	}
	for range 2 { // grants
		load.Go(func() {
			for ctx.Err() == nil {
				if _, ok := grant(loadID, loadSecret); ok {
					n.grants.Add(1)
				} else {
					n.grantFailures.Add(1)
					pause()
				}
			}
		})
	}
	load.Go(func() { // revocations: create a credential, take a token, revoke the credential
		for i := 0; ctx.Err() == nil; i++ {
			code, body, _ := send(jsonReq("POST", "/v1/tokens", map[string]any{"displayName": fmt.Sprintf("r%d", i), "tenant": "acme", "contexts": []string{"inventory"}}))
			var cred struct{ ClientID, ClientSecret string }
			if code != 200 || json.Unmarshal(body, &cred) != nil {
				pause()
				continue
			}
			token, ok := grant(cred.ClientID, cred.ClientSecret)
			for !ok && pause() {
				token, ok = grant(cred.ClientID, cred.ClientSecret)
			}
			if !ok {
				return
			}
			for ctx.Err() == nil {
				code, _, _ := send(jsonReq("POST", "/v1/tokens/"+cred.ClientID+":revoke", map[string]any{}))
				if code == 200 {
					n.revokes.Add(1)
					n.mu.Lock()
					n.acked = append(n.acked, revokedCred{cred.ClientID, token})
					n.mu.Unlock()
					break
				}
				n.revokeFailures.Add(1)
				pause()
			}
		}
	})
	load.Go(func() { // verifications of what was revoked
		for i := 0; ctx.Err() == nil; i++ {
			n.mu.Lock()
			var r revokedCred
			if len(n.acked) > 0 {
				r = n.acked[i%len(n.acked)]
			}
			n.mu.Unlock()
			if r.token == "" {
				pause()
				continue
			}
			if isActive, ok := active(r.token); ok {
				n.checks.Add(1)
				if isActive {
					n.revokedAccepted.Add(1)
					t.Errorf("introspection accepted %s's token after its revoke answered 200", r.id)
				}
			} else {
				pause()
			}
		}
	})

	flush := func() {
		client, err := revocation.ParseURL(redis.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if err := client.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	steady := func(what string) {
		t.Helper()
		eventually(t, "ready after "+what, 30*time.Second, ready)
		// Let the load run on the recovered fleet for a moment.
		before := n.revokes.Load()
		eventually(t, "revocations after "+what, 30*time.Second, func() bool { return n.revokes.Load() > before })
	}
	faults := []struct {
		name    string
		inflict func()
	}{
		{"kill -9 of the registry", func() { registry.kill(); registry.launch() }},
		{"kill -9 of the auth service", func() { auth.kill(); auth.launch() }},
		{"kill -9 of the gateway", func() { gateway.kill(); gateway.launch() }},
		{"Redis killed and restarted empty", func() { redis.Kill(); redis.Restart() }},
		{"Redis FLUSHALL", flush},
		{"PostgreSQL unreachable for 10 s", func() {
			n.postgresDown.Store(true)
			pg.down()
			time.Sleep(10 * time.Second) // the outage itself
			pg.up(t, pg.addr)
		}},
	}
	steady("start")
	for _, fault := range faults {
		start := time.Now()
		fault.inflict()
		steady(fault.name)
		n.postgresDown.Store(false)
		t.Logf("%s: recovered in %v", fault.name, time.Since(start).Round(100*time.Millisecond))
	}
	stopLoad()
	load.Wait()

	// Every acknowledged revoke holds at the end, on every verifier: the
	// registry's record, introspection, the registry's Bearer check (a
	// revoked credential's token is refused, 401), the auth service's
	// VerifyToken over mutual TLS, and services/verify with the JWKS and
	// the Redis set.
	verifyToken := authVerifier(t, authAddr, pki)
	resource := resourceVerifier(t, issuer, redis.URL())
	lost := 0
	for _, r := range n.acked {
		a := c.do("GET", "/v1/tokens/"+r.id, opToken, nil)
		if a.status != 200 || !strings.HasSuffix(fmt.Sprint(a.json(t)["state"]), "REVOKED") {
			lost++
			t.Errorf("%s: revoke answered 200 but the registry says %d %s", r.id, a.status, a.body)
			continue
		}
		if isActive, ok := active(r.token); !ok || isActive {
			lost++
			t.Errorf("%s: introspection at the end: active %v, answered %v", r.id, isActive, ok)
		}
		if a := c.do("GET", "/v1/tokens?pageSize=1", r.token, nil); a.status != 401 {
			lost++
			t.Errorf("%s: the registry's Bearer check at the end: %d, want 401", r.id, a.status)
		}
		if code := verifyToken(r.token); code != codes.Unauthenticated {
			lost++
			t.Errorf("%s: VerifyToken at the end: %v, want Unauthenticated", r.id, code)
		}
		if err := resource(r.token); !isRevoked(err) {
			lost++
			t.Errorf("%s: services/verify at the end: %v, want the reason revoked", r.id, err)
		}
	}
	t.Logf("counts: grants %d (%d failed while something was down), revokes acknowledged %d (%d failed), "+
		"verifications of revoked tokens %d, revoked tokens accepted %d, acknowledged revokes lost %d, "+
		"HTTP 500s %d (and %d with PostgreSQL cut off), other 5xx %d, transport errors %d",
		n.grants.Load(), n.grantFailures.Load(), n.revokes.Load(), n.revokeFailures.Load(), n.checks.Load(),
		n.revokedAccepted.Load(), lost, n.status500.Load(), n.status500PostgreSQL.Load(), n.other5xx.Load(), n.transportErrors.Load())
	if n.status500PostgreSQL.Load() > 0 {
		// Where the 500s came from, for whoever fixes them.
		for _, p := range f.procs {
			for _, line := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(line, `"Internal"`) || strings.Contains(line, `"level":"ERROR"`) && !strings.Contains(line, "unavailable") {
					t.Logf("chave %s: %s", p.name, line)
				}
			}
		}
	}
	if n.revokedAccepted.Load() != 0 || lost != 0 || n.status500.Load() != 0 {
		t.Errorf("want 0 revoked tokens accepted, 0 acknowledged revokes lost, 0 HTTP 500s")
	}
	if n.revokes.Load() < int64(len(faults)) || n.checks.Load() == 0 || n.grants.Load() == 0 {
		t.Errorf("the load did too little to count: %d revokes, %d checks, %d grants", n.revokes.Load(), n.checks.Load(), n.grants.Load())
	}
}

// authVerifier returns a function that asks the auth service's VerifyToken
// over mutual TLS.
func authVerifier(t *testing.T, addr string, pki *apptest.PKI) func(token string) codes.Code {
	t.Helper()
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(pki.CA)
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA: %v", err)
	}
	cert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	auth := authv1.NewAuthServiceClient(conn)
	return func(token string) codes.Code {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := auth.VerifyToken(ctx, &authv1.VerifyTokenRequest{Token: token})
		if errors.Is(err, context.DeadlineExceeded) {
			return codes.DeadlineExceeded
		}
		return status.Code(err)
	}
}

func isRevoked(err error) bool {
	var e *verify.Error
	return errors.As(err, &e) && e.Reason == verify.ReasonRevoked
}

// resourceVerifier returns what a resource server's services/verify says
// of a token: the gateway's JWKS, the shared Redis revocation set.
func resourceVerifier(t *testing.T, issuer, redisURL string) func(token string) error {
	t.Helper()
	client, err := revocation.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	set, err := revocation.NewRedis(client, revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	v, err := verify.New(verify.Config{
		Issuer: issuer, Audience: issuer,
		Keys:        verify.NewRemoteKeys(issuer+"/.well-known/jwks.json", verify.RemoteKeysOptions{}),
		Revocations: revocation.Checker(set),
	})
	if err != nil {
		t.Fatal(err)
	}
	return func(token string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := v.Verify(ctx, token)
		return err
	}
}
