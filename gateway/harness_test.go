package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// fakeAuth is an AuthService that records what it receives and answers
// what the test set.
type fakeAuth struct {
	authv1.UnimplementedAuthServiceServer

	mu        sync.Mutex
	tokenReqs []*authv1.TokenRequest
	tokenResp *authv1.TokenResponse
	tokenErr  error
	jwksCalls int
	jwks      []byte

	// calls logs the requests of the RPCs below, in order.
	calls          []proto.Message
	revokeErr      error
	introspectResp *authv1.IntrospectTokenResponse
	introspectErr  error
	metadata       *authv1.GetServerMetadataResponse
	metadataErr    error
}

// set changes the fake's answers under its lock.
func (f *fakeAuth) set(change func(*fakeAuth)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeAuth) log(req proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, proto.Clone(req))
}

// callsOf returns the requests of one RPC the fake received.
func callsOf[T proto.Message](f *fakeAuth) []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	var got []T
	for _, c := range f.calls {
		if req, ok := c.(T); ok {
			got = append(got, req)
		}
	}
	return got
}

func (f *fakeAuth) RevokeToken(_ context.Context, req *authv1.RevokeTokenRequest) (*authv1.RevokeTokenResponse, error) {
	f.log(req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revokeErr != nil {
		return nil, f.revokeErr
	}
	return &authv1.RevokeTokenResponse{}, nil
}

func (f *fakeAuth) IntrospectToken(_ context.Context, req *authv1.IntrospectTokenRequest) (*authv1.IntrospectTokenResponse, error) {
	f.log(req)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.introspectResp, f.introspectErr
}

func (f *fakeAuth) GetServerMetadata(_ context.Context, req *authv1.GetServerMetadataRequest) (*authv1.GetServerMetadataResponse, error) {
	f.log(req)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.metadata, f.metadataErr
}

func (f *fakeAuth) Token(_ context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenReqs = append(f.tokenReqs, proto.Clone(req).(*authv1.TokenRequest))
	if f.tokenErr != nil {
		return nil, f.tokenErr
	}
	return f.tokenResp, nil
}

func (f *fakeAuth) GetJwks(context.Context, *authv1.GetJwksRequest) (*authv1.GetJwksResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jwksCalls++
	return &authv1.GetJwksResponse{JwksJson: f.jwks}, nil
}

func (f *fakeAuth) answer(resp *authv1.TokenResponse, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenResp, f.tokenErr = resp, err
}

func (f *fakeAuth) requests() []*authv1.TokenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*authv1.TokenRequest(nil), f.tokenReqs...)
}

func (f *fakeAuth) jwksCallCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jwksCalls
}

// registryCall is one call the fake registry received.
type registryCall struct {
	method string
	md     metadata.MD
	req    proto.Message
}

// fakeRegistry is a RegistryService that records each call with its
// incoming metadata and answers what the test set.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer

	mu    sync.Mutex
	calls []registryCall
	token *registryv1.Token
	err   error
}

// record notes a call and returns the canned answer.
func (f *fakeRegistry) record(ctx context.Context, method string, req proto.Message) (*registryv1.Token, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, registryCall{method: method, md: md.Copy(), req: proto.Clone(req)})
	return f.token, f.err
}

func (f *fakeRegistry) answer(token *registryv1.Token, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token, f.err = token, err
}

func (f *fakeRegistry) callLog() []registryCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]registryCall(nil), f.calls...)
}

func (f *fakeRegistry) GetToken(ctx context.Context, req *registryv1.GetTokenRequest) (*registryv1.GetTokenResponse, error) {
	tok, err := f.record(ctx, "GetToken", req)
	if err != nil {
		return nil, err
	}
	return &registryv1.GetTokenResponse{Token: tok}, nil
}

func (f *fakeRegistry) CreateToken(ctx context.Context, req *registryv1.CreateTokenRequest) (*registryv1.CreateTokenResponse, error) {
	tok, err := f.record(ctx, "CreateToken", req)
	if err != nil {
		return nil, err
	}
	return &registryv1.CreateTokenResponse{Token: tok, ClientId: tok.GetId(), ClientSecret: "chave_secret"}, nil
}

func (f *fakeRegistry) RevokeToken(ctx context.Context, req *registryv1.RevokeTokenRequest) (*registryv1.RevokeTokenResponse, error) {
	tok, err := f.record(ctx, "RevokeToken", req)
	if err != nil {
		return nil, err
	}
	return &registryv1.RevokeTokenResponse{Token: tok}, nil
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is the gateway over real HTTP in front of real gRPC servers.
type harness struct {
	url  string
	auth *fakeAuth
	reg  *fakeRegistry
	logs *syncBuffer
}

// newHarness starts the fakes on a loopback gRPC listener and the gateway
// on an httptest.Server; edit adjusts the Config before New.
func newHarness(t *testing.T, edit func(*gateway.Config)) *harness {
	t.Helper()
	h := &harness{
		auth: &fakeAuth{jwks: []byte(`{"keys":[]}`)},
		reg:  &fakeRegistry{token: &registryv1.Token{Id: "tok_1", DisplayName: "Financeiro", Tenant: "acme"}},
		logs: &syncBuffer{},
	}
	conn := startGRPC(t, h.auth, h.reg)
	cfg := gateway.Config{
		Registry: conn,
		Auth:     conn,
		Logger:   slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	handler, err := gateway.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func startGRPC(t *testing.T, auth authv1.AuthServiceServer, reg registryv1.RegistryServiceServer) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	authv1.RegisterAuthServiceServer(srv, auth)
	registryv1.RegisterRegistryServiceServer(srv, reg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		// ErrServerStopped: the test ended before Serve began (it may
		// never have been called on).
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("grpc Serve: %v", err)
		}
	})
	return dial(t, lis.Addr().String())
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// do sends a request and returns the response with its body read.
func (h *harness) do(t *testing.T, method, path string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.url+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, buf.Bytes()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return addr
}
