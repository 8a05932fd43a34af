package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/verify"
)

// Grant types (RFC 6749).
const (
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// TokenTypeBearer is the token_type of every response.
const TokenTypeBearer = "Bearer"

// Access-token lifetimes.
const (
	DefaultAccessTokenLifetime = 1800 * time.Second
	MaxAccessTokenLifetime     = chave.MaxAccessTokenLifetime
)

// Refresh-token lifetimes.
const (
	DefaultRefreshTokenLifetime  = 86400 * time.Second
	DefaultRefreshFamilyLifetime = 30 * 24 * time.Hour
	MaxRefreshFamilyLifetime     = chave.MaxRefreshFamilyLifetime
)

// Token types of introspection answers (RFC 7662 token_type).
const (
	TokenTypeAccessToken  = "access_token"
	TokenTypeRefreshToken = "refresh_token"
)

// Client authentication methods at the token endpoint (RFC 8414).
const (
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
)

// Registry is everything the auth service asks of the credential registry;
// NewRegistryClient returns the one that asks the registry service over
// gRPC.
type Registry interface {
	ClientAuthenticator
	RefreshFamilies
	TokenRevoker
	IssuedTokenChecker
}

// TokenVerifier checks an access token's signature, issuer, audience and
// times; *verify.Verifier is one. Rejections match verify.ErrInvalidToken,
// an expired token with the reason verify.ReasonExpired.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (verify.Claims, error)
}

// Config configures a Server.
type Config struct {
	// Issuer is every token's iss. Required.
	Issuer string
	// Audience is every token's aud. Required.
	Audience string
	// AccessTokenLifetime is how long access tokens live at most (the
	// credential's expire time may cut it short): zero means
	// DefaultAccessTokenLifetime; at least a second and at most
	// MaxAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// RefreshTokenKey is the HMAC-SHA-256 key that authenticates refresh
	// tokens: at least MinRefreshTokenKeySize (32) random bytes, secret,
	// the same on every replica of the auth service, and stable across
	// restarts (a new key invalidates every refresh token). Required.
	RefreshTokenKey []byte
	// RefreshTokenKeys, when set, replaces RefreshTokenKey: the versions
	// of the refresh-token key (secrets.KindRefresh), so that the key can
	// rotate while tokens made under older versions keep verifying.
	RefreshTokenKeys secrets.KeyProvider
	// RefreshTokenLifetime is how long one refresh token lives at most
	// (its family's expiry and the credential's expire time may cut it
	// short): zero means DefaultRefreshTokenLifetime; at least a second
	// and at most RefreshFamilyLifetime.
	RefreshTokenLifetime time.Duration
	// RefreshFamilyLifetime is the absolute lifetime of a refresh-token
	// family: however often its tokens are refreshed, none outlives it (nor
	// the credential). Zero means DefaultRefreshFamilyLifetime; at least a
	// second and at most MaxRefreshFamilyLifetime.
	RefreshFamilyLifetime time.Duration
	// Verifier checks the access tokens presented for revocation and
	// introspection; it must accept exactly the tokens this server signs
	// (same issuer, audience and keys). Required.
	Verifier TokenVerifier
	// ScopesSupported is the metadata's scopes_supported: the catalog's
	// context ids and the reserved scopes.
	ScopesSupported []string
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives the server's logs; nil discards them. Secrets and
	// tokens are never logged.
	Logger *slog.Logger
	// Registerer receives the grant metrics; nil: not exported.
	Registerer prometheus.Registerer
}

// Server implements authv1.AuthServiceServer. Its methods return domain
// errors: serve it behind StatusInterceptor, which maps them to statuses.
type Server struct {
	authv1.UnimplementedAuthServiceServer

	metrics *grantMetrics

	registry Registry
	keys     Keys
	verifier TokenVerifier
	mint     *minter
	issuer   string
	scopes   []string // scopes_supported
	now      func() time.Time
	log      *slog.Logger
}

var _ authv1.AuthServiceServer = (*Server)(nil)

