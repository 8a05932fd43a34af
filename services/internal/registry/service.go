// Package registry is the token registry: tenants, the context catalog and
// API credentials, with every rule of the product (docs/spec.md §2) enforced on top
// of a storage.Store. server.go exposes it over gRPC.
//
// Grants (AuthenticateClient, the refresh grant's client check) are served
// from a credential cache when the revocation set confirms the cached
// credential and tenant current: every change that can alter a grant bumps
// the row's version in the database and writes it to the set (a Changed
// entry) before it returns, so that the next grant on every replica sees
// it; only successes come from the cache, and a set that cannot answer
// sends the grant to the database (credcache.go).
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/revocation"
)

// Page sizes for ListTokens.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// lastUseGranularity bounds how often a grant writes a credential's last-use
// time: at most once a minute per credential, so grants stay reads.
const lastUseGranularity = time.Minute

// Config wires a Service.
type Config struct {
	Store   storage.Store
	Catalog *chave.Catalog
	Hasher  *secrets.Hasher
	Sealer  *secrets.Sealer
	Clock   func() time.Time // nil: time.Now
	Logger  *slog.Logger     // nil: slog.Default()
	// Revocations is the revocation set every verifier consults; the
	// registry writes it after each revocation commits. Nil: an in-process
	// set.
	Revocations revocation.Set
	// Registerer receives the registry's metrics; nil: none.
	Registerer prometheus.Registerer
	// AccessTokenLifetime is the auth service's access-token lifetime (its
	// --access-token-lifetime), at least that of every live access token:
	// revocation entries last this long plus the verifiers' leeway. Zero:
	// chave.MaxAccessTokenLifetime, the longest the auth service accepts.
	AccessTokenLifetime time.Duration
	// CredentialCacheSize bounds the credential cache (credcache.go): 0
	// means DefaultCredentialCacheSize, a negative size turns it off.
	CredentialCacheSize int
}

// Service implements the registry's rules.
type Service struct {
	store   storage.Store
	catalog *chave.Catalog
	hasher  *secrets.Hasher
	sealer  *secrets.Sealer
	now     func() time.Time
	log     *slog.Logger

	revocations revocation.Set
	rebuild     chan struct{} // asks the keeper to rebuild the set
	metrics     *metrics
	creds       *credCache // nil: none

	// accessTokenLifetime is how long revocation entries last, leeway aside.
	accessTokenLifetime time.Duration

	mu      sync.Mutex
	lastUse map[string]time.Time // client id → last recorded use
	// secretEnds are the rotation records of grace periods not yet
	// enforced in the revocation set, by record id (EndPreviousSecrets).
	secretEnds map[string]chave.RevokedAccessToken
	// rehashing holds the client ids whose secret is being re-hashed.
	rehashing map[string]bool

	usage    *usageCounter // grants not flushed yet
	expiring *expiringCollector
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Hasher == nil || cfg.Sealer == nil {
		return nil, fmt.Errorf("registry: Store, Catalog, Hasher and Sealer are required")
	}
	s := &Service{
		store: cfg.Store, catalog: cfg.Catalog, hasher: cfg.Hasher, sealer: cfg.Sealer,
		now: cfg.Clock, log: cfg.Logger, lastUse: map[string]time.Time{}, secretEnds: map[string]chave.RevokedAccessToken{}, rehashing: map[string]bool{},
		revocations: cfg.Revocations, rebuild: make(chan struct{}, 1),
		accessTokenLifetime: cfg.AccessTokenLifetime,
		usage:               newUsageCounter(),
	}
	switch lt := s.accessTokenLifetime; {
	case lt == 0:
		s.accessTokenLifetime = chave.MaxAccessTokenLifetime
	case lt < time.Second || lt > chave.MaxAccessTokenLifetime:
		return nil, fmt.Errorf("registry: access-token lifetime %v is outside [1s, %v]", lt, chave.MaxAccessTokenLifetime)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.revocations == nil {
		s.revocations = revocation.NewMemory(s.now)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registry: metrics: %w", err)
	}
	s.metrics = m
	if s.creds, err = newCredCache(cfg.CredentialCacheSize, cfg.Registerer, s.now); err != nil {
		return nil, fmt.Errorf("registry: metrics: %w", err)
	}
	s.expiring = &expiringCollector{}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(s.expiring); err != nil {
			return nil, fmt.Errorf("registry: metrics: %w", err)
		}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Catalog returns the context catalog.
func (s *Service) Catalog() *chave.Catalog { return s.catalog }

// Ping checks the store.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// normaliseMask turns update-mask paths into JSON field names; an empty
// mask means every field. Nested paths (parameters.telegram.botToken) name
// their top-level field.
func normaliseMask(mask []string, allowed map[string]string) ([]string, error) {
	var out []string
	if len(mask) == 0 {
		for _, f := range allowed {
			out = append(out, f)
		}
		return chave.SortedSet(out), nil
	}
	for _, p := range mask {
		top, _, _ := strings.Cut(p, ".")
		f, ok := allowed[top]
		if !ok {
			return nil, chave.InvalidField("updateMask", "field %q cannot be changed", p)
		}
		out = append(out, f)
	}
	return chave.SortedSet(out), nil
}

func tokenFieldsSet(t chave.Token) []string {
	f := []string{"displayName"}
	if t.Tenant != "" {
		f = append(f, "tenant")
	}
	if t.Description != "" {
		f = append(f, "description")
	}
	if t.GeneralAccess {
		f = append(f, "generalAccess")
	}
	if len(t.Contexts) > 0 {
		f = append(f, "contexts")
	}
	if len(t.Parameters) > 0 {
		f = append(f, "parameters")
	}
	if !t.ExpireTime.IsZero() {
		f = append(f, "expireTime")
	}
	if t.IssueRefreshTokens {
		f = append(f, "issueRefreshTokens")
	}
	return f
}

// secretVersion is a short, non-reversible fingerprint of the secret hash:
// it changes when the secret rotates.
func secretVersion(hash []byte) string {
	sum := sha256.Sum256(hash)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// secretVersionOf is the credential's secret version: the fingerprint
// frozen when its secret was first re-hashed under another server key
// version, else that of its hash.
func secretVersionOf(t chave.Token) string {
	if t.SecretVersion != "" {
		return t.SecretVersion
	}
	return secretVersion(t.SecretHash)
}

// setSecret stores the hash of a new secret in t, under the active
// hashing key version; the secret version follows from the new hash.
func (s *Service) setSecret(ctx context.Context, t *chave.Token, secret secrets.ClientSecret) error {
	h, err := s.hasher.Hash(ctx, secret)
	if err != nil {
		return err
	}
	t.SecretHash, t.SecretHashVersion, t.SecretVersion = h.Sum, h.Version, ""
	return nil
}
