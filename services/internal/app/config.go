// Package app wires chave's parts into running servers. Only cmd/chave and
// the end-to-end tests use it; no other package imports it.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/verify"
)

// Config is the all-in-one server's configuration. Zero values get the
// defaults of SPEC §5.
type Config struct {
	HTTPAddr string // default ":8080"
	GRPCAddr string // default ":9090"
	DB       string // sqlite://PATH (default sqlite://chave-data/chave.db)
	Redis    string // empty: in-process revocation set
	// RedisRequireNoEviction refuses to start when Redis may evict keys
	// (maxmemory-policy other than noeviction); otherwise it only warns.
	RedisRequireNoEviction bool

	// Issuer is the exact iss of every token; default "http://" + the HTTP
	// listen address, an unspecified host read as localhost.
	Issuer string
	// Audience is the aud of every token; default the issuer.
	Audience string

	// CatalogFile replaces the shipped context catalog.
	CatalogFile string
	// SigningKeysFile holds the private signing keys; default beside the
	// SQLite database.
	SigningKeysFile string
	// SigningAlgorithm: ES256 (default), EdDSA, RS256 or HS512.
	SigningAlgorithm string
	// SecretsFile holds the hashing and encryption keys when HashKey and
	// EncryptionKey are not given; default beside the SQLite database.
	SecretsFile string
	// HashKey and EncryptionKey (base64) protect credentials at rest;
	// RefreshTokenKey (base64) authenticates refresh tokens.
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

	// PrintBootstrapCredential creates and prints an operator credential
	// when the database holds none (a development convenience).
	PrintBootstrapCredential bool

	Logger *slog.Logger // default: JSON to stderr
	Stdout io.Writer    // where the bootstrap credential goes; default os.Stdout
}

func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8080"
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = ":9090"
	}
	if c.DB == "" {
		c.DB = "sqlite://chave-data/chave.db"
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
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
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
	if host == "" || host == "0.0.0.0" || host == "::" {
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

// loadKeys returns the hashing and encryption keys: from the configuration
// when given, else from (or newly into) a key file beside the database.
func loadKeys(cfg Config) (secrets.Keys, error) {
	if cfg.HashKey != "" || cfg.EncryptionKey != "" || cfg.RefreshTokenKey != "" {
		var k secrets.Keys
		var err error
		if k.Hash, err = secrets.DecodeKey(cfg.HashKey); err != nil || len(k.Hash) < secrets.MinKeyLen {
			return secrets.Keys{}, fmt.Errorf("CHAVE_HASH_KEY must be base64 of at least %d bytes", secrets.MinKeyLen)
		}
		if k.Encryption, err = secrets.DecodeKey(cfg.EncryptionKey); err != nil || len(k.Encryption) != 32 {
			return secrets.Keys{}, fmt.Errorf("CHAVE_ENCRYPTION_KEY must be base64 of 32 bytes")
		}
		if k.RefreshToken, err = secrets.DecodeKey(cfg.RefreshTokenKey); err != nil || len(k.RefreshToken) < secrets.MinKeyLen {
			return secrets.Keys{}, fmt.Errorf("CHAVE_REFRESH_TOKEN_KEY must be base64 of at least %d bytes", secrets.MinKeyLen)
		}
		return k, nil
	}
	path := cfg.SecretsFile
	if path == "" {
		dbPath, ok := sqlitePath(cfg.DB)
		if !ok {
			return secrets.Keys{}, fmt.Errorf("CHAVE_HASH_KEY, CHAVE_ENCRYPTION_KEY and CHAVE_REFRESH_TOKEN_KEY (or --secrets-file) are required with --db %s", redactURL(cfg.DB))
		}
		path = filepath.Join(filepath.Dir(dbPath), "secrets.json")
	}
	return secrets.LoadOrCreateKeyFile(path)
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
