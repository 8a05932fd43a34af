package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/observe"
	"github.com/chave/chave/services/internal/redact"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/postgres"
	"github.com/chave/chave/services/internal/storage/sqlite"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// registryJWKSMissInterval is the least time between two fetches of the
// JWKS that a token with an unknown kid makes the registry apart do.
const registryJWKSMissInterval = 2 * time.Second

// OpenStore opens the database a --db URL names, applying the migrations
// it lacks.
func OpenStore(ctx context.Context, db string) (storage.Store, error) {
	if err := checkDB(db); err != nil {
		return nil, err
	}
	if path, ok := sqlitePath(db); ok {
		return sqlite.Open(ctx, path)
	}
	return postgres.Open(ctx, db)
}

// Migrate brings the database db names (default DefaultDB) to the current
// schema (opening the store applies the migrations) and closes it: `chave
// migrate`.
func Migrate(ctx context.Context, db string) error {
	if db == "" {
		db = DefaultDB
	}
	store, err := OpenStore(ctx, db)
	if err != nil {
		return err
	}
	return store.Close()
}

// NewRegistry builds the registry service over an open store.
func NewRegistry(cfg RegistryConfig, store storage.Store) (*registry.Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	catalog, err := loadCatalog(cfg.CatalogFile)
	if err != nil {
		return nil, err
	}
	keys, err := loadKeys(cfg.Keys, cfg.DB, cfg.Logger, useStorageKeys)
	if err != nil {
		return nil, err
	}
	return newRegistry(cfg, store, catalog, keys, nil, nil)
}

func newRegistry(cfg RegistryConfig, store storage.Store, catalog *chave.Catalog, keys secrets.KeyProvider, revs revocation.Set, reg prometheus.Registerer) (*registry.Service, error) {
	hasher, sealer := secrets.NewProviderHasher(keys), secrets.NewProviderSealer(keys)
	return registry.New(registry.Config{Store: store, Catalog: catalog, Hasher: hasher, Sealer: sealer, Logger: cfg.Logger,
		Revocations: revs, Registerer: reg, AccessTokenLifetime: cfg.AccessTokenLifetime, Clock: cfg.RegistryClock})
}

// StartRegistry starts `chave registry`: the registry's gRPC service over
// the database, the keeper of the revocation set, and the metrics
// listener. It verifies Bearer tokens as a resource server of chave's own
// tokens: the keys from the published JWKS (cfg.JWKSURL), the revocation
// set it keeps; it holds no signing key.
func StartRegistry(ctx context.Context, cfg RegistryConfig) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return start("registry", cfg.ProcessConfig, func(s *Server) error {
		creds, err := cfg.TLS.serverCredentials()
		if err != nil {
			return err
		}
		metrics := newMetrics()
		catalog, err := loadCatalog(cfg.CatalogFile)
		if err != nil {
			return err
		}
		keys, err := loadKeys(cfg.Keys, cfg.DB, cfg.Logger, useStorageKeys)
		if err != nil {
			return err
		}
		if err := registerServerKeys(metrics, keys, useStorageKeys); err != nil {
			return err
		}
		internal, err := cfg.Internal.registryRule(cfg.TLS)
		if err != nil {
			return err
		}
		reg, err := s.openRegistry(ctx, cfg, catalog, keys, metrics)
		if err != nil {
			return err
		}
		s.issuer = cfg.Issuer
		// A kid it does not know sends it back to the JWKS every 2 s at
		// most: after an emergency rotation (a new key signing at once) it
		// accepts the new tokens within that, the gateway's 5 s and the
		// auth service's poll.
		jwks := verify.NewRemoteKeys(cfg.JWKSURL, verify.RemoteKeysOptions{Logger: cfg.Logger, MissRefreshInterval: registryJWKSMissInterval})
		verifier, err := newVerifier(verify.Config{
			Issuer: cfg.Issuer, Audience: cfg.Audience, Keys: jwks, Revocations: revocation.Checker(reg.revocations),
		}, metrics)
		if err != nil {
			return err
		}
		if err := s.listenGRPC(cfg.GRPCAddr, metrics, creds, registry.StatusInterceptor(), reg.interceptor(verifier, internal, cfg.Logger)); err != nil {
			return err
		}
		reg.register(s.grpc, cfg.Logger)
		reg.registerCredentials(s.grpc, cfg.Logger)
		s.watchHealth(reg.ready, registryv1.RegistryService_ServiceDesc.ServiceName, registryv1.CredentialService_ServiceDesc.ServiceName)
		return s.listenMetrics(cfg.MetricsAddr, metrics, nil)
	}, "db", redact.URL(cfg.DB))
}

// registryPart is the registry service of a process and what it owns.
type registryPart struct {
	svc         *registry.Service
	leaks       *registry.LeakServer
	store       storage.Store
	revocations revocation.Set
}

