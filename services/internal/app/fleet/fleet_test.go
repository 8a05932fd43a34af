//go:build linux

// Package fleet_test runs chave as deploy/ does: the registry, the auth
// service and the gateway as separate processes of the real binary, over
// PostgreSQL and Redis, with mutual TLS between them, and kills them.
package fleet_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/testserver"
)

// fleet is the binary, the environment every process shares, and the
// processes started.
type fleet struct {
	t     *testing.T
	bin   string
	env   []string
	mu    sync.Mutex
	procs []*proc
}

// proc is one chave process; restart runs the same command again.
type proc struct {
	f      *fleet
	name   string
	args   []string
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	stdout *apptest.Buffer
	stderr *apptest.Buffer // every run's, for the failure report
}

// buildChave builds the chave binary once for the test.
func buildChave(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chave")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/chave/chave/services/cmd/chave")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// run runs a chave command to its end and returns its stdout.
func (f *fleet) run(args ...string) string {
	f.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(f.bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = f.env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("chave %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// start starts a long-running chave command and waits for its listening
// line.
func (f *fleet) start(name string, args ...string) *proc {
	f.t.Helper()
	p := &proc{f: f, name: name, args: args}
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	p.launch()
	return p
}

func (p *proc) launch() {
	t := p.f.t
	t.Helper()
	p.stdout = &apptest.Buffer{} // holds this run's listening line
	if p.stderr == nil {
		p.stderr = &apptest.Buffer{}
	} else {
		fmt.Fprintf(p.stderr, "---- chave %s restarted ----\n", p.name)
	}
	p.cmd = exec.Command(p.f.bin, p.args...)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.f.env, p.stdout, p.stderr
	// If the test binary dies, so do its services.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start chave %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.done) }() // the exit status is read by stop
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stdout.String(), "listening:") {
		select {
		case <-p.done:
			t.Fatalf("chave %s exited while starting: %v\n%s", p.name, p.cmd.ProcessState, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("chave %s did not start\n%s", p.name, p.stderr.String())
		}
	}
}

// listening returns an address of the listening line: "HTTP", "gRPC" or
// "metrics".
func (p *proc) listening(what string) string {
	m := regexp.MustCompile(what + ` ([^,\s]+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		p.f.t.Fatalf("chave %s printed no %s address: %q", p.name, what, p.stdout.String())
	}
	return m[1]
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill() // it may have exited already
	<-p.done
}

// stop sends SIGTERM and requires a clean exit: the server drained and
// returned.
func (p *proc) stop() {
	t := p.f.t
	select {
	case <-p.done:
		return // killed by the test
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("chave %s exited %d after SIGTERM", p.name, code)
		}
	case <-time.After(25 * time.Second):
		t.Errorf("chave %s did not stop within 25 s of SIGTERM", p.name)
		p.kill()
	}
}

func (f *fleet) cleanup() {
	for _, p := range f.procs {
		p.stop()
	}
	if f.t.Failed() {
		for _, p := range f.procs {
			f.t.Logf("==== chave %s stderr (tail)\n%s", p.name, tail(p.stderr.String(), 40))
		}
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// client talks to the gateway.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

type answer struct {
	status int
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not a JSON object (%d): %s", a.status, a.body)
	}
	return m
}

// do sends a request; body is JSON (a map) or a form (url.Values).
func (c *client) do(method, path, bearer string, body any, basic ...string) answer {
	c.t.Helper()
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, _ := json.Marshal(b)
		rd, contentType = bytes.NewReader(data), "application/json"
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, data}
}

func (c *client) want(a answer, status int, what string) answer {
	c.t.Helper()
	if a.status != status {
		c.t.Fatalf("%s: %d %s, want %d", what, a.status, a.body, status)
	}
	return a
}

// grant runs the client-credentials grant.
func (c *client) grant(id, secret string) answer {
	return c.do("POST", "/oauth2/token", "", url.Values{"grant_type": {"client_credentials"}}, id, secret)
}

func (c *client) introspect(opID, opSecret, token string) map[string]any {
	c.t.Helper()
	return c.want(c.do("POST", "/oauth2/introspect", "", url.Values{"token": {token}}, opID, opSecret), 200, "introspect").json(c.t)
}

// eventually polls check until it holds or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthWith asks the registry's health service over a connection with
// these credentials.
func healthWith(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// TestFleet walks a credential's life through the fleet, then kills the
// registry with SIGKILL: the gateway answers 503 (never 500) meanwhile, and
// once it is back everything recovers, the revocation it acknowledged
// before dying included.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs PostgreSQL, Redis and three services")
	}
	dir := t.TempDir()
	pg := testserver.Postgres(t)
	redis := testserver.StartRedis(t)
	pki := apptest.NewPKI(t, dir)
	bin := buildChave(t)
	gatewayAddr, registryAddr, authAddr := freePort(t), freePort(t), freePort(t)
	issuer := "http://" + gatewayAddr

	// The settings come from the environment, as deploy/ gives them; each
	// service reads those of its own flags.
	env := append(os.Environ(),
		"CHAVE_DB="+pg, "CHAVE_REDIS="+redis.URL(), "CHAVE_REDIS_REQUIRE_NOEVICTION=true",
		"CHAVE_ISSUER="+issuer, "CHAVE_METRICS_ADDR=127.0.0.1:0", "CHAVE_LOG_LEVEL=debug", "CHAVE_SHUTDOWN_DRAIN_DELAY=0s",
		"CHAVE_HASH_KEY="+randomKey(t), "CHAVE_ENCRYPTION_KEY="+randomKey(t), "CHAVE_REFRESH_TOKEN_KEY="+randomKey(t),
		"CHAVE_SIGNING_KEYS_FILE="+filepath.Join(dir, "signing-keys.json"),
		// Mutual TLS between the services.
		"CHAVE_TLS_CERT="+pki.ServerCert, "CHAVE_TLS_KEY="+pki.ServerKey, "CHAVE_TLS_CLIENT_CA="+pki.CA,
		"CHAVE_TLS_CA="+pki.CA, "CHAVE_TLS_CLIENT_CERT="+pki.ClientCert, "CHAVE_TLS_CLIENT_KEY="+pki.ClientKey,
		"CHAVE_INTERNAL_TOKEN="+randomKey(t),
	)
	f := &fleet{t: t, bin: bin, env: env}
	t.Cleanup(f.cleanup)

	f.run("migrate")
	f.run("migrate") // again: nothing to do
	var op struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(f.run("bootstrap")), &op); err != nil || op.ClientID == "" {
		t.Fatalf("bootstrap: %v", err)
	}
	registry := f.start("registry", "registry", "--grpc-addr", registryAddr)
	f.start("auth", "auth", "--grpc-addr", authAddr, "--registry", registryAddr)
	gateway := f.start("gateway", "gateway", "--http-addr", gatewayAddr, "--registry", registryAddr, "--auth", authAddr)

	c := &client{t: t, base: "http://" + gatewayAddr, http: &http.Client{Timeout: 10 * time.Second}}
	ready := func() bool { return c.do("GET", "/readyz", "", nil).status == 200 }
	eventually(t, "gateway /readyz 200", 20*time.Second, ready)

	// Metrics on the metrics listener, not on the public port.
	if a := c.do("GET", "/metrics", "", nil); a.status == 200 {
		t.Errorf("the public port serves /metrics")
	}
	metrics := (&client{t: t, base: "http://" + gateway.listening("metrics"), http: c.http}).do("GET", "/metrics", "", nil)
	if metrics.status != 200 || !strings.Contains(string(metrics.body), "chave_gateway_http_requests_total") {
		t.Errorf("gateway metrics listener: %d", metrics.status)
	}

	// mTLS: the registry answers a client with a certificate of the CA,
	// and refuses one without.
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(pki.CA)
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA: %v", err)
	}
	clientCert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := healthWith(t, registryAddr, credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}})); err != nil {
		t.Errorf("the registry refused a client with a certificate: %v", err)
	}
	if err := healthWith(t, registryAddr, credentials.NewTLS(&tls.Config{RootCAs: roots})); err == nil {
		t.Error("the registry answered a client without a certificate")
	}

	// A credential's life.
	opToken := c.want(c.grant(op.ClientID, op.ClientSecret), 200, "operator grant").json(t)["access_token"].(string)
	c.want(c.do("POST", "/v1/tenants", opToken, map[string]any{"id": "acme", "displayName": "Acme", "contexts": []string{"inventory"}}), 200, "create tenant")
	cred := c.want(c.do("POST", "/v1/tokens", opToken, map[string]any{"displayName": "fleet", "tenant": "acme", "contexts": []string{"inventory"}}), 200, "create credential").json(t)
	id, secret := cred["clientId"].(string), cred["clientSecret"].(string)
	granted := c.want(c.grant(id, secret), 200, "client-credentials grant").json(t)
	refreshed := c.want(c.do("POST", "/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {granted["refresh_token"].(string)}}, id, secret), 200, "refresh").json(t)
	access := refreshed["access_token"].(string)
	if got := c.introspect(op.ClientID, op.ClientSecret, access); got["active"] != true || got["tenantid"] != "acme" {
		t.Fatalf("fresh token introspects %v", got)
	}
	revoked := c.want(c.do("POST", "/v1/tokens/"+id+":revoke", opToken, map[string]any{}), 200, "revoke").json(t)
	if !strings.HasSuffix(fmt.Sprint(revoked["state"]), "REVOKED") {
		t.Fatalf("revoke answered %v", revoked)
	}
	if got := c.introspect(op.ClientID, op.ClientSecret, access); got["active"] != false {
		t.Fatalf("revoked credential's token introspects %v", got)
	}

	// SIGKILL: the acknowledged revocation must survive the registry's
	// death; meanwhile the gateway answers 503, never 500.
	registry.kill()
	// Readiness is the gateway's last check, made every 100 ms.
	eventually(t, "gateway /readyz 503 with the registry dead", 5*time.Second, func() bool { return !ready() })
	for what, a := range map[string]answer{
		"registry call":  c.do("GET", "/v1/tokens", opToken, nil),
		"/oauth2/token":  c.grant(op.ClientID, op.ClientSecret),
		"/readyz":        c.do("GET", "/readyz", "", nil),
		"create tenant":  c.do("POST", "/v1/tenants", opToken, map[string]any{"id": "globex", "displayName": "Globex"}),
		"/oauth2/revoke": c.do("POST", "/oauth2/revoke", "", url.Values{"token": {access}}, id, secret),
	} {
		if a.status != 503 {
			t.Errorf("%s with the registry dead: %d %s, want 503", what, a.status, a.body)
		}
	}

	registry.launch()
	eventually(t, "gateway /readyz 200 after the registry's restart", 15*time.Second, ready)
	registryProbes := &client{t: t, base: "http://" + registry.listening("metrics"), http: c.http}
	c.want(registryProbes.do("GET", "/healthz", "", nil), 200, "registry /healthz")
	c.want(registryProbes.do("GET", "/readyz", "", nil), 200, "registry /readyz")
	eventually(t, "registry calls after its restart", 15*time.Second, func() bool {
		return c.do("GET", "/v1/tokens/"+id, opToken, nil).status == 200
	})
	if got := c.do("GET", "/v1/tokens/"+id, opToken, nil).json(t)["state"]; !strings.HasSuffix(fmt.Sprint(got), "REVOKED") {
		t.Errorf("after the restart the credential is %v, want REVOKED", got)
	}
	if got := c.introspect(op.ClientID, op.ClientSecret, access); got["active"] != false {
		t.Errorf("after the restart the revoked credential's token introspects %v", got)
	}
	if a := c.grant(id, secret); a.status != 401 {
		t.Errorf("grant of the revoked credential after the restart: %d %s", a.status, a.body)
	}
	// Everything else works again.
	opToken = c.want(c.grant(op.ClientID, op.ClientSecret), 200, "operator grant after the restart").json(t)["access_token"].(string)
	cred = c.want(c.do("POST", "/v1/tokens", opToken, map[string]any{"displayName": "after", "tenant": "acme", "contexts": []string{"inventory"}}), 200, "create credential after the restart").json(t)
	fresh := c.want(c.grant(cred["clientId"].(string), cred["clientSecret"].(string)), 200, "grant after the restart").json(t)
	if got := c.introspect(op.ClientID, op.ClientSecret, fresh["access_token"].(string)); got["active"] != true {
		t.Errorf("a fresh token after the restart introspects %v", got)
	}
}
