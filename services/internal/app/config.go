// Package app wires chave's parts into running servers: the all-in-one
// server (Start) and each service apart (StartRegistry, StartAuth,
// StartGateway, and Migrate), all composed of the same parts: the
// registry's (registry.go), the auth service's (auth.go), the gateway's
// (gateway.go), listeners, connections, health and shutdown (listen.go),
// TLS between the services (tls.go) and the configuration (config.go).
// Only cmd/chave and the end-to-end tests use it; no other package
// imports it.
package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/observe"
	"github.com/chave/chave/services/internal/redact"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/throttle"
)

// Each part of chave (the registry, the auth service, the gateway) has its
// own configuration here: RegistryConfig, AuthConfig and GatewayConfig,
// with their defaults (the exported constants, which the flags of
// cmd/chave show) and their Validate. They live in app, not in the parts'
// packages, because they are a process's settings (listen addresses,
// files, URLs, TLS) that app turns into what the parts' own Configs take
// (a store, keys, connections); the limits the parts must agree on are
// the domain's (package chave). Config, `chave serve`'s, holds every
// setting once and composes the three.

// Defaults of docs/spec.md §5.
const (
	DefaultHTTPAddr    = ":8080"
	DefaultGRPCAddr    = ":9090"
	DefaultMetricsAddr = ":9100" // a service apart's
	// DefaultServeMetricsAddr is `chave serve`'s flag default: loopback
	// only (Start itself serves no metrics when MetricsAddr is empty).
	DefaultServeMetricsAddr = "127.0.0.1:9100"
	DefaultDataDir          = "chave-data"
	DefaultDB               = "sqlite://" + DefaultDataDir + "/chave.db"
	// DefaultIssuer is the issuer of the services apart when none is
	// configured: the one `chave serve` has on its default address.
	DefaultIssuer           = "http://localhost:8080"
	DefaultSigningAlgorithm = "ES256"
	// DefaultSigningKeysFile and DefaultSecretsFile are the auth service
	// apart's, which has no database to sit beside: the files of `chave
	// serve` on its default database.
	DefaultSigningKeysFile = DefaultDataDir + "/signing-keys.json"
	DefaultSecretsFile     = DefaultDataDir + "/secrets.json"
	// DefaultAccessTokenLifetime is the auth service's (and what the
	// registry assumes of it).
	DefaultAccessTokenLifetime = auth.DefaultAccessTokenLifetime
	// DefaultShutdownDrainDelay is how long a server keeps serving after
	// SIGTERM, not ready: long enough for load balancers and Kubernetes'
	// endpoints to stop sending it requests (deploy/ sets the same).
	DefaultShutdownDrainDelay = 5 * time.Second
)

// ProcessConfig is what every server process has, whatever part it runs.
type ProcessConfig struct {
	// MetricsAddr is where /metrics, /healthz and /readyz are served, apart
	// from the public ports: a service apart's default is
	// DefaultMetricsAddr; the all-in-one server serves none when it is
	// empty. /metrics is never served on a public port.
	MetricsAddr string
	// PProf serves net/http/pprof under /debug/pprof/ on MetricsAddr.
	PProf bool
	// ShutdownDrainDelay is how long Drain keeps serving after a stop was
	// asked, already not ready and answering HTTP with Connection: close,
	// before Stop stops accepting and finishes what is in flight: the time
	// load balancers need to stop sending. Zero: no delay.
	ShutdownDrainDelay time.Duration
	// Tracing exports OpenTelemetry spans when its OTLPEndpoint is set;
	// its Service is set per command (chave-registry, …).
	Tracing observe.TracingConfig
	Logger  *slog.Logger // default: JSON to stderr
}

func (p *ProcessConfig) setDefaults(metricsAddr string) {
	if p.MetricsAddr == "" {
		p.MetricsAddr = metricsAddr
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	p.Logger = observe.RedactingLogger(p.Logger)
}

// Validate checks the process's settings.
func (p ProcessConfig) Validate() error {
	var errs []error
	if p.MetricsAddr != "" {
		errs = append(errs, checkListenAddr("--metrics-addr", p.MetricsAddr))
	} else if p.PProf {
		errs = append(errs, errors.New("--pprof: needs --metrics-addr"))
	}
	if p.ShutdownDrainDelay < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-drain-delay: %v is negative", p.ShutdownDrainDelay))
	}
	if p.Tracing.SampleRatio < 0 || p.Tracing.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("--trace-sample-ratio: %v is outside [0, 1]", p.Tracing.SampleRatio))
	}
	return errors.Join(errs...)
}

