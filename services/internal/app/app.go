package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/observe"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/postgres"
	"github.com/chave/chave/services/internal/storage/sqlite"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// Server is the running all-in-one server.
type Server struct {
	log         *slog.Logger
	bg          sync.WaitGroup     // background loops (key reload, rotation, revocation keeper)
	bgCtx       context.Context    // their context
	stopBg      context.CancelFunc // ends them
	revocations revocation.Set
	store       storage.Store
	grpc        *grpc.Server
	http        *http.Server
	conn        *grpc.ClientConn
	httpLn      net.Listener
	grpcLn      net.Listener
	issuer      string
	errs        chan error
	stopOnce    sync.Once
}

// HTTPAddr is the address the HTTP server listens on.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// GRPCAddr is the address the gRPC server listens on.
func (s *Server) GRPCAddr() string { return s.grpcLn.Addr().String() }

// Issuer is the iss of every token this server signs.
func (s *Server) Issuer() string { return s.issuer }

// OpenStore opens the database a --db URL names.
func OpenStore(ctx context.Context, db string) (storage.Store, error) {
	if path, ok := sqlitePath(db); ok {
		return sqlite.Open(ctx, path)
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return postgres.Open(ctx, db)
	}
	return nil, fmt.Errorf("--db %s: want sqlite://PATH or postgres://URL", redactURL(db))
}

// NewRegistry builds the registry service over an open store.
func NewRegistry(cfg Config, store storage.Store) (*registry.Service, error) {
	catalog, err := loadCatalog(cfg.CatalogFile)
	if err != nil {
		return nil, err
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return nil, err
	}
	return newRegistry(cfg, store, catalog, keys, nil, nil)
}

func newRegistry(cfg Config, store storage.Store, catalog *chave.Catalog, keys secrets.Keys, revs revocation.Set, reg prometheus.Registerer) (*registry.Service, error) {
	hasher, err := secrets.NewHasher(keys.Hash)
	if err != nil {
		return nil, err
	}
	sealer, err := secrets.NewSealer(keys.Encryption)
	if err != nil {
		return nil, err
	}
	return registry.New(registry.Config{Store: store, Catalog: catalog, Hasher: hasher, Sealer: sealer, Logger: cfg.Logger,
		Revocations: revs, Registerer: reg})
}

// scopesSupported lists the catalog's contexts and the reserved scopes.
func scopesSupported(c *chave.Catalog) []string {
	out := []string{chave.ScopeRegistryAdmin, chave.ScopeTokenIntrospect}
	for _, ctx := range c.Contexts() {
		out = append(out, ctx.ID)
	}
	return out
}