// openRegistry opens the database and the revocation set, builds the
// registry service, fills the set from the database and starts its
// keeper. The server closes the store and the set when it stops.
func (s *Server) openRegistry(ctx context.Context, cfg RegistryConfig, catalog *chave.Catalog, keys secrets.KeyProvider, metrics *prometheus.Registry) (*registryPart, error) {
	p := &registryPart{}
	store, err := OpenStore(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, store)
	if p.store, err = observe.Store(store, metrics); err != nil {
		return nil, err
	}
	if p.revocations, err = s.openRevocations(ctx, cfg.Redis, cfg.Logger, metrics); err != nil {
		return nil, err
	}
	metrics.MustRegister(revocationSizeGauge(p.revocations))
	if p.svc, err = newRegistry(cfg, p.store, catalog, keys, p.revocations, metrics); err != nil {
		return nil, err
	}
	rate, err := s.leakReportRate(cfg)
	if err != nil {
		return nil, err
	}
	if p.leaks, err = registry.NewLeakServer(p.svc, rate, cfg.Logger); err != nil {
		return nil, err
	}
	// Fill the set from the database before serving; if Redis is down the
	// keeper keeps trying, and verifiers fail closed meanwhile.
	rebuildCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := p.svc.RebuildRevocations(rebuildCtx); err != nil {
		cfg.Logger.Error("revocation set not rebuilt at start; verification fails closed until it is", "err", err)
	}
	cancel()
	s.goBackground(func(ctx context.Context) { p.svc.RunRevocationKeeper(ctx, keeperInterval) })
	// Grants are counted in memory and written once a minute, and once
	// more as the server stops (the background loops end before the store
	// closes).
	s.goBackground(func(ctx context.Context) { p.svc.RunUsageKeeper(ctx, registry.UsageFlushInterval) })
	s.goBackground(func(ctx context.Context) { p.svc.RunExpiryGauge(ctx, registry.ExpiryGaugeInterval) })
	return p, nil
}

// interceptor authenticates the registry's calls: RegistryService's with
// verifier, CredentialService's with internal.
func (p *registryPart) interceptor(verifier *verify.Verifier, internal registry.InternalAuth, log *slog.Logger) grpc.UnaryServerInterceptor {
	return registry.AuthInterceptor(p.svc, accessTokenVerifier(verifier), internal, log)
}

// register serves the registry's public API: RegistryService, and
// LeakService, which needs no credential.
func (p *registryPart) register(r grpc.ServiceRegistrar, log *slog.Logger) {
	registryv1.RegisterRegistryServiceServer(r, registry.NewServer(p.svc, log))
	registryv1.RegisterLeakServiceServer(r, p.leaks)
}

// registerCredentials serves CredentialService, the auth service's API:
// only where the interceptor admits the auth service alone.
func (p *registryPart) registerCredentials(r grpc.ServiceRegistrar, log *slog.Logger) {
	registryv1.RegisterCredentialServiceServer(r, registry.NewCredentialServer(p.svc, log))
}

// ready reports whether the registry's dependencies answer: the database
// and the revocation set (reachable and not lost).
func (p *registryPart) ready(ctx context.Context) error {
	if err := p.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := p.revocations.Healthy(ctx); err != nil {
		return fmt.Errorf("revocation set: %w", err)
	}
	return nil
}

// newVerifier returns the access-token verifier of cfg, accepting every
// algorithm chave signs with (a rotation may change it at run time, and
// Verify still requires the header's alg to be the key's), counting its
// outcomes on metrics.
func newVerifier(cfg verify.Config, metrics prometheus.Registerer) (*verify.Verifier, error) {
	verifications := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chave_token_verifications_total",
		Help: "Access-token verifications by outcome: ok, unavailable, or the reason for refusal.",
	}, []string{"outcome"})
	if err := metrics.Register(verifications); err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	cfg.Algorithms = signing.Algorithms()
	cfg.Observe = func(outcome string) { verifications.WithLabelValues(outcome).Inc() }
	v, err := verify.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	return v, nil
}

// accessTokenVerifier adapts v to the registry's Bearer check: a verifier
// that cannot decide (keys or revocation set unreachable) answers
// Unavailable, not Unauthenticated.
func accessTokenVerifier(v *verify.Verifier) registry.AccessTokenVerifier {
	return func(ctx context.Context, raw string) (string, []string, string, error) {
		c, err := v.Verify(ctx, raw)
		if errors.Is(err, verify.ErrUnavailable) {
			return "", nil, "", status.Error(codes.Unavailable, err.Error())
		}
		if err != nil {
			return "", nil, "", err
		}
		return c.ClientID, c.Scopes, c.SecretVersion, nil
	}
}

// openRevocations opens the revocation set, instrumented, and closes it
// when the server stops.
func (s *Server) openRevocations(ctx context.Context, cfg RedisConfig, log *slog.Logger, metrics prometheus.Registerer) (revocation.Set, error) {
	set, err := openRevocationSet(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, set)
	return observe.RevocationSet(set, metrics)
}

// openRevocationSet opens the revocation set: Redis when configured (after
// checking it will not evict entries), else an in-process set.
func openRevocationSet(ctx context.Context, cfg RedisConfig, log *slog.Logger) (revocation.Set, error) {
	if cfg.URL == "" {
		return revocation.NewMemory(time.Now), nil
	}
	client, err := revocation.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	checkCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	policy, err := revocation.CheckEvictionPolicy(checkCtx, client)
	switch {
	case err != nil:
		log.Warn("could not read Redis's maxmemory-policy", "err", err)
	case policy != "noeviction" && cfg.RequireNoEviction:
		client.Close()
		return nil, fmt.Errorf("--redis: maxmemory-policy is %q; the revocation set needs noeviction (or drop --redis-require-noeviction)", policy)
	case policy != "noeviction":
		log.Warn("Redis may evict revocation entries: set maxmemory-policy noeviction", "maxmemory-policy", policy)
	}
	set, err := revocation.NewRedis(client, revocation.Options{})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	return set, nil
}

// revocationSizeGauge reports the revocation set's size when scraped.
func revocationSizeGauge(set revocation.Set) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chave_revocation_set_entries",
		Help: "Live entries in the revocation set (-1 when it cannot be read).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := set.Size(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}