// NewServer validates cfg and returns the auth service's server, which
// reaches credentials through registry and signs with keys.
func NewServer(cfg Config, registry Registry, keys Keys) (*Server, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: config: issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth: config: audience is required")
	}
	if registry == nil || keys == nil {
		return nil, errors.New("auth: a registry and keys are required")
	}
	if cfg.Verifier == nil {
		return nil, errors.New("auth: config: a token verifier is required")
	}
	var refresh refreshCodec
	var err error
	if cfg.RefreshTokenKeys != nil {
		refresh, err = newVersionedRefreshCodec(context.Background(), cfg.RefreshTokenKeys)
	} else {
		refresh, err = newRefreshCodec(cfg.RefreshTokenKey)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: config: %w", err)
	}
	switch lt := cfg.AccessTokenLifetime; {
	case lt == 0:
		cfg.AccessTokenLifetime = DefaultAccessTokenLifetime
	case lt < time.Second || lt > MaxAccessTokenLifetime:
		return nil, fmt.Errorf("auth: config: access-token lifetime %v is outside [1s, %v]", lt, MaxAccessTokenLifetime)
	}
	switch lt := cfg.RefreshFamilyLifetime; {
	case lt == 0:
		cfg.RefreshFamilyLifetime = DefaultRefreshFamilyLifetime
	case lt < time.Second || lt > MaxRefreshFamilyLifetime:
		return nil, fmt.Errorf("auth: config: refresh-family lifetime %v is outside [1s, %v]", lt, MaxRefreshFamilyLifetime)
	}
	switch lt := cfg.RefreshTokenLifetime; {
	case lt == 0:
		cfg.RefreshTokenLifetime = min(DefaultRefreshTokenLifetime, cfg.RefreshFamilyLifetime)
	case lt < time.Second || lt > cfg.RefreshFamilyLifetime:
		return nil, fmt.Errorf("auth: config: refresh-token lifetime %v is outside [1s, %v] (the family lifetime)", lt, cfg.RefreshFamilyLifetime)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	metrics, err := newGrantMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Server{
		metrics:  metrics,
		registry: registry,
		keys:     keys,
		verifier: cfg.Verifier,
		mint: &minter{
			keys:            keys,
			issuer:          cfg.Issuer,
			audience:        []string{cfg.Audience},
			lifetime:        cfg.AccessTokenLifetime,
			refresh:         refresh,
			refreshLifetime: cfg.RefreshTokenLifetime,
			familyLifetime:  cfg.RefreshFamilyLifetime,
		},
		issuer: cfg.Issuer,
		scopes: slices.Clone(cfg.ScopesSupported),
		now:    cfg.Clock,
		log:    cfg.Logger,
	}, nil
}

// Token runs the grant named by grant_type.
func (s *Server) Token(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	start := time.Now()
	resp, err := s.token(ctx, req)
	s.metrics.observe(req.GetGrantType(), start, err)
	return resp, err
}

func (s *Server) token(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	switch gt := req.GetGrantType(); gt {
	case "":
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "grant_type is required")
	case GrantClientCredentials:
		return s.clientCredentials(ctx, req)
	case GrantRefreshToken:
		return s.refreshTokenGrant(ctx, req)
	default:
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_UNSUPPORTED_GRANT_TYPE, "grant_type "+quote(gt)+" is not supported")
	}
}

// GetJwks returns the public signing keys.
func (s *Server) GetJwks(ctx context.Context, _ *authv1.GetJwksRequest) (*authv1.GetJwksResponse, error) {
	doc, err := s.keys.PublicJWKS()
	if err != nil {
		return nil, fmt.Errorf("public JWKS: %w", err)
	}
	return &authv1.GetJwksResponse{JwksJson: doc}, nil
}

// GetServerMetadata returns what the RFC 8414 metadata document holds
// besides the endpoint URLs, which the gateway derives from the issuer.
func (s *Server) GetServerMetadata(context.Context, *authv1.GetServerMetadataRequest) (*authv1.GetServerMetadataResponse, error) {
	algs := s.keys.Algorithms()
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = a.String()
	}
	return &authv1.GetServerMetadataResponse{
		Issuer:                            s.issuer,
		GrantTypesSupported:               []string{GrantClientCredentials, GrantRefreshToken},
		TokenEndpointAuthMethodsSupported: []string{AuthMethodClientSecretBasic, AuthMethodClientSecretPost},
		ScopesSupported:                   slices.Clone(s.scopes),
		SigningAlgValuesSupported:         names,
	}, nil
}