// Start opens the database, starts the gRPC and HTTP servers and returns
// once both listen. Stop shuts them down.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg.setDefaults()
	s := &Server{log: cfg.Logger, errs: make(chan error, 2)}
	defer func() {
		if err != nil {
			s.Stop(context.Background())
		}
	}()
	if s.store, err = OpenStore(ctx, cfg.DB); err != nil {
		return nil, err
	}
	catalog, err := loadCatalog(cfg.CatalogFile)
	if err != nil {
		return nil, err
	}
	secretKeys, err := loadKeys(cfg)
	if err != nil {
		return nil, err
	}
	if s.revocations, err = openRevocations(ctx, cfg); err != nil {
		return nil, err
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg, err := newRegistry(cfg, s.store, catalog, secretKeys, s.revocations, metrics)
	if err != nil {
		return nil, err
	}
	// Fill the set from the database before serving; if Redis is down the
	// keeper keeps trying, and verifiers fail closed meanwhile.
	rebuildCtx, cancelRebuild := context.WithTimeout(ctx, 10*time.Second)
	if err := reg.RebuildRevocations(rebuildCtx); err != nil {
		cfg.Logger.Error("revocation set not rebuilt at start; verification fails closed until it is", "err", err)
	}
	cancelRebuild()
	keysPath, err := signingKeysPath(cfg)
	if err != nil {
		return nil, err
	}
	alg := jwa.SignatureAlgorithm(cfg.SigningAlgorithm)
	keys, err := signing.LoadOrCreate(keysPath, alg, time.Now())
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("--grpc-addr: %w", err)
	}
	s.issuer = cfg.Issuer
	if s.issuer == "" {
		s.issuer = defaultIssuer(hostPortFor(cfg.HTTPAddr, s.httpLn))
	}
	audience := cfg.Audience
	if audience == "" {
		audience = s.issuer
	}
	// Every algorithm chave signs with: a rotation may change it at run
	// time, and Verify still requires the header's alg to be the key's.
	verifications := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chave_token_verifications_total",
		Help: "Access-token verifications by outcome: ok, unavailable, or the reason for refusal.",
	}, []string{"outcome"})
	metrics.MustRegister(verifications, revocationSizeGauge(s.revocations))
	verifier, err := verify.New(verify.Config{
		Issuer: s.issuer, Audience: audience, Algorithms: signing.Algorithms(), Keys: keys,
		Revocations: revocation.Checker(s.revocations),
		Observe:     func(outcome string) { verifications.WithLabelValues(outcome).Inc() },
	})
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}

	// The auth service and the gateway reach the registry over gRPC, through
	// the same listener and interceptors as any other caller.
	if s.conn, err = grpc.NewClient("passthrough:///"+dialAddr(s.grpcLn), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return nil, fmt.Errorf("dial own gRPC listener: %w", err)
	}
	authSrv, err := auth.NewServer(auth.Config{
		Issuer: s.issuer, Audience: audience, Logger: cfg.Logger, Verifier: verifier,
		AccessTokenLifetime: cfg.AccessTokenLifetime, RefreshTokenKey: secretKeys.RefreshToken,
		RefreshTokenLifetime: cfg.RefreshTokenLifetime, RefreshFamilyLifetime: cfg.RefreshFamilyLifetime,
		ScopesSupported: scopesSupported(catalog),
	}, auth.NewRegistryClient(registryv1.NewRegistryServiceClient(s.conn)), keys)
	if err != nil {
		return nil, fmt.Errorf("auth service: %w", err)
	}

	grpcObs, err := observe.NewGRPC(metrics, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s.grpc = grpc.NewServer(grpcObs.ServerOptions(
		[]grpc.UnaryServerInterceptor{registry.AuthInterceptor(reg, accessTokenVerifier(verifier), cfg.Logger)}, nil)...)
	registryv1.RegisterRegistryServiceServer(s.grpc, registry.NewServer(reg, cfg.Logger))
	authv1.RegisterAuthServiceServer(s.grpc, authSrv)
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, healthSrv)
	reflection.Register(s.grpc)

	edge, err := gateway.New(ctx, gateway.Config{
		Registry: s.conn, Auth: s.conn, Logger: cfg.Logger, Registerer: metrics,
		Ready: s.ready,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.Handle("/", edge)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}

	if cfg.PrintBootstrapCredential {
		if err := printBootstrap(ctx, cfg, reg); err != nil {
			return nil, err
		}
	}
	s.startKeyMaintenance(cfg, keys, keysPath, alg)
	s.goBackground(func(ctx context.Context) { reg.RunRevocationKeeper(ctx, time.Second) })
	go func() { s.errs <- s.grpc.Serve(s.grpcLn) }()
	go func() {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			s.errs <- err
		}
	}()
	for _, svc := range []string{"", registryv1.RegistryService_ServiceDesc.ServiceName, authv1.AuthService_ServiceDesc.ServiceName} {
		healthSrv.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}
	cfg.Logger.Info("chave serving", "http", s.HTTPAddr(), "grpc", s.GRPCAddr(), "issuer", s.issuer, "db", redactURL(cfg.DB))
	return s, nil
}

// Err receives the first error of a server that stopped on its own.
func (s *Server) Err() <-chan error { return s.errs }

