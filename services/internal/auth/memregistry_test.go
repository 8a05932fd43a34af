package auth_test

import (
	"context"
	"crypto/subtle"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/verify"
)

// memRegistry is an in-memory auth.Registry with the registry's semantics:
// secrets compared in constant time and one error for every failed
// authentication; refresh families advanced under a mutex (the current
// generation advances, an older one revokes the family, a revoked one
// fails); revoked jtis and families remembered; revoked credentials
// inactive.
type memRegistry struct {
	clock func() time.Time

	mu       sync.Mutex
	secrets  map[string]string
	clients  map[string]auth.Client
	revoked  map[string]bool // revoked credentials
	families map[string]*memFamily
	jtis     map[string]string // revoked access tokens: jti → client

	// Failures to inject: every call of the method fails with the error.
	authErr, useErr, revokeErr, checkErr, revocationSetErr error

	// What was asked.
	uses     int
	revokes  []auth.IssuedToken
	checks   []auth.IssuedToken
	lastUsed struct {
		familyExpiry time.Time
	}
}

type memFamily struct {
	client     string
	generation int64
	expiry     time.Time
	revoked    bool
}

func newMemRegistry(clock func() time.Time) *memRegistry {
	return &memRegistry{
		clock:    clock,
		secrets:  map[string]string{},
		clients:  map[string]auth.Client{},
		revoked:  map[string]bool{},
		families: map[string]*memFamily{},
		jtis:     map[string]string{},
	}
}

func (m *memRegistry) add(c auth.Client, secret string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[c.ID] = secret
	m.clients[c.ID] = c
}

// update changes a stored credential.
func (m *memRegistry) update(id string, f func(*auth.Client)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.clients[id]
	f(&c)
	m.clients[id] = c
}

func (m *memRegistry) revokeCredential(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revoked[id] = true
}

func (m *memRegistry) setErr(p *error, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	*p = err
}

func (m *memRegistry) family(id string) (memFamily, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.families[id]
	if !ok {
		return memFamily{}, false
	}
	return *f, true
}

func (m *memRegistry) revocations() []auth.IssuedToken {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.revokes)
}

var errBadClient = chave.Errorf(chave.Unauthenticated, "invalid client credentials")

// authenticate runs with m.mu held.
func (m *memRegistry) authenticate(clientID, secret string) (auth.Client, error) {
	want, known := m.secrets[clientID]
	if subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 || !known || m.revoked[clientID] {
		return auth.Client{}, errBadClient
	}
	return m.clients[clientID], nil
}

func (m *memRegistry) AuthenticateClient(_ context.Context, clientID, secret string) (auth.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authErr != nil {
		return auth.Client{}, m.authErr
	}
	return m.authenticate(clientID, secret)
}

var errInvalidGrant = chave.Errorf(chave.InvalidGrant, "the refresh token is invalid, expired, revoked or already used")

func (m *memRegistry) UseRefreshToken(_ context.Context, clientID, secret, familyID string, gen int64, familyExpiry time.Time) (auth.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uses++
	m.lastUsed.familyExpiry = familyExpiry
	if m.useErr != nil {
		return auth.Client{}, m.useErr
	}
	client, err := m.authenticate(clientID, secret)
	if err != nil {
		return auth.Client{}, err
	}
	return m.advance(client, familyID, gen, familyExpiry)
}

func (m *memRegistry) UseRefreshTokenAlone(_ context.Context, clientID, secretVersion, familyID string, gen int64, familyExpiry time.Time) (auth.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uses++
	m.lastUsed.familyExpiry = familyExpiry
	if m.useErr != nil {
		return auth.Client{}, m.useErr
	}
	client, known := m.clients[clientID]
	if !known || m.revoked[clientID] {
		return auth.Client{}, errBadClient
	}
	if client.SecretVersion != secretVersion {
		return auth.Client{}, errInvalidGrant
	}
	return m.advance(client, familyID, gen, familyExpiry)
}

