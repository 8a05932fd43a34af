package auth_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
)

// fakeRegistry answers every RPC with a fixed response or error and
// records the requests and whether they came with a deadline.
type fakeRegistry struct {
	registryv1.UnimplementedCredentialServiceServer
	mu          sync.Mutex
	resp        *registryv1.AuthenticateClientResponse
	useResp     *registryv1.UseRefreshTokenResponse
	checkResp   *registryv1.CheckIssuedTokenResponse
	err         error
	got         proto.Message
	hadDeadline bool
}

func (f *fakeRegistry) record(ctx context.Context, req proto.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = req
	_, f.hadDeadline = ctx.Deadline()
	return f.err
}

func (f *fakeRegistry) AuthenticateClient(ctx context.Context, req *registryv1.AuthenticateClientRequest) (*registryv1.AuthenticateClientResponse, error) {
	if err := f.record(ctx, req); err != nil {
		return nil, err
	}
	return f.resp, nil
}

func (f *fakeRegistry) UseRefreshToken(ctx context.Context, req *registryv1.UseRefreshTokenRequest) (*registryv1.UseRefreshTokenResponse, error) {
	if err := f.record(ctx, req); err != nil {
		return nil, err
	}
	return f.useResp, nil
}

func (f *fakeRegistry) RevokeIssuedToken(ctx context.Context, req *registryv1.RevokeIssuedTokenRequest) (*registryv1.RevokeIssuedTokenResponse, error) {
	if err := f.record(ctx, req); err != nil {
		return nil, err
	}
	return &registryv1.RevokeIssuedTokenResponse{}, nil
}

func (f *fakeRegistry) CheckIssuedToken(ctx context.Context, req *registryv1.CheckIssuedTokenRequest) (*registryv1.CheckIssuedTokenResponse, error) {
	if err := f.record(ctx, req); err != nil {
		return nil, err
	}
	return f.checkResp, nil
}

// dialRegistry serves reg on an in-memory gRPC connection.
func dialRegistry(t testing.TB, reg registryv1.CredentialServiceServer) registryv1.CredentialServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	registryv1.RegisterCredentialServiceServer(gs, reg)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///registry",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return registryv1.NewCredentialServiceClient(conn)
}

func TestRegistryAuthenticatorSuccess(t *testing.T) {
	expire := now.Add(10 * time.Minute)
	reg := &fakeRegistry{resp: &registryv1.AuthenticateClientResponse{Client: &registryv1.Client{
		ClientId: "client-1", Tenant: "acme",
		Scopes:     []string{"inventory", "commercial", "inventory"},
		ExpireTime: timestamppb.New(expire), Operator: true, IssueRefreshTokens: true, SecretVersion: "sv1",
	}}}
	a := auth.NewRegistryClient(dialRegistry(t, reg))
	got, err := a.AuthenticateClient(context.Background(), "client-1", secret)
	if err != nil {
		t.Fatalf("AuthenticateClient: %v", err)
	}
	want := auth.Client{
		ID: "client-1", Tenant: "acme", Scopes: []string{"commercial", "inventory"},
		ExpireTime: expire, Operator: true, IssueRefreshTokens: true, SecretVersion: "sv1",
	}
	if !clientsEqual(got, want) {
		t.Errorf("client = %+v, want %+v", got, want)
	}
	if !proto.Equal(reg.got, &registryv1.AuthenticateClientRequest{ClientId: "client-1", ClientSecret: secret}) {
		t.Errorf("registry got %v, want the client's id and secret", reg.got)
	}
	if !reg.hadDeadline {
		t.Error("the registry call had no deadline")
	}

	reg.resp = &registryv1.AuthenticateClientResponse{Client: &registryv1.Client{ClientId: "client-1"}}
	got, err = a.AuthenticateClient(context.Background(), "client-1", secret)
	if err != nil || !got.ExpireTime.IsZero() {
		t.Errorf("without an expire time: %+v, %v; want a zero ExpireTime (never expires)", got, err)
	}
}

func TestRegistryAuthenticatorErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		resp *registryv1.AuthenticateClientResponse
		want chave.Code
	}{
		{"unauthenticated", status.Error(codes.Unauthenticated, "bad secret"), nil, chave.Unauthenticated},
		{"not found", status.Error(codes.NotFound, "no such client"), nil, chave.Unauthenticated},
		{"permission denied", status.Error(codes.PermissionDenied, "revoked"), nil, chave.Unauthenticated},
		{"unavailable", status.Error(codes.Unavailable, "db down"), nil, chave.Unavailable},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, "slow"), nil, chave.Unavailable},
		{"internal", status.Error(codes.Internal, "bug"), nil, chave.Internal},
		{"another client", nil, &registryv1.AuthenticateClientResponse{Client: &registryv1.Client{ClientId: "client-2"}}, chave.Internal},
		{"no client", nil, &registryv1.AuthenticateClientResponse{}, chave.Internal},
		{"bad expire time", nil, &registryv1.AuthenticateClientResponse{Client: &registryv1.Client{
			ClientId: "client-1", ExpireTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -1},
		}}, chave.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := auth.NewRegistryClient(dialRegistry(t, &fakeRegistry{resp: tt.resp, err: tt.err}))
			_, err := a.AuthenticateClient(context.Background(), "client-1", secret)
			if got := chave.ErrorCode(err); got != tt.want {
				t.Errorf("error %v has code %q, want %q", err, got, tt.want)
			}
		})
	}
}

// TestRegistryDown runs the whole grant against a registry that is not
// listening: the client hears temporarily_unavailable, with codes.Unavailable.
func TestRegistryDown(t *testing.T) {
	lis := bufconn.Listen(1 << 10)
	lis.Close()
	conn, err := grpc.NewClient("passthrough:///registry",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keys := keySetFor(t, jwa.ES256)
	srv, err := auth.NewServer(baseConfig(t, keys), auth.NewRegistryClient(registryv1.NewCredentialServiceClient(conn)), keys)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = call(ctx, srv, srv.Token, ccRequest(""))
	wantOAuthError(t, err, codes.Unavailable, "temporarily_unavailable")
}

// TestGrantThroughRegistry wires the grant to the registry adapter: the
// invalid_client answer does not depend on what the registry said.
func TestGrantThroughRegistry(t *testing.T) {
	reg := &fakeRegistry{}
	keys := keySetFor(t, jwa.ES256)
	srv, err := auth.NewServer(baseConfig(t, keys), auth.NewRegistryClient(dialRegistry(t, reg)), keys)
	if err != nil {
		t.Fatal(err)
	}
	var first *status.Status
	for _, regErr := range []error{
		status.Error(codes.Unauthenticated, "wrong secret"),
		status.Error(codes.NotFound, "unknown client"),
	} {
		reg.err = regErr
		_, err := call(context.Background(), srv, srv.Token, ccRequest(""))
		st := wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
		if first == nil {
			first = st
		} else if st.Message() != first.Message() {
			t.Errorf("registry %v gives %q, another gives %q: they must look alike", regErr, st.Message(), first.Message())
		}
	}

	reg.err = nil
	reg.resp = &registryv1.AuthenticateClientResponse{Client: &registryv1.Client{ClientId: "client-1", Tenant: "acme", Scopes: []string{"labels"}}}
	resp, err := srv.Token(context.Background(), &authv1.TokenRequest{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: secret})
	if err != nil || resp.GetScope() != "labels" {
		t.Errorf("Token = %v, %v; want a token for labels", resp, err)
	}
}

func clientsEqual(a, b auth.Client) bool {
	return a.ID == b.ID && a.Tenant == b.Tenant && slices.Equal(a.Scopes, b.Scopes) &&
		a.ExpireTime.Equal(b.ExpireTime) && a.Operator == b.Operator &&
		a.IssueRefreshTokens == b.IssueRefreshTokens && a.SecretVersion == b.SecretVersion
}

// invalidGrantStatus is the registry's refusal of a refresh token.
func invalidGrantStatus(code codes.Code) error {
	st, _ := status.New(code, "refresh token already used").WithDetails(&errdetails.ErrorInfo{Reason: "INVALID_GRANT", Domain: "registry.chave"})
	return st.Err()
}

func TestRegistryUseRefreshToken(t *testing.T) {
	familyExpiry := now.Add(30 * 24 * time.Hour)
	reg := &fakeRegistry{useResp: &registryv1.UseRefreshTokenResponse{Client: &registryv1.Client{
		ClientId: "client-1", Tenant: "acme", Scopes: []string{"labels"}, IssueRefreshTokens: true, SecretVersion: "sv1",
	}}}
	r := auth.NewRegistryClient(dialRegistry(t, reg))
	got, err := r.UseRefreshToken(context.Background(), "client-1", secret, "fam", 3, familyExpiry)
	if err != nil {
		t.Fatalf("UseRefreshToken: %v", err)
	}
	want := auth.Client{ID: "client-1", Tenant: "acme", Scopes: []string{"labels"}, IssueRefreshTokens: true, SecretVersion: "sv1"}
	if !clientsEqual(got, want) {
		t.Errorf("client = %+v, want %+v", got, want)
	}
	wantReq := &registryv1.UseRefreshTokenRequest{
		ClientId: "client-1", Proof: &registryv1.UseRefreshTokenRequest_ClientSecret{ClientSecret: secret}, FamilyId: "fam", Generation: 3, FamilyExpireTime: timestamppb.New(familyExpiry),
	}
	if !proto.Equal(reg.got, wantReq) {
		t.Errorf("registry got %v, want %v", reg.got, wantReq)
	}
	if !reg.hadDeadline {
		t.Error("the registry call had no deadline")
	}

	tests := []struct {
		name string
		err  error
		resp *registryv1.UseRefreshTokenResponse
		want chave.Code
	}{
		{"reuse", invalidGrantStatus(codes.FailedPrecondition), nil, chave.InvalidGrant},
		{"invalid grant as invalid argument", invalidGrantStatus(codes.InvalidArgument), nil, chave.InvalidGrant},
		{"failed precondition without the reason", status.Error(codes.FailedPrecondition, "credential revoked"), nil, chave.Unauthenticated},
		{"unauthenticated", status.Error(codes.Unauthenticated, "bad secret"), nil, chave.Unauthenticated},
		{"unavailable", status.Error(codes.Unavailable, "db down"), nil, chave.Unavailable},
		{"internal", status.Error(codes.Internal, "bug"), nil, chave.Internal},
		{"another client", nil, &registryv1.UseRefreshTokenResponse{Client: &registryv1.Client{ClientId: "client-2"}}, chave.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := auth.NewRegistryClient(dialRegistry(t, &fakeRegistry{useResp: tt.resp, err: tt.err}))
			_, err := r.UseRefreshToken(context.Background(), "client-1", secret, "fam", 0, familyExpiry)
			if got := chave.ErrorCode(err); got != tt.want {
				t.Errorf("error %v has code %q, want %q", err, got, tt.want)
			}
		})
	}
}