// Stop drains in-flight requests (until ctx ends) and closes everything.
func (s *Server) Stop(ctx context.Context) {
	s.stopOnce.Do(func() {
		if s.stopBg != nil {
			s.stopBg()
			s.bg.Wait()
		}
		if s.http != nil {
			if err := s.http.Shutdown(ctx); err != nil {
				s.http.Close()
			}
		}
		if s.grpc != nil {
			done := make(chan struct{})
			go func() { s.grpc.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				s.grpc.Stop()
			}
		}
		for _, ln := range []net.Listener{s.httpLn, s.grpcLn} {
			if ln != nil {
				ln.Close()
			}
		}
		if s.conn != nil {
			s.conn.Close()
		}
		if s.store != nil {
			s.store.Close()
		}
		if s.revocations != nil {
			s.revocations.Close()
		}
	})
}

// startKeyMaintenance reloads the signing keys when another process (the
// `chave keys rotate` command, another replica) rotates them, and rotates
// them on schedule when configured.
func (s *Server) startKeyMaintenance(cfg Config, keys *signing.KeySet, path string, alg jwa.SignatureAlgorithm) {
	s.goBackground(func(ctx context.Context) { keys.Watch(ctx, path, signing.DefaultWatchInterval, cfg.Logger) })
	if cfg.SigningKeyRotation <= 0 {
		return
	}
	s.goBackground(func(ctx context.Context) {
		if err := keys.RunSchedule(ctx, path, cfg.SigningKeyRotation, alg, cfg.SigningKeyPrePublish, cfg.signingKeyRetention(), cfg.Logger); err != nil {
			cfg.Logger.Error("signing key rotation stopped", "err", err)
		}
	})
}

// goBackground runs loop until Stop.
func (s *Server) goBackground(loop func(ctx context.Context)) {
	if s.stopBg == nil {
		s.bgCtx, s.stopBg = context.WithCancel(context.Background())
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		loop(s.bgCtx)
	}()
}

// ready reports whether the dependencies answer: the database and the
// revocation set (reachable and not lost).
func (s *Server) ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := s.revocations.Healthy(ctx); err != nil {
		return fmt.Errorf("revocation set: %w", err)
	}
	return nil
}

func accessTokenVerifier(v *verify.Verifier) registry.AccessTokenVerifier {
	return func(ctx context.Context, raw string) (string, []string, error) {
		c, err := v.Verify(ctx, raw)
		if err != nil {
			return "", nil, err
		}
		return c.ClientID, c.Scopes, nil
	}
}

// printBootstrap creates and prints an operator credential when the database
// holds none: a development convenience that `make run` turns on.
func printBootstrap(ctx context.Context, cfg Config, reg *registry.Service) error {
	has, err := reg.HasOperator(ctx)
	if err != nil || has {
		return err
	}
	id, secret, err := reg.Bootstrap(ctx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]string{"clientId": id, "clientSecret": secret.Reveal()})
	_, err = fmt.Fprintf(cfg.Stdout, "operator credential (shown once; keep it safe):\n%s\n", b)
	return err
}

// hostPortFor keeps the configured host but takes the port the listener
// actually got (":0" in tests).
func hostPortFor(configured string, ln net.Listener) string {
	host, _, err := net.SplitHostPort(configured)
	if err != nil {
		return configured
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port)
}

// dialAddr is a loopback address for the listener.
func dialAddr(ln net.Listener) string {
	addr := ln.Addr().(*net.TCPAddr)
	if addr.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(addr.Port))
	}
	return addr.String()
}

// openRevocations opens the revocation set: Redis when configured (after
// checking it will not evict entries), else an in-process set.
func openRevocations(ctx context.Context, cfg Config) (revocation.Set, error) {
	if cfg.Redis == "" {
		return revocation.NewMemory(time.Now), nil
	}
	client, err := revocation.ParseURL(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	checkCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	policy, err := revocation.CheckEvictionPolicy(checkCtx, client)
	switch {
	case err != nil:
		cfg.Logger.Warn("could not read Redis's maxmemory-policy", "err", err)
	case policy != "noeviction" && cfg.RedisRequireNoEviction:
		client.Close()
		return nil, fmt.Errorf("--redis: maxmemory-policy is %q; the revocation set needs noeviction (or drop --redis-require-noeviction)", policy)
	case policy != "noeviction":
		cfg.Logger.Warn("Redis may evict revocation entries: set maxmemory-policy noeviction", "maxmemory-policy", policy)
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