// RedisConfig is the Redis that holds the shared revocation set and the
// throttle's counts.
type RedisConfig struct {
	// URL: empty, an in-process revocation set.
	URL string
	// RequireNoEviction refuses to start when Redis may evict keys
	// (maxmemory-policy other than noeviction); otherwise it only warns.
	RequireNoEviction bool
}

// TokenConfig names the tokens the auth service signs and the registry
// accepts.
type TokenConfig struct {
	// Issuer is the exact iss of every token (services apart: default
	// DefaultIssuer; `chave serve`: "http://" + its HTTP address, an
	// unspecified host read as localhost).
	Issuer string
	// Audience is the aud of every token; default the issuer.
	Audience string
}

func (t *TokenConfig) setDefaults(issuer string) {
	if t.Issuer == "" {
		t.Issuer = issuer
	}
	if t.Audience == "" {
		t.Audience = t.Issuer
	}
}

// Validate checks the issuer and audience that are set.
func (t TokenConfig) Validate() error {
	var errs []error
	if t.Issuer != "" {
		errs = append(errs, checkURL("--issuer", t.Issuer))
	}
	if t.Audience != "" && strings.TrimSpace(t.Audience) != t.Audience {
		errs = append(errs, fmt.Errorf("--audience: %q has surrounding spaces", t.Audience))
	}
	return errors.Join(errs...)
}

// KeysConfig is where the server keys come from: HashKey, EncryptionKey
// and RefreshTokenKey (base64, from the environment) when any is given,
// else SecretsFile (created when missing), by default beside the SQLite
// database.
type KeysConfig struct {
	// SecretsFile holds the hashing, encryption and refresh-token keys
	// when HashKey, EncryptionKey and RefreshTokenKey are not given;
	// default beside the SQLite database. Each key has versions (chave
	// keys server); the file is watched, and a version added or activated
	// there is in use within SecretsCheckInterval.
	SecretsFile string
	// SecretsCheckInterval is how often the secrets file is looked at for
	// changes; zero: secrets.DefaultCheckInterval (2s).
	SecretsCheckInterval time.Duration
	// HashKey and EncryptionKey protect credentials at rest: the
	// registry's; RefreshTokenKey authenticates refresh tokens: the auth
	// service's.
	HashKey, EncryptionKey, RefreshTokenKey string
}

// RegistryConfig configures the registry (`chave registry`, and the
// registry of `chave serve`).
type RegistryConfig struct {
	ProcessConfig
	GRPCAddr string // default DefaultGRPCAddr
	DB       string // sqlite://PATH or postgres://URL (default DefaultDB)
	Redis    RedisConfig
	TokenConfig
	// JWKSURL is where the registry apart fetches the public signing keys
	// that verify Bearer tokens; default Issuer + "/.well-known/jwks.json".
	JWKSURL string
	// CatalogFile replaces the shipped context catalog.
	CatalogFile string
	Keys        KeysConfig
	// AccessTokenLifetime is the auth service's, at least: revocations are
	// kept this long plus the verifiers' leeway. Default
	// DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// TLS secures its gRPC port; zero: plaintext.
	TLS TLSConfig
	// Internal is how it admits only the auth service to
	// CredentialService (internal.go).
	Internal InternalConfig
	// LeakReportsPerMinute bounds the leak reports (POST /v1/leaks) of
	// each source per minute; zero: DefaultLeakReportsPerMinute.
	LeakReportsPerMinute int64
	// RegistryClock is the registry's clock (nil: time.Now); tests move
	// it to see a rotation's grace period end.
	RegistryClock func() time.Time
}