// advance runs with m.mu held.
func (m *memRegistry) advance(client auth.Client, familyID string, gen int64, familyExpiry time.Time) (auth.Client, error) {
	clientID := client.ID
	if familyID == "" || gen < 0 || !m.clock().Before(familyExpiry) {
		return auth.Client{}, errInvalidGrant
	}
	f, ok := m.families[familyID]
	if !ok {
		f = &memFamily{client: clientID, expiry: familyExpiry}
		m.families[familyID] = f
	}
	switch {
	case f.client != clientID, f.revoked:
		return auth.Client{}, errInvalidGrant
	case gen == f.generation:
		f.generation++
		return client, nil
	default:
		f.revoked = true
		return auth.Client{}, errInvalidGrant
	}
}

func (m *memRegistry) RevokeIssuedToken(_ context.Context, clientID, secret string, tok auth.IssuedToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revokeErr != nil {
		return m.revokeErr
	}
	if _, err := m.authenticate(clientID, secret); err != nil {
		return err
	}
	if tok.FamilyID != "" {
		f, ok := m.families[tok.FamilyID]
		if !ok {
			f = &memFamily{client: clientID, expiry: tok.ExpireTime}
			m.families[tok.FamilyID] = f
		}
		if f.client != clientID {
			return chave.Errorf(chave.PermissionDenied, "the refresh token was issued to another client")
		}
		f.revoked = true
	}
	if tok.TokenID != "" {
		m.jtis[tok.TokenID] = clientID
	}
	m.revokes = append(m.revokes, tok)
	return nil
}

func (m *memRegistry) CheckIssuedToken(ctx context.Context, caller auth.ClientCredentials, clientID string, tok auth.IssuedToken) (auth.IssuedTokenState, error) {
	// A zero caller is the auth service checking for itself: it learns
	// only whether the token is active.
	anonymous := caller == auth.ClientCredentials{}
	var by auth.Client
	if !anonymous {
		var err error
		if by, err = m.AuthenticateClient(ctx, caller.ID, caller.Secret); err != nil {
			return auth.IssuedTokenState{}, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks = append(m.checks, tok)
	if m.checkErr != nil {
		return auth.IssuedTokenState{}, m.checkErr
	}
	c, ok := m.clients[clientID]
	if !anonymous && !maySee(by, c, ok) {
		return auth.IssuedTokenState{}, chave.Errorf(chave.PermissionDenied, "the token was issued to another client")
	}
	if !ok || m.revoked[clientID] || (tok.SecretVersion != "" && tok.SecretVersion != c.SecretVersion) {
		return auth.IssuedTokenState{}, nil
	}
	if tok.FamilyID != "" {
		f, ok := m.families[tok.FamilyID]
		if ok && (f.revoked || f.client != clientID) {
			return auth.IssuedTokenState{}, nil
		}
		current := int64(0)
		if ok {
			current = f.generation
		}
		if tok.Generation != nil && *tok.Generation != current {
			return auth.IssuedTokenState{}, nil
		}
	}
	if _, revoked := m.jtis[tok.TokenID]; tok.TokenID != "" && revoked {
		return auth.IssuedTokenState{}, nil
	}
	if anonymous {
		return auth.IssuedTokenState{Active: true}, nil
	}
	return auth.IssuedTokenState{Active: true, Tenant: c.Tenant, Scopes: chave.SortedSet(c.Scopes), Operator: c.Operator, SecretVersion: c.SecretVersion}, nil
}

// maySee reports whether caller may learn about the tokens of c (known:
// whether c exists), as the registry decides: its own, its tenant's with
// token.introspect, or any as the operator.
func maySee(caller, c auth.Client, known bool) bool {
	switch {
	case caller.Operator, known && caller.ID == c.ID:
		return true
	case known && caller.Tenant != "" && caller.Tenant == c.Tenant:
		return slices.Contains(caller.Scopes, chave.ScopeTokenIntrospect)
	default:
		return false
	}
}

// IsRevoked is the revocation set the registry keeps (verify.RevocationChecker):
// the token's credential, secret version, jti or family revoked.
func (m *memRegistry) IsRevoked(_ context.Context, c verify.Claims) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revocationSetErr != nil {
		return false, m.revocationSetErr
	}
	if m.revoked[c.ClientID] {
		return true, nil
	}
	if cl, ok := m.clients[c.ClientID]; ok && c.SecretVersion != "" && c.SecretVersion != cl.SecretVersion {
		return true, nil
	}
	if _, ok := m.jtis[c.ID]; ok {
		return true, nil
	}
	if f, ok := m.families[c.SessionID]; ok && c.SessionID != "" && f.revoked {
		return true, nil
	}
	return false, nil
}

// registryServer serves a memRegistry over gRPC, with the statuses the
// registry service answers: InvalidGrant is FAILED_PRECONDITION with the
// ErrorInfo reason INVALID_GRANT, and so on.
type registryServer struct {
	registryv1.UnimplementedCredentialServiceServer
	m *memRegistry
}

func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err // an injected status
	}
	code, ok := map[chave.Code]codes.Code{
		chave.Unauthenticated:  codes.Unauthenticated,
		chave.InvalidGrant:     codes.FailedPrecondition,
		chave.PermissionDenied: codes.PermissionDenied,
		chave.Unavailable:      codes.Unavailable,
	}[chave.ErrorCode(err)]
	if !ok {
		return status.Error(codes.Internal, err.Error())
	}
	st, _ := status.New(code, err.Error()).WithDetails(&errdetails.ErrorInfo{
		Reason: strings.ToUpper(string(chave.ErrorCode(err))), Domain: "registry.chave",
	})
	return st.Err()
}

