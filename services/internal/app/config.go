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
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/throttle"
	"github.com/chave/chave/services/verify"
)

// Config configures the all-in-one server and the services apart; each
// reads the settings it uses. Zero values get the defaults of docs/spec.md §5.
type Config struct {
	HTTPAddr string // default ":8080"
	GRPCAddr string // default ":9090"
	// MetricsAddr is where /metrics, /healthz and /readyz are served, apart
	// from the public ports: a service apart's default is ":9100"; the
	// all-in-one server serves none when it is empty (`chave serve`'s flag
	// defaults to the loopback 127.0.0.1:9100). /metrics is never served
	// on HTTPAddr.
	MetricsAddr string
	DB          string // sqlite://PATH or postgres://URL (default sqlite://chave-data/chave.db)
	Redis       string // empty: in-process revocation set
	// RedisRequireNoEviction refuses to start when Redis may evict keys
	// (maxmemory-policy other than noeviction); otherwise it only warns.
	RedisRequireNoEviction bool

	// Issuer is the exact iss of every token; default "http://" + the HTTP
	// listen address, an unspecified host read as localhost (the services
	// apart: http://localhost:8080, what `chave serve` has by default).
	Issuer string
	// Audience is the aud of every token; default the issuer.
	Audience string
	// JWKSURL is where the registry apart fetches the public signing keys
	// that verify Bearer tokens; default Issuer + "/.well-known/jwks.json".
	JWKSURL string

	// RegistryAddr is the registry's gRPC address (host:port) that the auth
	// service and the gateway dial; AuthAddr the auth service's, that the
	// gateway dials.
	RegistryAddr, AuthAddr string
	// TLS secures gRPC between the services apart; zero: plaintext.
	TLS TLSConfig
	// Internal is how the registry apart admits only the auth service to
	// CredentialService (internal.go).
	Internal InternalConfig

	// CatalogFile replaces the shipped context catalog.
	CatalogFile string
	// SigningKeysFile holds the private signing keys; default beside the
	// SQLite database.
	SigningKeysFile string
	// SigningAlgorithm: ES256 (default), EdDSA, RS256 or HS512.
	SigningAlgorithm string
	// SecretsFile holds the hashing, encryption and refresh-token keys
	// when HashKey, EncryptionKey and RefreshTokenKey are not given;
	// default beside the SQLite database (the auth service apart:
	// chave-data/secrets.json). Each key has versions (chave keys
	// server); the file is watched, and a version added or activated there
	// is in use within SecretsCheckInterval.
	SecretsFile string
	// SecretsCheckInterval is how often the secrets file is looked at for
	// changes; zero: secrets.DefaultCheckInterval (2s).
	SecretsCheckInterval time.Duration
	// HashKey and EncryptionKey (base64) protect credentials at rest: the
	// registry's; RefreshTokenKey (base64) authenticates refresh tokens:
	// the auth service's.
	HashKey, EncryptionKey, RefreshTokenKey string

	// RefreshTokenLifetime bounds each refresh token (default 24h);
	// RefreshFamilyLifetime bounds a whole chain of them (default 30 days).
	RefreshTokenLifetime, RefreshFamilyLifetime time.Duration

	AccessTokenLifetime time.Duration // default 30m

	// SigningKeyRotation rotates the signing key when it has signed this
	// long (0: only by `chave keys rotate`). A new key is published
	// SigningKeyPrePublish before it signs; a retired key stays published
	// for the access-token lifetime plus the verifiers' leeway.
	SigningKeyRotation, SigningKeyPrePublish time.Duration

	// Tracing exports OpenTelemetry spans when its OTLPEndpoint is set;
	// its Service is set per command (chave-registry, …).
	Tracing observe.TracingConfig

	// Throttle limits failed client authentications at the auth service
	// (zero fields: the defaults of package throttle); ThrottleClock is its
	// clock (nil: time.Now).
	Throttle      throttle.Policy
	ThrottleClock func() time.Time
	// TrustedProxies (comma-separated CIDR prefixes) are the proxies whose
	// X-Forwarded-For names the HTTP client to the gateway; empty: none.
	TrustedProxies string

	// PrintBootstrapCredential creates and prints an operator credential
	// when the database holds none (a development convenience).
	PrintBootstrapCredential bool

	// PProf serves net/http/pprof under /debug/pprof/ on MetricsAddr.
	PProf bool
	// ShutdownDrainDelay is how long Drain keeps serving after a stop was
	// asked, already not ready and answering HTTP with Connection: close,
	// before Stop stops accepting and finishes what is in flight: the time
	// load balancers need to stop sending. Zero: no delay.
	ShutdownDrainDelay time.Duration

	Logger *slog.Logger // default: JSON to stderr
	Stdout io.Writer    // where the bootstrap credential goes; default os.Stdout
}