func (c *RegistryConfig) setDefaults() {
	c.ProcessConfig.setDefaults(DefaultMetricsAddr)
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.DB == "" {
		c.DB = DefaultDB
	}
	if c.AccessTokenLifetime == 0 {
		c.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	c.TokenConfig.setDefaults(DefaultIssuer)
	if c.JWKSURL == "" {
		c.JWKSURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
	}
}

// Validate checks the settings, before anything is opened, and names
// each one that is wrong.
func (c RegistryConfig) Validate() error {
	return errors.Join(c.ProcessConfig.Validate(), c.validateSettings(), checkURL("--jwks-url", c.JWKSURL), c.TLS.validateServer())
}

// validateSettings checks what the registry of `chave serve` has too: all
// but how it is reached.
func (c RegistryConfig) validateSettings() error {
	return errors.Join(checkListenAddr("--grpc-addr", c.GRPCAddr), checkDB(c.DB), c.TokenConfig.Validate(),
		inRange("--access-token-lifetime", c.AccessTokenLifetime, time.Second, chave.MaxAccessTokenLifetime))
}

// AuthConfig configures the auth service (`chave auth`, and the auth
// service of `chave serve`).
type AuthConfig struct {
	ProcessConfig
	GRPCAddr string // default DefaultGRPCAddr
	// RegistryAddr is the registry's gRPC address (host:port) it dials.
	RegistryAddr string
	// Redis, when set, is where it checks revocations and counts failed
	// authentications; otherwise it asks the registry.
	Redis RedisConfig
	TokenConfig
	CatalogFile string
	Keys        KeysConfig
	// DB, when set, is the database that holds the signing keys (and
	// nothing else the auth service reads): sealed under KeyEncryptionKey,
	// shared by every replica. Empty: SigningKeysFile.
	DB string
	// SigningKeysFile holds the private signing keys in a file instead of
	// the database (operators who insist on one); default, without a DB,
	// DefaultSigningKeysFile.
	SigningKeysFile string
	// KeyEncryptionKey (base64 of 32 bytes, CHAVE_KEY_ENCRYPTION_KEY) seals
	// the signing keys kept in the database; empty: the secrets file's
	// keyEncryptionKey, generated there when the database is SQLite.
	KeyEncryptionKey string
	// SigningKeyPollInterval is how often the version of the stored signing
	// keys is read to notice a change (default signing.DefaultPollInterval).
	SigningKeyPollInterval time.Duration
	// SigningAlgorithm: ES256 (default), EdDSA, RS256 or HS512.
	SigningAlgorithm string
	// AccessTokenLifetime defaults to DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime bounds each refresh token (default
	// auth.DefaultRefreshTokenLifetime); RefreshFamilyLifetime a whole
	// chain of them (default auth.DefaultRefreshFamilyLifetime).
	RefreshTokenLifetime, RefreshFamilyLifetime time.Duration
	// SigningKeyRotation rotates the signing key when it has signed this
	// long (0: only by `chave keys rotate`). A new key is published
	// SigningKeyPrePublish (default signing.DefaultPrePublish) before it
	// signs; a retired key stays published for the access-token lifetime
	// plus the verifiers' leeway.
	SigningKeyRotation, SigningKeyPrePublish time.Duration
	// Throttle limits failed client authentications (zero fields: the
	// defaults of package throttle); ThrottleClock is its clock (nil:
	// time.Now).
	Throttle      throttle.Policy
	ThrottleClock func() time.Time
	// TLS secures its gRPC port and its connection to the registry.
	TLS TLSConfig
	// Internal.Token is sent to the registry with every call.
	Internal InternalConfig
}

func (c *AuthConfig) setDefaults() {
	c.ProcessConfig.setDefaults(DefaultMetricsAddr)
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	c.TokenConfig.setDefaults(DefaultIssuer)
	if c.SigningKeysFile == "" && c.DB == "" {
		c.SigningKeysFile = DefaultSigningKeysFile
	}
	if c.Keys.SecretsFile == "" {
		c.Keys.SecretsFile = DefaultSecretsFile
	}
	c.setTokenDefaults()
}

func (c *AuthConfig) setTokenDefaults() {
	if c.SigningAlgorithm == "" {
		c.SigningAlgorithm = DefaultSigningAlgorithm
	}
	if c.AccessTokenLifetime == 0 {
		c.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.SigningKeyPrePublish == 0 {
		c.SigningKeyPrePublish = signing.DefaultPrePublish
	}
	if c.SigningKeyPollInterval == 0 {
		c.SigningKeyPollInterval = signing.DefaultPollInterval
	}
}

// Validate checks the settings, before anything is opened, and names
// each one that is wrong.
func (c AuthConfig) Validate() error {
	return errors.Join(c.ProcessConfig.Validate(), checkListenAddr("--grpc-addr", c.GRPCAddr),
		checkDialAddr("--registry", c.RegistryAddr), c.validateSettings(), c.TLS.validateServer(), c.TLS.validateClient())
}

// validateSettings checks what the auth service of `chave serve` has too:
// all but how it is reached and how it reaches the registry.
func (c AuthConfig) validateSettings() error {
	var errs []error
	if !slices.Contains(signing.Algorithms(), jwa.SignatureAlgorithm(c.SigningAlgorithm)) {
		errs = append(errs, fmt.Errorf("--signing-algorithm: %q is not one of ES256, EdDSA, RS256, HS512", c.SigningAlgorithm))
	}
	errs = append(errs,
		inRange("--access-token-lifetime", c.AccessTokenLifetime, time.Second, chave.MaxAccessTokenLifetime),
		inRange("--refresh-family-lifetime", c.RefreshFamilyLifetime, time.Second, chave.MaxRefreshFamilyLifetime))
	family := c.RefreshFamilyLifetime
	if family == 0 {
		family = auth.DefaultRefreshFamilyLifetime
	}
	errs = append(errs, inRange("--refresh-token-lifetime", c.RefreshTokenLifetime, time.Second, family))
	if c.SigningKeyRotation < 0 {
		errs = append(errs, fmt.Errorf("--signing-key-rotation: %v is negative", c.SigningKeyRotation))
	}
	if c.SigningKeyPrePublish < 0 {
		errs = append(errs, fmt.Errorf("--signing-key-pre-publish: %v is negative", c.SigningKeyPrePublish))
	}
	if c.SigningKeysFile == "" {
		errs = append(errs, checkDB(c.DB))
	}
	errs = append(errs, checkThrottle(c.Throttle), c.TokenConfig.Validate())
	return errors.Join(errs...)
}

// signingKeyRetention keeps a retired key published until every access
// token it signed has expired, leeway included.
func (c AuthConfig) signingKeyRetention() time.Duration {
	return c.AccessTokenLifetime + chave.MaxClockSkew
}

// GatewayConfig configures the gateway (`chave gateway`, and the gateway
// of `chave serve`).
type GatewayConfig struct {
	ProcessConfig
	HTTPAddr string // default DefaultHTTPAddr
	// RegistryAddr and AuthAddr are the gRPC addresses (host:port) of the
	// registry and the auth service it dials.
	RegistryAddr, AuthAddr string
	// TrustedProxies (comma-separated CIDR prefixes) are the proxies whose
	// X-Forwarded-For names the HTTP client; empty: none.
	TrustedProxies string
	// TLS secures its connections to the services.
	TLS TLSConfig
}

func (c *GatewayConfig) setDefaults() {
	c.ProcessConfig.setDefaults(DefaultMetricsAddr)
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
}

// Validate checks the settings, before anything is opened, and names
// each one that is wrong.
func (c GatewayConfig) Validate() error {
	return errors.Join(c.ProcessConfig.Validate(), c.validateSettings(),
		checkDialAddr("--registry", c.RegistryAddr), checkDialAddr("--auth", c.AuthAddr), c.TLS.validateClient())
}

// validateSettings checks what the gateway of `chave serve` has too.
func (c GatewayConfig) validateSettings() error {
	return errors.Join(checkListenAddr("--http-addr", c.HTTPAddr), checkTrustedProxies(c.TrustedProxies))
}

// Config configures `chave serve`, the all-in-one server, and holds every
// setting of chave's server commands once: Registry, Auth and Gateway
// compose from it the configurations of the three parts (what `chave
// serve` runs, and what tests that start the services apart share).
// Serve has no links between its parts, so it ignores JWKSURL,
// RegistryAddr, AuthAddr, TLS and Internal. Zero values get the
// defaults of docs/spec.md §5.
type Config struct {
	HTTPAddr string // default DefaultHTTPAddr
	GRPCAddr string // default DefaultGRPCAddr
	// MetricsAddr: serve serves none when it is empty.
	MetricsAddr            string
	DB                     string // default DefaultDB
	Redis                  string // empty: in-process revocation set
	RedisRequireNoEviction bool
	// Issuer defaults to "http://" + the HTTP listen address, an
	// unspecified host read as localhost; Audience to the issuer.
	Issuer, Audience string
	JWKSURL          string
	// RegistryAddr and AuthAddr: the services apart's links.
	RegistryAddr, AuthAddr string
	TLS                    TLSConfig
	Internal               InternalConfig

	CatalogFile string
	// SigningKeysFile and SecretsFile default to beside the SQLite
	// database.
	SigningKeysFile, SigningAlgorithm string
	// KeyEncryptionKey seals the signing keys kept in the database;
	// SigningKeyPollInterval is how often their version is read (see
	// AuthConfig).
	KeyEncryptionKey                            string
	SigningKeyPollInterval                      time.Duration
	SecretsFile                                 string
	SecretsCheckInterval                        time.Duration
	HashKey, EncryptionKey, RefreshTokenKey     string
	AccessTokenLifetime                         time.Duration
	RefreshTokenLifetime, RefreshFamilyLifetime time.Duration
	SigningKeyRotation, SigningKeyPrePublish    time.Duration
	Tracing                                     observe.TracingConfig
	Throttle                                    throttle.Policy
	ThrottleClock                               func() time.Time
	LeakReportsPerMinute                        int64            // RegistryConfig.LeakReportsPerMinute
	RegistryClock                               func() time.Time // RegistryConfig.RegistryClock
	TrustedProxies                              string

	// PrintBootstrapCredential creates and prints an operator credential
	// when the database holds none (a development convenience).
	PrintBootstrapCredential bool
	PProf                    bool
	ShutdownDrainDelay       time.Duration
	Logger                   *slog.Logger // default: JSON to stderr
	Stdout                   io.Writer    // where the bootstrap credential goes; default os.Stdout
}

func (c Config) process() ProcessConfig {
	return ProcessConfig{MetricsAddr: c.MetricsAddr, PProf: c.PProf, ShutdownDrainDelay: c.ShutdownDrainDelay, Tracing: c.Tracing, Logger: c.Logger}
}

func (c Config) keys() KeysConfig {
	return KeysConfig{SecretsFile: c.SecretsFile, SecretsCheckInterval: c.SecretsCheckInterval, HashKey: c.HashKey, EncryptionKey: c.EncryptionKey, RefreshTokenKey: c.RefreshTokenKey}
}

// Registry is the registry's configuration.
func (c Config) Registry() RegistryConfig {
	return RegistryConfig{ProcessConfig: c.process(), GRPCAddr: c.GRPCAddr, DB: c.DB,
		Redis: RedisConfig{c.Redis, c.RedisRequireNoEviction}, TokenConfig: TokenConfig{c.Issuer, c.Audience},
		JWKSURL: c.JWKSURL, CatalogFile: c.CatalogFile, Keys: c.keys(), AccessTokenLifetime: c.AccessTokenLifetime,
		TLS: c.TLS, Internal: c.Internal, LeakReportsPerMinute: c.LeakReportsPerMinute, RegistryClock: c.RegistryClock}
}

// Auth is the auth service's configuration.
func (c Config) Auth() AuthConfig {
	return AuthConfig{ProcessConfig: c.process(), GRPCAddr: c.GRPCAddr, RegistryAddr: c.RegistryAddr,
		Redis: RedisConfig{c.Redis, c.RedisRequireNoEviction}, TokenConfig: TokenConfig{c.Issuer, c.Audience},
		CatalogFile: c.CatalogFile, Keys: c.keys(), DB: c.DB, SigningKeysFile: c.SigningKeysFile, SigningAlgorithm: c.SigningAlgorithm,
		KeyEncryptionKey: c.KeyEncryptionKey, SigningKeyPollInterval: c.SigningKeyPollInterval,
		AccessTokenLifetime: c.AccessTokenLifetime, RefreshTokenLifetime: c.RefreshTokenLifetime, RefreshFamilyLifetime: c.RefreshFamilyLifetime,
		SigningKeyRotation: c.SigningKeyRotation, SigningKeyPrePublish: c.SigningKeyPrePublish,
		Throttle: c.Throttle, ThrottleClock: c.ThrottleClock, TLS: c.TLS, Internal: c.Internal}
}

// Gateway is the gateway's configuration.
func (c Config) Gateway() GatewayConfig {
	return GatewayConfig{ProcessConfig: c.process(), HTTPAddr: c.HTTPAddr, RegistryAddr: c.RegistryAddr, AuthAddr: c.AuthAddr,
		TrustedProxies: c.TrustedProxies, TLS: c.TLS}
}

func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.DB == "" {
		c.DB = DefaultDB
	}
	p := c.process()
	p.setDefaults("") // no metrics listener unless asked
	c.Logger = p.Logger
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	a := c.Auth()
	a.setTokenDefaults()
	c.SigningAlgorithm, c.AccessTokenLifetime, c.SigningKeyPrePublish = a.SigningAlgorithm, a.AccessTokenLifetime, a.SigningKeyPrePublish
	c.SigningKeyPollInterval = a.SigningKeyPollInterval
}

// Validate checks what each part of serve has, before anything is opened,
// and names each setting that is wrong.
func (c Config) Validate() error {
	return errors.Join(c.process().Validate(), c.Registry().validateSettings(), c.Auth().validateSettings(), c.Gateway().validateSettings())
}

// inRange checks that a duration, when set, is in [lo, hi].
func inRange(name string, d, lo, hi time.Duration) error {
	if d != 0 && (d < lo || d > hi) {
		return fmt.Errorf("%s: %v is outside [%v, %v]", name, d, lo, hi)
	}
	return nil
}

// checkListenAddr requires host:port (host may be empty: every interface).
func checkListenAddr(flagName, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: want [host]:port, got %q", flagName, addr)
	}
	return nil
}