func clientProto(c auth.Client) *registryv1.Client {
	pc := &registryv1.Client{
		ClientId: c.ID, Tenant: c.Tenant, Scopes: c.Scopes, Operator: c.Operator,
		IssueRefreshTokens: c.IssueRefreshTokens, SecretVersion: c.SecretVersion,
	}
	if !c.ExpireTime.IsZero() {
		pc.ExpireTime = timestamppb.New(c.ExpireTime)
	}
	return pc
}

func (r registryServer) AuthenticateClient(ctx context.Context, req *registryv1.AuthenticateClientRequest) (*registryv1.AuthenticateClientResponse, error) {
	c, err := r.m.AuthenticateClient(ctx, req.GetClientId(), req.GetClientSecret())
	if err != nil {
		return nil, toStatus(err)
	}
	return &registryv1.AuthenticateClientResponse{Client: clientProto(c)}, nil
}

func (r registryServer) UseRefreshToken(ctx context.Context, req *registryv1.UseRefreshTokenRequest) (*registryv1.UseRefreshTokenResponse, error) {
	use := r.m.UseRefreshToken
	proof := req.GetClientSecret()
	if p, ok := req.GetProof().(*registryv1.UseRefreshTokenRequest_RefreshTokenSecretVersion); ok {
		use, proof = r.m.UseRefreshTokenAlone, p.RefreshTokenSecretVersion
	}
	c, err := use(ctx, req.GetClientId(), proof, req.GetFamilyId(), req.GetGeneration(), req.GetFamilyExpireTime().AsTime())
	if err != nil {
		return nil, toStatus(err)
	}
	return &registryv1.UseRefreshTokenResponse{Client: clientProto(c)}, nil
}

func (r registryServer) RevokeIssuedToken(ctx context.Context, req *registryv1.RevokeIssuedTokenRequest) (*registryv1.RevokeIssuedTokenResponse, error) {
	err := r.m.RevokeIssuedToken(ctx, req.GetClientId(), req.GetClientSecret(), auth.IssuedToken{
		TokenID: req.GetTokenId(), FamilyID: req.GetFamilyId(), ExpireTime: req.GetExpireTime().AsTime(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &registryv1.RevokeIssuedTokenResponse{}, nil
}

func (r registryServer) CheckIssuedToken(ctx context.Context, req *registryv1.CheckIssuedTokenRequest) (*registryv1.CheckIssuedTokenResponse, error) {
	st, err := r.m.CheckIssuedToken(ctx, auth.ClientCredentials{ID: req.GetCallerClientId(), Secret: req.GetCallerClientSecret()}, req.GetClientId(), auth.IssuedToken{TokenID: req.GetTokenId(), FamilyID: req.GetFamilyId(), Generation: req.Generation, SecretVersion: req.GetSecretVersion()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &registryv1.CheckIssuedTokenResponse{Active: st.Active, Tenant: st.Tenant, Scopes: st.Scopes, Operator: st.Operator, SecretVersion: st.SecretVersion}, nil
}