// role is the server a Config starts.
type role int

const (
	roleServe    role = iota // the all-in-one server
	roleRegistry             // chave registry
	roleAuth                 // chave auth
	roleGateway              // chave gateway
	roleMigrate              // chave migrate
)

func (r role) String() string {
	return [...]string{"serve", "registry", "auth", "gateway", "migrate"}[r]
}

// defaultDataDir holds the embedded defaults' files.
const defaultDataDir = "chave-data"

// defaultSplitIssuer is the issuer of the services apart when none is
// configured: the one `chave serve` has on its default address.
const defaultSplitIssuer = "http://localhost:8080"

func (c *Config) setDefaults(r role) {
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8080"
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = ":9090"
	}
	if c.MetricsAddr == "" && r != roleServe {
		c.MetricsAddr = ":9100"
	}
	if c.DB == "" {
		c.DB = "sqlite://" + filepath.Join(defaultDataDir, "chave.db")
	}
	if c.SigningAlgorithm == "" {
		c.SigningAlgorithm = "ES256"
	}
	if c.AccessTokenLifetime == 0 {
		c.AccessTokenLifetime = 30 * time.Minute
	}
	if c.SigningKeyPrePublish == 0 {
		c.SigningKeyPrePublish = signing.DefaultPrePublish
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	c.Logger = observe.RedactingLogger(c.Logger)
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	switch r {
	case roleRegistry, roleAuth:
		if c.Issuer == "" {
			c.Issuer = defaultSplitIssuer
		}
		if c.Audience == "" {
			c.Audience = c.Issuer
		}
	}
	switch r {
	case roleRegistry:
		if c.JWKSURL == "" {
			c.JWKSURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
		}
	case roleAuth:
		// No database to sit beside: the same files as the all-in-one
		// server on its default database.
		if c.SigningKeysFile == "" {
			c.SigningKeysFile = filepath.Join(defaultDataDir, "signing-keys.json")
		}
		if c.SecretsFile == "" {
			c.SecretsFile = filepath.Join(defaultDataDir, "secrets.json")
		}
	}
}

// validate checks the settings r uses, before anything is opened, and
// names each one that is wrong.
func (c *Config) validate(r role) error {
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch r {
	case roleServe:
		check(checkListenAddr("--http-addr", c.HTTPAddr))
		check(checkListenAddr("--grpc-addr", c.GRPCAddr))
		if c.MetricsAddr != "" {
			check(checkListenAddr("--metrics-addr", c.MetricsAddr))
		}
		check(checkDB(c.DB))
		check(c.checkTokens())
		check(c.checkThrottle())
		check(c.checkTrustedProxies())
	case roleRegistry:
		check(checkListenAddr("--grpc-addr", c.GRPCAddr))
		check(checkListenAddr("--metrics-addr", c.MetricsAddr))
		check(checkDB(c.DB))
		check(checkURL("--jwks-url", c.JWKSURL))
		check(c.TLS.validateServer())
	case roleAuth:
		check(checkListenAddr("--grpc-addr", c.GRPCAddr))
		check(checkListenAddr("--metrics-addr", c.MetricsAddr))
		check(checkDialAddr("--registry", c.RegistryAddr))
		check(c.checkTokens())
		check(c.checkThrottle())
		check(c.TLS.validateServer())
		check(c.TLS.validateClient())
	case roleGateway:
		check(checkListenAddr("--http-addr", c.HTTPAddr))
		check(checkListenAddr("--metrics-addr", c.MetricsAddr))
		check(checkDialAddr("--registry", c.RegistryAddr))
		check(checkDialAddr("--auth", c.AuthAddr))
		check(c.checkTrustedProxies())
		check(c.TLS.validateClient())
	case roleMigrate:
		check(checkDB(c.DB))
	}
	if r != roleMigrate && c.ShutdownDrainDelay < 0 {
		check(fmt.Errorf("--shutdown-drain-delay: %v is negative", c.ShutdownDrainDelay))
	}
	if r == roleServe && c.PProf && c.MetricsAddr == "" {
		check(errors.New("--pprof: needs --metrics-addr"))
	}
	if r != roleMigrate && (c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1) {
		check(fmt.Errorf("--trace-sample-ratio: %v is outside [0, 1]", c.Tracing.SampleRatio))
	}
	switch r {
	case roleServe, roleRegistry, roleAuth:
		if c.Issuer != "" {
			check(checkURL("--issuer", c.Issuer))
		}
		if c.Audience != "" && strings.TrimSpace(c.Audience) != c.Audience {
			check(fmt.Errorf("--audience: %q has surrounding spaces", c.Audience))
		}
	}
	return errors.Join(errs...)
}