func TestRegistryRevokeIssuedToken(t *testing.T) {
	exp := now.Add(time.Hour)
	reg := &fakeRegistry{}
	r := auth.NewRegistryClient(dialRegistry(t, reg))
	for _, tok := range []auth.IssuedToken{
		{TokenID: "jti-1", ExpireTime: exp},
		{FamilyID: "fam-1", ExpireTime: exp},
	} {
		if err := r.RevokeIssuedToken(context.Background(), "client-1", secret, tok); err != nil {
			t.Fatalf("RevokeIssuedToken(%+v): %v", tok, err)
		}
		want := &registryv1.RevokeIssuedTokenRequest{
			ClientId: "client-1", ClientSecret: secret, TokenId: tok.TokenID, FamilyId: tok.FamilyID, ExpireTime: timestamppb.New(exp),
		}
		if !proto.Equal(reg.got, want) {
			t.Errorf("registry got %v, want %v", reg.got, want)
		}
		if !reg.hadDeadline {
			t.Error("the registry call had no deadline")
		}
	}

	tests := []struct {
		err  error
		want chave.Code
	}{
		{status.Error(codes.Unauthenticated, "bad secret"), chave.Unauthenticated},
		{status.Error(codes.PermissionDenied, "another client's family"), chave.PermissionDenied},
		{status.Error(codes.Unavailable, "db down"), chave.Unavailable},
		{status.Error(codes.DeadlineExceeded, "slow"), chave.Unavailable},
		{status.Error(codes.Internal, "bug"), chave.Internal},
		{status.Error(codes.InvalidArgument, "expire time in the past"), chave.Internal},
	}
	for _, tt := range tests {
		t.Run(status.Code(tt.err).String(), func(t *testing.T) {
			r := auth.NewRegistryClient(dialRegistry(t, &fakeRegistry{err: tt.err}))
			err := r.RevokeIssuedToken(context.Background(), "client-1", secret, auth.IssuedToken{TokenID: "jti"})
			if got := chave.ErrorCode(err); got != tt.want {
				t.Errorf("error %v has code %q, want %q", err, got, tt.want)
			}
		})
	}
}