// checkDialAddr requires host:port, or a gRPC target with a scheme
// (dns:///host:port).
func checkDialAddr(flagName, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s: required (host:port of the service)", flagName)
	}
	if strings.Contains(addr, "://") {
		return nil
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || host == "" {
		return fmt.Errorf("%s: want host:port, got %q", flagName, addr)
	}
	return nil
}

// checkDB requires a URL OpenStore opens.
func checkDB(db string) error {
	if _, ok := sqlitePath(db); ok {
		return nil
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return nil
	}
	return fmt.Errorf("--db %s: want sqlite://PATH or postgres://URL", redact.URL(db))
}

// checkURL requires an absolute http or https URL.
func checkURL(flagName, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s: want an absolute http(s) URL without query or fragment, got %q", flagName, s)
	}
	return nil
}

// sqlitePath returns the file of a sqlite:// URL.
func sqlitePath(db string) (string, bool) {
	p, ok := strings.CutPrefix(db, "sqlite://")
	return p, ok && p != ""
}

// defaultIssuer is "http://" + the HTTP address, an unspecified host read
// as localhost.
func defaultIssuer(httpAddr string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return "http://" + httpAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// loadCatalog reads the catalog file, or returns the shipped one.
func loadCatalog(path string) (*chave.Catalog, error) {
	if path == "" {
		return chave.DefaultCatalog(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c, err := chave.ParseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return c, nil
}

// keyUse says which server keys a process needs.
type keyUse int

const (
	useStorageKeys keyUse = 1 << iota // hashing and encryption keys: the registry
	useRefreshKey                     // the refresh-token key: the auth service
)

// loadKeys returns the server keys use needs: from the configuration
// (CHAVE_HASH_KEY, CHAVE_ENCRYPTION_KEY, CHAVE_REFRESH_TOKEN_KEY) when any
// is given, else from (or newly into) the secrets file, by default beside
// the SQLite database.
//
// The file is watched (secrets.FileProvider): key versions added or
// activated there (chave keys server) reach the running server within
// seconds. Keys from the configuration change only with a restart.
func loadKeys(cfg KeysConfig, db string, log *slog.Logger, use keyUse) (secrets.KeyProvider, error) {
	if cfg.HashKey != "" || cfg.EncryptionKey != "" || cfg.RefreshTokenKey != "" {
		return keysFromConfig(cfg, use)
	}
	path, err := SecretsFilePath(cfg, db)
	if err != nil {
		return nil, fmt.Errorf("%s (or --secrets-file) are required with --db %s", strings.Join(keyNames(use), ", "), redact.URL(db))
	}
	k, err := secrets.NewFileProvider(path, cfg.SecretsCheckInterval)
	if err != nil {
		return nil, fmt.Errorf("--secrets-file %s (or %s): %w", path, strings.Join(keyNames(use), ", "), err)
	}
	if log != nil {
		k.OnError = func(err error) { log.Warn("the secrets file changed but does not load", "err", err) }
	}
	return k, nil
}

// SecretsFilePath returns the secrets file: cfg.SecretsFile, or
// secrets.json beside the SQLite database db.
func SecretsFilePath(cfg KeysConfig, db string) (string, error) {
	if cfg.SecretsFile != "" {
		return cfg.SecretsFile, nil
	}
	dbPath, ok := sqlitePath(db)
	if !ok {
		return "", fmt.Errorf("--secrets-file is required with --db %s", redact.URL(db))
	}
	return filepath.Join(filepath.Dir(dbPath), "secrets.json"), nil
}

// keyNames are the environment variables of the keys use needs.
func keyNames(use keyUse) []string {
	var names []string
	if use&useStorageKeys != 0 {
		names = append(names, "CHAVE_HASH_KEY", "CHAVE_ENCRYPTION_KEY")
	}
	if use&useRefreshKey != 0 {
		names = append(names, "CHAVE_REFRESH_TOKEN_KEY")
	}
	return names
}

// keysFromConfig decodes the keys use needs and ignores the others. Each
// is one base64 key (version 1), or versions "N:base64,…" with the active
// one first (secrets.ParseKeyList).
func keysFromConfig(cfg KeysConfig, use keyUse) (secrets.KeyProvider, error) {
	var k secrets.Keys
	var err error
	if use&useStorageKeys != 0 {
		if k.Hash, err = secrets.ParseKeyList(secrets.KindHMAC, cfg.HashKey); err != nil {
			return nil, fmt.Errorf("CHAVE_HASH_KEY must be base64 of at least %d bytes, or a list of VERSION:BASE64 keys: %w", secrets.MinKeyLen, err)
		}
		if k.Encryption, err = secrets.ParseKeyList(secrets.KindSeal, cfg.EncryptionKey); err != nil {
			return nil, fmt.Errorf("CHAVE_ENCRYPTION_KEY must be base64 of 32 bytes, or a list of VERSION:BASE64 keys: %w", err)
		}
	}
	if use&useRefreshKey != 0 {
		if k.RefreshToken, err = secrets.ParseKeyList(secrets.KindRefresh, cfg.RefreshTokenKey); err != nil {
			return nil, fmt.Errorf("CHAVE_REFRESH_TOKEN_KEY must be base64 of at least %d bytes, or a list of VERSION:BASE64 keys: %w", secrets.MinKeyLen, err)
		}
	}
	return secrets.NewStaticProvider(k), nil
}

// legacyKeysFile is where the all-in-one server kept its signing keys
// before they moved into the database: beside the SQLite file of db.
func legacyKeysFile(db string) (string, bool) {
	dbPath, ok := sqlitePath(db)
	if !ok {
		return "", false
	}
	return filepath.Join(filepath.Dir(dbPath), "signing-keys.json"), true
}

// loadKEK returns the key-encryption key of the signing keys kept in the
// database db: kek (CHAVE_KEY_ENCRYPTION_KEY), else the secrets file's
// keyEncryptionKey (beside a SQLite database by default, and generated
// there for it: the embedded default).
func loadKEK(kek string, keys KeysConfig, db string) ([]byte, error) {
	_, embedded := sqlitePath(db)
	path, _ := SecretsFilePath(keys, db)
	k, err := secrets.LoadKEK(secrets.KEKSource{Env: kek, SecretsFile: path, Create: embedded})
	if err != nil {
		return nil, fmt.Errorf("signing keys in the database: %w", err)
	}
	return k, nil
}
