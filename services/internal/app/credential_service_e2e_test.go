package app

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/registry"
)

// A well-formed family id and jti, as the auth service makes them.
const (
	testFamilyID = "AAAAAAAAAAAAAAAAAAAAAA"
	testTokenID  = "AAAAAAAAAAAAAAAAAAAAAAAAAA"
)

// TestServeDoesNotOfferCredentialService: `chave serve`'s gRPC listener
// neither lists CredentialService in reflection nor answers its methods,
// whatever credentials the caller holds; the auth service still reaches
// it in process (the grants work).
func TestServeDoesNotOfferCredentialService(t *testing.T) {
	e := startE2E(t, deployments[0])
	conn, err := grpc.NewClient("passthrough:///"+e.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, registryv1.RegistryService_ServiceDesc.ServiceName) {
		t.Fatalf("reflection lists %v, without RegistryService", names)
	}
	if slices.Contains(names, registryv1.CredentialService_ServiceDesc.ServiceName) {
		t.Fatalf("reflection on serve's gRPC port lists CredentialService: %v", names)
	}

	cred := registryv1.NewCredentialServiceClient(conn)
	calls := map[string]func() error{
		"AuthenticateClient": func() error {
			_, err := cred.AuthenticateClient(ctx, &registryv1.AuthenticateClientRequest{ClientId: e.opID, ClientSecret: e.opSec})
			return err
		},
		"UseRefreshToken": func() error {
			_, err := cred.UseRefreshToken(ctx, &registryv1.UseRefreshTokenRequest{ClientId: e.opID,
				Proof: &registryv1.UseRefreshTokenRequest_ClientSecret{ClientSecret: e.opSec}, FamilyId: testFamilyID,
				FamilyExpireTime: timestamppb.New(time.Now().Add(time.Hour))})
			return err
		},
		"RevokeIssuedToken": func() error {
			_, err := cred.RevokeIssuedToken(ctx, &registryv1.RevokeIssuedTokenRequest{ClientId: e.opID, ClientSecret: e.opSec, TokenId: testTokenID})
			return err
		},
		"CheckIssuedToken": func() error {
			_, err := cred.CheckIssuedToken(ctx, &registryv1.CheckIssuedTokenRequest{ClientId: e.opID, TokenId: testTokenID})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); status.Code(err) != codes.Unimplemented {
			t.Errorf("%s on serve's gRPC port: %v, want Unimplemented", name, err)
		}
	}
	e.accessToken(e.opID, e.opSec) // the in-process path still works
}

// TestServeRefusesCrossTenantRevocationAndIntrospection tries, from a
// second tenant's credential, what the internal RPCs used to allow from
// serve's gRPC port, now through the only way left to reach them (the
// auth service's endpoints, in process): revoking the other tenant's
// access token and refresh family, and introspecting its tokens.
func TestServeRefusesCrossTenantRevocationAndIntrospection(t *testing.T) {
	e := startE2E(t, deployments[0])
	op := e.accessToken(e.opID, e.opSec)
	victim, victimSecret := e.credential(t, op, nil)
	e.do("POST", "/v1/tenants", op, map[string]any{"id": "globex", "displayName": "Globex", "contexts": []string{"inventory"}})
	r := e.do("POST", "/v1/tokens", op, map[string]any{"tenant": "globex", "displayName": "attacker", "contexts": []string{"inventory", "token.introspect"}})
	if r.status != 200 {
		t.Fatalf("create attacker: %d %s", r.status, r.body)
	}
	attacker, attackerSecret := r.json(t)["clientId"].(string), r.json(t)["clientSecret"].(string)

	g := e.grant(victim, victimSecret, "").json(t)
	at, rt := g["access_token"].(string), g["refresh_token"].(string)
	for name, tok := range map[string]string{"access token": at, "refresh token": rt} {
		if r := e.form("/oauth2/revoke", url.Values{"token": {tok}}, attacker, attackerSecret); r.status == 200 {
			t.Errorf("another tenant revoked the victim's %s: %d %s", name, r.status, r.body)
		}
		if got := e.introspect(attacker, attackerSecret, tok); got["active"] != false || len(got) != 1 {
			t.Errorf("another tenant's token.introspect credential introspects the victim's %s: %v", name, got)
		}
	}
	if got := e.introspect(victim, victimSecret, at); got["active"] != true {
		t.Fatalf("the victim's access token after the attempts: %v", got)
	}
	if r := e.refresh(victim, victimSecret, rt, ""); r.status != 200 {
		t.Fatalf("the victim's refresh after the attempts: %d %s", r.status, r.body)
	}
}

// registryApart is `chave registry` on SQLite and the registry service
// over the same database, to make credentials with.
type registryApart struct {
	srv *Server
	svc *registry.Service
	op  registry.Caller
}