func TestRegistryCheckIssuedToken(t *testing.T) {
	reg := &fakeRegistry{checkResp: &registryv1.CheckIssuedTokenResponse{
		Active: true, Tenant: "acme", Scopes: []string{"labels", "commercial"}, Operator: true,
	}}
	r := auth.NewRegistryClient(dialRegistry(t, reg))
	got, err := r.CheckIssuedToken(context.Background(), auth.ClientCredentials{ID: "caller", Secret: secret}, "client-1", auth.IssuedToken{TokenID: "jti-1", FamilyID: "fam-1"})
	if err != nil {
		t.Fatalf("CheckIssuedToken: %v", err)
	}
	if !got.Active || got.Tenant != "acme" || !slices.Equal(got.Scopes, []string{"commercial", "labels"}) || !got.Operator {
		t.Errorf("state = %+v", got)
	}
	want := &registryv1.CheckIssuedTokenRequest{ClientId: "client-1", TokenId: "jti-1", FamilyId: "fam-1", CallerClientId: "caller", CallerClientSecret: secret}
	if !proto.Equal(reg.got, want) {
		t.Errorf("registry got %v, want %v", reg.got, want)
	}
	if !reg.hadDeadline {
		t.Error("the registry call had no deadline")
	}

	reg.checkResp = &registryv1.CheckIssuedTokenResponse{Active: false, Tenant: "acme"}
	if got, err := r.CheckIssuedToken(context.Background(), auth.ClientCredentials{ID: "caller", Secret: secret}, "client-1", auth.IssuedToken{TokenID: "jti-1"}); err != nil || got.Active || got.Tenant != "" {
		t.Errorf("inactive: %+v, %v; want a zero state", got, err)
	}
	reg.err = status.Error(codes.NotFound, "no such client")
	if got, err := r.CheckIssuedToken(context.Background(), auth.ClientCredentials{ID: "caller", Secret: secret}, "client-1", auth.IssuedToken{TokenID: "jti-1"}); err != nil || got.Active {
		t.Errorf("not found: %+v, %v; want inactive", got, err)
	}
	for _, tt := range []struct {
		err  error
		want chave.Code
	}{
		{status.Error(codes.Unavailable, "db down"), chave.Unavailable},
		{status.Error(codes.Internal, "bug"), chave.Internal},
	} {
		reg.err = tt.err
		if _, err := r.CheckIssuedToken(context.Background(), auth.ClientCredentials{ID: "caller", Secret: secret}, "client-1", auth.IssuedToken{TokenID: "jti-1"}); chave.ErrorCode(err) != tt.want {
			t.Errorf("registry %v: error %v, want code %q", tt.err, err, tt.want)
		}
	}
}

// TestRegistryKeepsCallerDeadline: a caller's deadline is not replaced.
func TestRegistryKeepsCallerDeadline(t *testing.T) {
	slow := &slowRegistry{}
	r := auth.NewRegistryClient(dialRegistry(t, slow))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.AuthenticateClient(ctx, "client-1", secret)
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("AuthenticateClient against a stuck registry = %v after %v; want a failure at the caller's deadline", err, time.Since(start))
	}
}

type slowRegistry struct {
	registryv1.UnimplementedCredentialServiceServer
}

func (slowRegistry) AuthenticateClient(ctx context.Context, _ *registryv1.AuthenticateClientRequest) (*registryv1.AuthenticateClientResponse, error) {
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}