// checkTokens checks the settings of the tokens the auth service signs.
func (c *Config) checkTokens() error {
	var errs []error
	if !slices.Contains(signing.Algorithms(), jwa.SignatureAlgorithm(c.SigningAlgorithm)) {
		errs = append(errs, fmt.Errorf("--signing-algorithm: %q is not one of ES256, EdDSA, RS256, HS512", c.SigningAlgorithm))
	}
	inRange := func(name string, d, lo, hi time.Duration) {
		if d != 0 && (d < lo || d > hi) {
			errs = append(errs, fmt.Errorf("%s: %v is outside [%v, %v]", name, d, lo, hi))
		}
	}
	inRange("--access-token-lifetime", c.AccessTokenLifetime, time.Second, auth.MaxAccessTokenLifetime)
	inRange("--refresh-family-lifetime", c.RefreshFamilyLifetime, time.Second, auth.MaxRefreshFamilyLifetime)
	family := c.RefreshFamilyLifetime
	if family == 0 {
		family = auth.DefaultRefreshFamilyLifetime
	}
	inRange("--refresh-token-lifetime", c.RefreshTokenLifetime, time.Second, family)
	if c.SigningKeyRotation < 0 {
		errs = append(errs, fmt.Errorf("--signing-key-rotation: %v is negative", c.SigningKeyRotation))
	}
	if c.SigningKeyPrePublish < 0 {
		errs = append(errs, fmt.Errorf("--signing-key-pre-publish: %v is negative", c.SigningKeyPrePublish))
	}
	return errors.Join(errs...)
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
	return fmt.Errorf("--db %s: want sqlite://PATH or postgres://URL", redactURL(db))
}

// checkURL requires an absolute http or https URL.
func checkURL(flagName, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s: want an absolute http(s) URL without query or fragment, got %q", flagName, s)
	}
	return nil
}

// signingKeyRetention keeps a retired key published until every access
// token it signed has expired, leeway included.
func (c Config) signingKeyRetention() time.Duration {
	return c.AccessTokenLifetime + verify.MaxLeeway
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
func loadKeys(cfg Config, use keyUse) (secrets.KeyProvider, error) {
	if cfg.HashKey != "" || cfg.EncryptionKey != "" || cfg.RefreshTokenKey != "" {
		return keysFromConfig(cfg, use)
	}
	path, err := SecretsFilePath(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s (or --secrets-file) are required with --db %s", strings.Join(keyNames(use), ", "), redactURL(cfg.DB))
	}
	k, err := secrets.NewFileProvider(path, cfg.SecretsCheckInterval)
	if err != nil {
		return nil, fmt.Errorf("--secrets-file %s (or %s): %w", path, strings.Join(keyNames(use), ", "), err)
	}
	if log := cfg.Logger; log != nil {
		k.OnError = func(err error) { log.Warn("the secrets file changed but does not load", "err", err) }
	}
	return k, nil
}

// SecretsFilePath returns the secrets file of cfg: --secrets-file, or
// secrets.json beside the SQLite database.
func SecretsFilePath(cfg Config) (string, error) {
	if cfg.SecretsFile != "" {
		return cfg.SecretsFile, nil
	}
	dbPath, ok := sqlitePath(cfg.DB)
	if !ok {
		return "", fmt.Errorf("--secrets-file is required with --db %s", redactURL(cfg.DB))
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
func keysFromConfig(cfg Config, use keyUse) (secrets.KeyProvider, error) {
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

func signingKeysPath(cfg Config) (string, error) {
	if cfg.SigningKeysFile != "" {
		return cfg.SigningKeysFile, nil
	}
	dbPath, ok := sqlitePath(cfg.DB)
	if !ok {
		return "", fmt.Errorf("--signing-keys-file is required with --db %s", redactURL(cfg.DB))
	}
	return filepath.Join(filepath.Dir(dbPath), "signing-keys.json"), nil
}

// redactURL hides the password of a database or Redis URL.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
