package auth_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
)

// fakeRegistry answers AuthenticateClient with a fixed response or error.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer
	resp *registryv1.AuthenticateClientResponse
	err  error
	got  *registryv1.AuthenticateClientRequest
}

func (f *fakeRegistry) AuthenticateClient(_ context.Context, req *registryv1.AuthenticateClientRequest) (*registryv1.AuthenticateClientResponse, error) {
	f.got = req
	return f.resp, f.err
}

// dialRegistry serves reg on an in-memory gRPC connection.
func dialRegistry(t *testing.T, reg registryv1.RegistryServiceServer) registryv1.RegistryServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(gs, reg)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///registry",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return registryv1.NewRegistryServiceClient(conn)
}

func TestRegistryAuthenticatorSuccess(t *testing.T) {
	expire := now.Add(10 * time.Minute)
	reg := &fakeRegistry{resp: &registryv1.AuthenticateClientResponse{
		ClientId: "client-1", Tenant: "acme",
		Scopes:     []string{"inventory", "commercial", "inventory"},
		ExpireTime: timestamppb.New(expire), Operator: true, IssueRefreshTokens: true,
	}}
	a := auth.NewRegistryAuthenticator(dialRegistry(t, reg))
	got, err := a.AuthenticateClient(context.Background(), "client-1", secret)
	if err != nil {
		t.Fatalf("AuthenticateClient: %v", err)
	}
	want := auth.Client{
		ID: "client-1", Tenant: "acme", Scopes: []string{"commercial", "inventory"},
		ExpireTime: expire, Operator: true, IssueRefreshTokens: true,
	}
	if got.ID != want.ID || got.Tenant != want.Tenant || !slices.Equal(got.Scopes, want.Scopes) ||
		!got.ExpireTime.Equal(want.ExpireTime) || got.Operator != want.Operator || got.IssueRefreshTokens != want.IssueRefreshTokens {
		t.Errorf("client = %+v, want %+v", got, want)
	}
	if reg.got.GetClientId() != "client-1" || reg.got.GetClientSecret() != secret {
		t.Errorf("registry got %v, want the client's id and secret", reg.got)
	}

	reg.resp = &registryv1.AuthenticateClientResponse{ClientId: "client-1"}
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
		{"another client", nil, &registryv1.AuthenticateClientResponse{ClientId: "client-2"}, chave.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := auth.NewRegistryAuthenticator(dialRegistry(t, &fakeRegistry{resp: tt.resp, err: tt.err}))
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
	srv, err := auth.NewServer(auth.Config{Issuer: issuer, Audience: audience},
		auth.NewRegistryAuthenticator(registryv1.NewRegistryServiceClient(conn)), keySetFor(t, jwa.ES256))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = srv.Token(ctx, ccRequest(""))
	wantOAuthError(t, err, codes.Unavailable, auth.ErrTemporarilyUnavailable)
}

// TestGrantThroughRegistry wires the grant to the registry adapter: the
// invalid_client answer does not depend on what the registry said.
func TestGrantThroughRegistry(t *testing.T) {
	reg := &fakeRegistry{}
	srv, err := auth.NewServer(auth.Config{Issuer: issuer, Audience: audience, Clock: func() time.Time { return now }},
		auth.NewRegistryAuthenticator(dialRegistry(t, reg)), keySetFor(t, jwa.ES256))
	if err != nil {
		t.Fatal(err)
	}
	var first *status.Status
	for _, regErr := range []error{
		status.Error(codes.Unauthenticated, "wrong secret"),
		status.Error(codes.NotFound, "unknown client"),
	} {
		reg.err = regErr
		_, err := srv.Token(context.Background(), ccRequest(""))
		st := wantOAuthError(t, err, codes.Unauthenticated, auth.ErrInvalidClient)
		if first == nil {
			first = st
		} else if st.Message() != first.Message() {
			t.Errorf("registry %v gives %q, another gives %q: they must look alike", regErr, st.Message(), first.Message())
		}
	}

	reg.err = nil
	reg.resp = &registryv1.AuthenticateClientResponse{ClientId: "client-1", Tenant: "acme", Scopes: []string{"labels"}}
	resp, err := srv.Token(context.Background(), &authv1.TokenRequest{GrantType: "client_credentials", ClientId: "client-1", ClientSecret: secret})
	if err != nil || resp.GetScope() != "labels" {
		t.Errorf("Token = %v, %v; want a token for labels", resp, err)
	}
}
