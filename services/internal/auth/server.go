package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
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
	MaxAccessTokenLifetime     = 24 * time.Hour
)

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
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives the server's logs; nil discards them. Secrets and
	// tokens are never logged.
	Logger *slog.Logger
}

// Server implements authv1.AuthServiceServer.
type Server struct {
	authv1.UnimplementedAuthServiceServer

	clients ClientAuthenticator
	keys    Keys
	mint    *minter
	now     func() time.Time
	log     *slog.Logger
}

var _ authv1.AuthServiceServer = (*Server)(nil)

// NewServer validates cfg and returns the auth service's server, which
// authenticates clients with clients and signs with keys.
func NewServer(cfg Config, clients ClientAuthenticator, keys Keys) (*Server, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: config: issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth: config: audience is required")
	}
	if clients == nil || keys == nil {
		return nil, errors.New("auth: a client authenticator and keys are required")
	}
	switch lt := cfg.AccessTokenLifetime; {
	case lt == 0:
		cfg.AccessTokenLifetime = DefaultAccessTokenLifetime
	case lt < time.Second || lt > MaxAccessTokenLifetime:
		return nil, fmt.Errorf("auth: config: access-token lifetime %v is outside [1s, %v]", lt, MaxAccessTokenLifetime)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		clients: clients,
		keys:    keys,
		mint: &minter{
			keys:     keys,
			issuer:   cfg.Issuer,
			audience: []string{cfg.Audience},
			lifetime: cfg.AccessTokenLifetime,
		},
		now: cfg.Clock,
		log: cfg.Logger,
	}, nil
}

// Token runs the grant named by grant_type.
func (s *Server) Token(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	resp, err := s.token(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return resp, nil
}

func (s *Server) token(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	switch gt := req.GetGrantType(); gt {
	case "":
		return nil, newOAuthError(ErrInvalidRequest, "grant_type is required")
	case GrantClientCredentials:
		return s.clientCredentials(ctx, req)
	default:
		return nil, newOAuthError(ErrUnsupportedGrantType, "grant_type "+quote(gt)+" is not supported")
	}
}

// GetJwks returns the public signing keys.
func (s *Server) GetJwks(ctx context.Context, _ *authv1.GetJwksRequest) (*authv1.GetJwksResponse, error) {
	doc, err := s.keys.PublicJWKS()
	if err != nil {
		return nil, s.toStatus(ctx, fmt.Errorf("public JWKS: %w", err))
	}
	return &authv1.GetJwksResponse{JwksJson: doc}, nil
}
