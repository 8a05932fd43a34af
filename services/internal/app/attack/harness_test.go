package attack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/testserver"
)

// target is a running `chave serve` over SQLite (and a real Redis), with the
// operator credential it printed, and clients for its HTTP and gRPC ports.
type target struct {
	t        *testing.T
	srv      *app.Server
	dir      string
	base     string
	redis    *testserver.Redis // nil with the in-process revocation set
	opID     string
	opSecret string
	http     *http.Client
	registry registryv1.RegistryServiceClient
	auth     authv1.AuthServiceClient
}

// deployment is a way to run chave serve.
type deployment struct {
	name  string
	redis bool // a real redis-server holds the revocation set; else the in-process set
}

var (
	embedded  = deployment{name: "sqlite"} // make run's
	withRedis = deployment{name: "sqlite+redis", redis: true}
)

// forEach runs the attack against chave serve in each deployment.
func forEach(t *testing.T, attack func(t *testing.T, tg *target)) {
	for _, d := range []deployment{embedded, withRedis} {
		t.Run(d.name, func(t *testing.T) { attack(t, start(t, d)) })
	}
}

// start starts chave serve the way `chave serve --db sqlite://…
// [--redis …]` does, in process.
func start(t *testing.T, d deployment) *target {
	t.Helper()
	dir := t.TempDir()
	var stdout bytes.Buffer
	cfg := app.Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
		DB:          "sqlite://" + filepath.Join(dir, "chave.db"),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		PrintBootstrapCredential: true, Stdout: &stdout,
		Logger: slog.New(slog.NewJSONHandler(&apptest.Buffer{}, nil)),
	}
	var redis *testserver.Redis
	if d.redis {
		redis = testserver.StartRedis(t)
		cfg.Redis, cfg.RedisRequireNoEviction = redis.URL(), true
	}
	srv, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	conn, err := grpc.NewClient("passthrough:///"+srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tg := &target{
		t: t, srv: srv, dir: dir, base: "http://" + srv.HTTPAddr(), redis: redis,
		http:     &http.Client{Timeout: 10 * time.Second},
		registry: registryv1.NewRegistryServiceClient(conn), auth: authv1.NewAuthServiceClient(conn),
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil || cred.ClientID == "" {
		t.Fatalf("no operator credential printed: %q", stdout.String())
	}
	tg.opID, tg.opSecret = cred.ClientID, cred.ClientSecret
	if d.redis {
		tg.waitForRevocationSet()
	}
	return tg
}

// waitForRevocationSet waits until the registry has built the Redis set
// for the first time: until then every verifier rightly answers
// unavailable (a set without its generation marker is a lost set).
func (tg *target) waitForRevocationSet() {
	tg.t.Helper()
	token := tg.operatorToken()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := tg.auth.VerifyToken(context.Background(), &authv1.VerifyTokenRequest{Token: token})
		if err == nil {
			return
		}
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			tg.t.Fatalf("VerifyToken of a fresh token while the set is built: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// on returns the target with its helpers failing t: for subtests, which
// must not fail their parent.
func (tg *target) on(t *testing.T) *target {
	c := *tg
	c.t = t
	return &c
}

// answer is an HTTP response, read whole.
type answer struct {
	status int
	header http.Header
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

// send sends req and reads the whole answer.
func (tg *target) send(req *http.Request) answer {
	tg.t.Helper()
	a, err := tg.try(req)
	if err != nil {
		tg.t.Fatal(err)
	}
	return a
}

// try sends req and reads the whole answer; for subtests, which must not
// fail the parent test.
func (tg *target) try(req *http.Request) (answer, error) {
	resp, err := tg.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, data}, err
}

// request builds a request; body is sent as JSON unless it is a string
// (sent as is) or url.Values (form-encoded).
func (tg *target) request(method, path, bearer string, body any) *http.Request {
	tg.t.Helper()
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, contentType = strings.NewReader(b), "application/json"
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			tg.t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, tg.base+path, rd)
	if err != nil {
		tg.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req
}

func (tg *target) do(method, path, bearer string, body any) answer {
	tg.t.Helper()
	return tg.send(tg.request(method, path, bearer, body))
}

// must requires status 200 and returns the JSON object answered.
func (tg *target) must(a answer, what string) map[string]any {
	tg.t.Helper()
	if a.status != 200 {
		tg.t.Fatalf("%s: %d %s", what, a.status, a.body)
	}
	if len(a.body) == 0 {
		return nil // RFC 7009's revoke answers an empty 200
	}
	return a.json(tg.t)
}

// form posts a form with HTTP Basic client authentication (none if id is
// empty).
func (tg *target) form(path string, form url.Values, id, secret string) answer {
	tg.t.Helper()
	req := tg.request("POST", path, "", form)
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return tg.send(req)
}

// grant runs the client-credentials grant and returns its JSON answer.
func (tg *target) grant(id, secret string) map[string]any {
	tg.t.Helper()
	return tg.must(tg.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret), "client-credentials grant")
}

func (tg *target) accessToken(id, secret string) string {
	tg.t.Helper()
	return tg.grant(id, secret)["access_token"].(string)
}

func (tg *target) operatorToken() string {
	tg.t.Helper()
	return tg.accessToken(tg.opID, tg.opSecret)
}

// tenant creates a tenant entitled to inventory and commercial.
func (tg *target) tenant(op, id string) {
	tg.t.Helper()
	tg.must(tg.do("POST", "/v1/tenants", op, map[string]any{"id": id, "displayName": id, "contexts": []string{"inventory", "commercial"}}), "create tenant "+id)
}

// credential creates a credential of the tenant with the contexts and
// returns its client id and secret.
func (tg *target) credential(op, tenant, name string, contexts ...string) (id, secret string) {
	tg.t.Helper()
	m := tg.must(tg.do("POST", "/v1/tokens", op, map[string]any{"displayName": name, "tenant": tenant, "contexts": contexts}), "create credential "+name)
	return m["clientId"].(string), m["clientSecret"].(string)
}

// withBearer returns a context whose outgoing gRPC metadata carries the
// access token.
func withBearer(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}