func startRegistryApart(t *testing.T, internal InternalConfig, tlsCfg TLSConfig) *registryApart {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", DB: sqliteURL(t, dir),
		SecretsFile: filepath.Join(dir, "secrets.json"), TLS: tlsCfg, Internal: internal,
		Logger: slog.New(slog.DiscardHandler),
	}
	srv, err := StartRegistry(context.Background(), cfg.Registry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	store, err := OpenStore(context.Background(), cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := NewRegistry(cfg.Registry(), store)
	if err != nil {
		t.Fatal(err)
	}
	opID, _, err := svc.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &registryApart{srv: srv, svc: svc, op: registry.Caller{ClientID: opID, Operator: true}}
}

// credential creates a credential of a new tenant.
func (r *registryApart) credential(t *testing.T, tenant string, contexts ...string) (id, secret string) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.svc.CreateTenant(ctx, r.op, chave.Tenant{ID: tenant, DisplayName: tenant, Contexts: []string{"inventory"}}); err != nil && !chave.IsCode(err, chave.Conflict) {
		t.Fatal(err)
	}
	tok, s, err := r.svc.CreateToken(ctx, r.op, chave.Token{DisplayName: "c", Tenant: tenant, Contexts: append([]string{"inventory"}, contexts...), IssueRefreshTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID, s.Reveal()
}

func dialCredentials(t *testing.T, addr string, tlsCfg TLSConfig) registryv1.CredentialServiceClient {
	t.Helper()
	s := newServer(slog.New(slog.DiscardHandler))
	conn, err := s.dial("--registry", addr, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return registryv1.NewCredentialServiceClient(conn)
}

func withToken(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), registry.InternalTokenMetadata, token)
}

// TestRegistryApartAdmitsOnlyTheAuthService: the registry's gRPC port
// serves CredentialService only to a caller with the internal token, and
// even then each RPC refuses what another tenant's credential names and
// every id or time out of bounds.
func TestRegistryApartAdmitsOnlyTheAuthService(t *testing.T) {
	token := strings.Repeat("k", 40)
	r := startRegistryApart(t, InternalConfig{Token: token}, TLSConfig{})
	client := dialCredentials(t, r.srv.GRPCAddr(), TLSConfig{})
	victim, victimSecret := r.credential(t, "acme")
	attacker, attackerSecret := r.credential(t, "globex", "token.introspect")
	ctx := withToken(token)
	exp := timestamppb.New(time.Now().Add(time.Hour))

	// Without the internal token, or with a wrong one, nothing answers.
	for name, c := range map[string]context.Context{
		"no token": context.Background(), "wrong token": withToken(strings.Repeat("x", 40)),
		"two tokens": metadata.AppendToOutgoingContext(withToken(token), registry.InternalTokenMetadata, token),
	} {
		_, err := client.AuthenticateClient(c, &registryv1.AuthenticateClientRequest{ClientId: victim, ClientSecret: victimSecret})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: AuthenticateClient: %v, want PermissionDenied", name, err)
		}
		_, err = client.CheckIssuedToken(c, &registryv1.CheckIssuedTokenRequest{ClientId: victim, TokenId: testTokenID})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: anonymous CheckIssuedToken: %v, want PermissionDenied", name, err)
		}
	}

	// The victim's family, used once.
	use := func(id, secret string, gen int64) error {
		_, err := client.UseRefreshToken(ctx, &registryv1.UseRefreshTokenRequest{ClientId: id,
			Proof: &registryv1.UseRefreshTokenRequest_ClientSecret{ClientSecret: secret}, FamilyId: testFamilyID, Generation: gen, FamilyExpireTime: exp})
		return err
	}
	if err := use(victim, victimSecret, 0); err != nil {
		t.Fatal(err)
	}
	// The attacker names it: spoiling it, revoking it, reading about it.
	if err := use(attacker, attackerSecret, 1); status.Code(err) != codes.PermissionDenied {
		t.Errorf("another tenant advancing the victim's family: %v, want PermissionDenied", err)
	}
	_, err := client.RevokeIssuedToken(ctx, &registryv1.RevokeIssuedTokenRequest{ClientId: attacker, ClientSecret: attackerSecret, FamilyId: testFamilyID, ExpireTime: exp})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("another tenant revoking the victim's family: %v, want PermissionDenied", err)
	}
	victimJTI := chave.NewTokenID(victim)
	_, err = client.RevokeIssuedToken(ctx, &registryv1.RevokeIssuedTokenRequest{ClientId: attacker, ClientSecret: attackerSecret, TokenId: victimJTI, ExpireTime: exp})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("another tenant revoking the victim's access token by its jti: %v, want PermissionDenied", err)
	}
	if st, err := client.CheckIssuedToken(ctx, &registryv1.CheckIssuedTokenRequest{ClientId: victim, TokenId: victimJTI}); err != nil || !st.GetActive() {
		t.Errorf("the victim's access token after the attempt: %v %v", st, err)
	}
	check, err := client.CheckIssuedToken(ctx, &registryv1.CheckIssuedTokenRequest{ClientId: victim, FamilyId: testFamilyID,
		CallerClientId: attacker, CallerClientSecret: attackerSecret})
	if status.Code(err) != codes.PermissionDenied || check.GetTenant() != "" {
		t.Errorf("another tenant checking the victim's family: %v %v, want PermissionDenied", check, err)
	}
	// The victim's family is untouched.
	if err := use(victim, victimSecret, 1); err != nil {
		t.Fatalf("the victim's next refresh after the attempts: %v", err)
	}

	// Bounds: ids by their format and length, expiries by the longest
	// lifetimes.
	huge := strings.Repeat("A", 1<<20)
	century := timestamppb.New(time.Now().Add(100 * 365 * 24 * time.Hour))
	for name, req := range map[string]*registryv1.RevokeIssuedTokenRequest{
		"a megabyte jti":                {TokenId: huge, ExpireTime: exp},
		"a jti of the wrong form":       {TokenId: "not-a-jti", ExpireTime: exp},
		"a megabyte family id":          {FamilyId: huge, ExpireTime: exp},
		"an access token for a century": {TokenId: chave.NewTokenID(victim), ExpireTime: century},
		"a family for a century":        {FamilyId: "BBBBBBBBBBBBBBBBBBBBBB", ExpireTime: century},
		"nothing named":                 {ExpireTime: exp},
	} {
		req.ClientId, req.ClientSecret = victim, victimSecret
		if _, err := client.RevokeIssuedToken(ctx, req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("RevokeIssuedToken with %s: %v, want InvalidArgument", name, err)
		}
	}
	_, err = client.UseRefreshToken(ctx, &registryv1.UseRefreshTokenRequest{ClientId: victim,
		Proof: &registryv1.UseRefreshTokenRequest_ClientSecret{ClientSecret: victimSecret}, FamilyId: "CCCCCCCCCCCCCCCCCCCCCC", FamilyExpireTime: century})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("UseRefreshToken of a family for a century: %v, want InvalidArgument", err)
	}
	if _, err := client.CheckIssuedToken(ctx, &registryv1.CheckIssuedTokenRequest{ClientId: victim, TokenId: huge}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CheckIssuedToken of a megabyte jti: %v, want InvalidArgument", err)
	}

	// The refresh token alone, by its secret version: only the current one.
	_, err = client.UseRefreshToken(ctx, &registryv1.UseRefreshTokenRequest{ClientId: victim,
		Proof:    &registryv1.UseRefreshTokenRequest_RefreshTokenSecretVersion{RefreshTokenSecretVersion: "not-the-version"},
		FamilyId: testFamilyID, Generation: 2, FamilyExpireTime: exp})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("UseRefreshToken by a stale secret version: %v, want FailedPrecondition", err)
	}
	auth, err := client.AuthenticateClient(ctx, &registryv1.AuthenticateClientRequest{ClientId: victim, ClientSecret: victimSecret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.UseRefreshToken(ctx, &registryv1.UseRefreshTokenRequest{ClientId: victim,
		Proof:    &registryv1.UseRefreshTokenRequest_RefreshTokenSecretVersion{RefreshTokenSecretVersion: auth.GetClient().GetSecretVersion()},
		FamilyId: testFamilyID, Generation: 2, FamilyExpireTime: exp})
	if err != nil {
		t.Errorf("UseRefreshToken by the current secret version: %v", err)
	}
}

// TestRegistryApartByClientCertificate: with mutual TLS and a configured
// identity, only the certificate that names it reaches CredentialService;
// RegistryService is unaffected (it still wants a Bearer token).
func TestRegistryApartByClientCertificate(t *testing.T) {
	pki := apptest.NewPKI(t, t.TempDir())
	server := TLSConfig{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCAFile: pki.CA}
	clientTLS := TLSConfig{CAFile: pki.CA, ClientCertFile: pki.ClientCert, ClientKeyFile: pki.ClientKey}
	for _, tc := range []struct {
		identity string
		want     codes.Code
	}{
		{"chave test client", codes.OK},
		{"chave-auth", codes.PermissionDenied},
	} {
		t.Run(tc.identity, func(t *testing.T) {
			r := startRegistryApart(t, InternalConfig{ClientIdentity: tc.identity}, server)
			id, secret := r.credential(t, "acme")
			client := dialCredentials(t, "localhost:"+portOf(t, r.srv.GRPCAddr()), clientTLS)
			_, err := client.AuthenticateClient(context.Background(), &registryv1.AuthenticateClientRequest{ClientId: id, ClientSecret: secret})
			if status.Code(err) != tc.want {
				t.Fatalf("AuthenticateClient: %v, want %v", err, tc.want)
			}
		})
	}
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Fatalf("address %q has no port", addr)
	}
	return addr[i+1:]
}
