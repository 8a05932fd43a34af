package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/observe"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/throttle"
)

// shutdownTimeout bounds the drain of in-flight requests on SIGTERM, after
// the drain delay (deploy/ gives the pods 30 s for both).
const shutdownTimeout = 20 * time.Second

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	var level slog.Level
	f := newFlags("serve", stderr)
	f.string(&cfg.HTTPAddr, "http-addr", app.DefaultHTTPAddr, "HTTP listen address")
	f.string(&cfg.GRPCAddr, "grpc-addr", app.DefaultGRPCAddr, "gRPC listen address")
	f.string(&cfg.MetricsAddr, "metrics-addr", app.DefaultServeMetricsAddr, "listen address of /metrics, /healthz and /readyz, apart from the public ports (empty: none)")
	f.bool(&cfg.PProf, "pprof", false, "serve net/http/pprof under /debug/pprof/ on --metrics-addr")
	shutdownFlag(f, &cfg.ShutdownDrainDelay)
	dbFlag(f, &cfg.DB)
	catalogFlag(f, &cfg.CatalogFile)
	secretsFlags(f, &cfg.SecretsFile, &cfg.HashKey, &cfg.EncryptionKey, &cfg.RefreshTokenKey, "secrets.json beside the SQLite file")
	redisFlags(f, &cfg.Redis, &cfg.RedisRequireNoEviction)
	tokenFlags(f, &cfg.Issuer, &cfg.Audience, "", "http:// + the HTTP address")
	signingFlags(f, signingSettings{&cfg.SigningAlgorithm, &cfg.SigningKeysFile, &cfg.KeyEncryptionKey, &cfg.SigningKeyPollInterval,
		&cfg.AccessTokenLifetime, &cfg.RefreshTokenLifetime, &cfg.RefreshFamilyLifetime, &cfg.SigningKeyRotation, &cfg.SigningKeyPrePublish},
		"none: the database of --db")
	throttleFlags(f, &cfg.Throttle)
	leakFlag(f, &cfg.LeakReportsPerMinute)
	trustedProxiesFlag(f, &cfg.TrustedProxies)
	f.fs.BoolVar(&cfg.PrintBootstrapCredential, "print-bootstrap-credential", false, "on a database without an operator credential, create one and print it once")
	tracingFlags(f, &cfg.Tracing)
	f.logLevel(&level)
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Stdout = stdout
	return runServer(ctx, "", level, stdout, stderr, &cfg.Logger, func(ctx context.Context) (*app.Server, error) { return app.Start(ctx, cfg) })
}

func registryCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.RegistryConfig
	var level slog.Level
	f := newFlags("registry", stderr)
	f.string(&cfg.GRPCAddr, "grpc-addr", app.DefaultGRPCAddr, "gRPC listen address")
	metricsFlag(f, &cfg.ProcessConfig)
	dbFlag(f, &cfg.DB)
	catalogFlag(f, &cfg.CatalogFile)
	secretsFlags(f, &cfg.Keys.SecretsFile, &cfg.Keys.HashKey, &cfg.Keys.EncryptionKey, &cfg.Keys.RefreshTokenKey, "secrets.json beside the SQLite file")
	redisFlags(f, &cfg.Redis.URL, &cfg.Redis.RequireNoEviction)
	tokenFlags(f, &cfg.Issuer, &cfg.Audience, app.DefaultIssuer, "")
	f.string(&cfg.JWKSURL, "jwks-url", "", "where the public signing keys that verify Bearer tokens are fetched (default: the issuer + /.well-known/jwks.json)")
	f.duration(&cfg.AccessTokenLifetime, "access-token-lifetime", app.DefaultAccessTokenLifetime,
		"the auth service's access token lifetime, at least: revocations are kept this long plus 5m")
	leakFlag(f, &cfg.LeakReportsPerMinute)
	tlsServerFlags(f, &cfg.TLS)
	internalServerFlags(f, &cfg.Internal)
	tracingFlags(f, &cfg.Tracing)
	f.logLevel(&level)
	if err := f.parse(args); err != nil {
		return err
	}
	return runServer(ctx, "registry", level, stdout, stderr, &cfg.Logger, func(ctx context.Context) (*app.Server, error) { return app.StartRegistry(ctx, cfg) })
}

func authCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.AuthConfig
	var level slog.Level
	f := newFlags("auth", stderr)
	f.string(&cfg.GRPCAddr, "grpc-addr", app.DefaultGRPCAddr, "gRPC listen address")
	metricsFlag(f, &cfg.ProcessConfig)
	f.string(&cfg.RegistryAddr, "registry", "", "the registry's gRPC address, host:port (required)")
	catalogFlag(f, &cfg.CatalogFile)
	secretsFlags(f, &cfg.Keys.SecretsFile, &cfg.Keys.HashKey, &cfg.Keys.EncryptionKey, &cfg.Keys.RefreshTokenKey, app.DefaultSecretsFile)
	redisFlags(f, &cfg.Redis.URL, &cfg.Redis.RequireNoEviction)
	tokenFlags(f, &cfg.Issuer, &cfg.Audience, app.DefaultIssuer, "")
	f.string(&cfg.DB, "db", "", "database that holds the signing keys (only those): sqlite://PATH or postgres://URL (empty: --signing-keys-file)")
	signingFlags(f, signingSettings{&cfg.SigningAlgorithm, &cfg.SigningKeysFile, &cfg.KeyEncryptionKey, &cfg.SigningKeyPollInterval,
		&cfg.AccessTokenLifetime, &cfg.RefreshTokenLifetime, &cfg.RefreshFamilyLifetime, &cfg.SigningKeyRotation, &cfg.SigningKeyPrePublish},
		"the database of --db, else "+app.DefaultSigningKeysFile)
	throttleFlags(f, &cfg.Throttle)
	tlsServerFlags(f, &cfg.TLS)
	tlsClientFlags(f, &cfg.TLS)
	cfg.Internal.Token = os.Getenv("CHAVE_INTERNAL_TOKEN")
	tracingFlags(f, &cfg.Tracing)
	f.logLevel(&level)
	if err := f.parse(args); err != nil {
		return err
	}
	return runServer(ctx, "auth", level, stdout, stderr, &cfg.Logger, func(ctx context.Context) (*app.Server, error) { return app.StartAuth(ctx, cfg) })
}

func gatewayCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.GatewayConfig
	var level slog.Level
	f := newFlags("gateway", stderr)
	f.string(&cfg.HTTPAddr, "http-addr", app.DefaultHTTPAddr, "HTTP listen address")
	metricsFlag(f, &cfg.ProcessConfig)
	f.string(&cfg.RegistryAddr, "registry", "", "the registry's gRPC address, host:port (required)")
	f.string(&cfg.AuthAddr, "auth", "", "the auth service's gRPC address, host:port (required)")
	trustedProxiesFlag(f, &cfg.TrustedProxies)
	tlsClientFlags(f, &cfg.TLS)
	tracingFlags(f, &cfg.Tracing)
	f.logLevel(&level)
	if err := f.parse(args); err != nil {
		return err
	}
	return runServer(ctx, "gateway", level, stdout, stderr, &cfg.Logger, func(ctx context.Context) (*app.Server, error) { return app.StartGateway(ctx, cfg) })
}

func migrate(ctx context.Context, args []string, _, stderr io.Writer) error {
	var db string
	var level slog.Level
	f := newFlags("migrate", stderr)
	dbFlag(f, &db)
	f.logLevel(&level)
	if err := f.parse(args); err != nil {
		return err
	}
	log := newLogger(stderr, level)
	if err := app.Migrate(ctx, db); err != nil {
		return err
	}
	log.Info("database migrated")
	return nil
}

func bootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.RegistryConfig
	f := newFlags("bootstrap", stderr)
	dbFlag(f, &cfg.DB)
	catalogFlag(f, &cfg.CatalogFile)
	secretsFlags(f, &cfg.Keys.SecretsFile, &cfg.Keys.HashKey, &cfg.Keys.EncryptionKey, &cfg.Keys.RefreshTokenKey, "secrets.json beside the SQLite file")
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Logger = newLogger(stderr, slog.LevelWarn)
	store, err := app.OpenStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	reg, err := app.NewRegistry(cfg, store)
	if err != nil {
		return err
	}
	id, secret, err := reg.Bootstrap(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]string{"clientId": id, "clientSecret": secret.Reveal()})
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(observe.RedactSecrets(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// runServer starts a server (its logger, *logger, set first), prints where
// it listens, and runs it until ctx ends (SIGINT, SIGTERM) or it fails;
// then it drains in-flight requests for at most shutdownTimeout.
func runServer(ctx context.Context, name string, level slog.Level, stdout, stderr io.Writer, logger **slog.Logger,
	start func(context.Context) (*app.Server, error)) error {
	log := newLogger(stderr, level)
	*logger = log
	srv, err := start(ctx)
	if err != nil {
		return err
	}
	var where []string
	for _, a := range []struct{ what, addr string }{
		{"HTTP", srv.HTTPAddr()}, {"gRPC", srv.GRPCAddr()}, {"metrics", srv.MetricsAddr()}, {"issuer", srv.Issuer()},
	} {
		if a.addr != "" {
			where = append(where, a.what+" "+a.addr)
		}
	}
	fmt.Fprintf(stdout, "%s listening: %s\n", strings.TrimSpace("chave "+name), strings.Join(where, ", "))
	select {
	case <-ctx.Done():
		// Keep serving, not ready, for the drain delay; a second signal
		// ends it early.
		drain, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		srv.Drain(drain)
		stop()
	case err = <-srv.Err():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	srv.Stop(shutdown)
	return err
}

// Settings shared by several commands.

func dbFlag(f *flags, db *string) {
	f.string(db, "db", app.DefaultDB, "database: sqlite://PATH or postgres://URL")
}

func catalogFlag(f *flags, file *string) {
	f.string(file, "catalog", "", "context catalog file (default: the shipped catalog)")
}

// secretsFlags binds --secrets-file and reads the keys that replace it
// from the environment only, never from the command line.
func secretsFlags(f *flags, file, hashKey, encryptionKey, refreshTokenKey *string, defaultFile string) {
	f.string(file, "secrets-file", "", "file of the hashing, encryption and refresh-token keys, used when CHAVE_HASH_KEY, CHAVE_ENCRYPTION_KEY and CHAVE_REFRESH_TOKEN_KEY are unset (default: "+defaultFile+")")
	*hashKey = os.Getenv("CHAVE_HASH_KEY")
	*encryptionKey = os.Getenv("CHAVE_ENCRYPTION_KEY")
	*refreshTokenKey = os.Getenv("CHAVE_REFRESH_TOKEN_KEY")
}

func redisFlags(f *flags, url *string, requireNoEviction *bool) {
	f.string(url, "redis", "", "revocation set: redis://URL or rediss://URL (empty: in-process)")
	f.bool(requireNoEviction, "redis-require-noeviction", false, "refuse to start when Redis's maxmemory-policy is not noeviction")
}

// tokenFlags binds the issuer and audience of the tokens signed or
// accepted.
func tokenFlags(f *flags, issuer, audience *string, issuerDefault, issuerHelp string) {
	help := "iss of every token"
	if issuerHelp != "" {
		help += " (default " + issuerHelp + ")"
	}
	f.string(issuer, "issuer", issuerDefault, help)
	f.string(audience, "audience", "", "aud of every token (default: the issuer)")
}

// signingSettings are the settings signingFlags binds.
type signingSettings struct {
	algorithm, keysFile, keyEncryptionKey           *string
	pollInterval                                    *time.Duration
	accessLifetime, refreshLifetime, familyLifetime *time.Duration
	rotation, prePublish                            *time.Duration
}

// signingFlags binds the settings of the signing keys and the tokens'
// lifetimes.
func signingFlags(f *flags, s signingSettings, defaultKeysFile string) {
	f.string(s.algorithm, "signing-algorithm", app.DefaultSigningAlgorithm, "ES256, EdDSA, RS256 or HS512")
	f.string(s.keysFile, "signing-keys-file", "", "keep the private signing keys in this file, created with a fresh key if absent, instead of the database (default: "+defaultKeysFile+")")
	f.duration(s.pollInterval, "signing-key-poll-interval", signing.DefaultPollInterval, "how often to look for signing keys changed in the database by another process")
	// Never from the command line, where ps would show it.
	*s.keyEncryptionKey = os.Getenv("CHAVE_KEY_ENCRYPTION_KEY")
	f.duration(s.accessLifetime, "access-token-lifetime", app.DefaultAccessTokenLifetime, "access token lifetime")
	f.duration(s.refreshLifetime, "refresh-token-lifetime", auth.DefaultRefreshTokenLifetime, "refresh token lifetime")
	f.duration(s.familyLifetime, "refresh-family-lifetime", auth.DefaultRefreshFamilyLifetime, "absolute lifetime of a chain of refresh tokens")
	f.duration(s.rotation, "signing-key-rotation", 0, "rotate the signing key when it has signed this long (0: only by the chave keys rotate command)")
	f.duration(s.prePublish, "signing-key-pre-publish", signing.DefaultPrePublish, "publish a new signing key this long before it signs")
}

// tracingFlags bind OpenTelemetry tracing, off unless an endpoint is set.
func tracingFlags(f *flags, t *observe.TracingConfig) {
	f.string(&t.OTLPEndpoint, "otlp-endpoint", "", "OTLP/gRPC collector (host:port) that receives traces (empty: tracing off)")
	f.bool(&t.Insecure, "otlp-insecure", false, "send traces to the collector without TLS (a collector on localhost or in the pod)")
	f.float(&t.SampleRatio, "trace-sample-ratio", observe.DefaultSampleRatio, "fraction of new traces sampled (parent-based)")
}

// throttleFlags bind the limits on failed client authentications
// (docs/operations.md, Throttling).
func throttleFlags(f *flags, p *throttle.Policy) {
	f.duration(&p.Window, "throttle-window", throttle.DefaultWindow, "length of each failed-authentication window: the longest a client is refused")
	f.int64(&p.MaxPairFailures, "throttle-max-pair-failures", throttle.DefaultMaxPairFailures, "failed authentications of one client id from one address per window")
	f.int64(&p.MaxAddressFailures, "throttle-max-address-failures", throttle.DefaultMaxAddressFailures, "failed authentications from one address per window, for client ids that have not authenticated from it")
	f.int64(&p.MaxClientFailures, "throttle-max-client-failures", throttle.DefaultMaxClientFailures, "failed authentications of one client id per window beyond which each address it has not authenticated from gets one try per window")
	f.duration(&p.RememberSuccess, "throttle-remember-success", throttle.DefaultRememberSuccess, "how long a client id stays known at an address it authenticated from")
}

// leakFlag binds the rate limit of leak reports (docs/operations.md, Leak
// reports).
func leakFlag(f *flags, perMinute *int64) {
	f.int64(perMinute, "leak-reports-per-minute", app.DefaultLeakReportsPerMinute, "leak reports (POST /v1/leaks) accepted per minute from each source")
}

// trustedProxiesFlag binds the proxies whose X-Forwarded-For is believed.
func trustedProxiesFlag(f *flags, proxies *string) {
	f.string(proxies, "trusted-proxies", "", "comma-separated CIDR prefixes of the proxies (load balancer, ingress) whose X-Forwarded-For names the client (default: none, the client is the peer)")
}

// metricsFlag binds the metrics listener of a service apart, and the
// shutdown.
func metricsFlag(f *flags, p *app.ProcessConfig) {
	f.string(&p.MetricsAddr, "metrics-addr", app.DefaultMetricsAddr, "listen address of /metrics, /healthz and /readyz")
	f.bool(&p.PProf, "pprof", false, "serve net/http/pprof under /debug/pprof/ on --metrics-addr")
	shutdownFlag(f, &p.ShutdownDrainDelay)
}

func shutdownFlag(f *flags, delay *time.Duration) {
	f.duration(delay, "shutdown-drain-delay", app.DefaultShutdownDrainDelay, "on SIGTERM, keep serving this long, not ready and closing kept-alive connections, before draining the requests in flight (at most 20 s) and exiting")
}

// tlsServerFlags bind the TLS of the gRPC listener.
func tlsServerFlags(f *flags, t *app.TLSConfig) {
	f.string(&t.CertFile, "tls-cert", "", "PEM certificate (chain) of the gRPC listener, with --tls-key; unset: plaintext gRPC, for loopback, development or a service mesh")
	f.string(&t.KeyFile, "tls-key", "", "PEM private key of --tls-cert")
	f.string(&t.ClientCAFile, "tls-client-ca", "", "PEM CA bundle: require every gRPC client to present a certificate it issued (mutual TLS)")
}

// internalServerFlags bind how the registry admits only the auth service to
// CredentialService; the shared token comes from the environment only.
func internalServerFlags(f *flags, c *app.InternalConfig) {
	c.Token = os.Getenv("CHAVE_INTERNAL_TOKEN")
	f.string(&c.ClientIdentity, "internal-client-identity", "", "with --tls-client-ca: the DNS or URI SAN the auth service's client certificate must carry to use CredentialService (empty: any certificate of the client CA)")
	f.bool(&c.Insecure, "insecure-internal-rpcs", false, "serve CredentialService (the auth service's API) to every caller of --grpc-addr, when neither CHAVE_INTERNAL_TOKEN nor --tls-client-ca is set: only where nothing but the auth service reaches the registry")
}

// tlsClientFlags bind the TLS of the connections to the other services.
func tlsClientFlags(f *flags, t *app.TLSConfig) {
	f.string(&t.CAFile, "tls-ca", "", "PEM CA bundle that verifies the services dialled (with only --tls-client-cert: the system roots; all unset: plaintext)")
	f.string(&t.ClientCertFile, "tls-client-cert", "", "PEM client certificate presented to the services dialled, with --tls-client-key (mutual TLS)")
	f.string(&t.ClientKeyFile, "tls-client-key", "", "PEM private key of --tls-client-cert")
}
