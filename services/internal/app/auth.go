package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/prometheus/client_golang/prometheus"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/signing"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// registryRevocationTimeout bounds a revocation check that asks the
// registry (an auth service without a shared revocation set).
const registryRevocationTimeout = 3 * time.Second

// StartAuth starts `chave auth`: the auth service's gRPC service, signing
// with the keys of cfg.SigningKeysFile (reloaded when the file changes,
// rotated on schedule when configured), reaching credentials only through
// the registry's gRPC API (cfg.RegistryAddr), and the metrics listener.
//
// It checks revocations in the shared revocation set when cfg.Redis is
// set; without one it asks the registry about each token it verifies (one
// call per verification), since an in-process set would never hear of the
// registry's revocations.
func StartAuth(ctx context.Context, cfg AuthConfig) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return start("auth", cfg.ProcessConfig, func(s *Server) error {
		creds, err := cfg.TLS.serverCredentials()
		if err != nil {
			return err
		}
		metrics := newMetrics()
		catalog, err := loadCatalog(cfg.CatalogFile)
		if err != nil {
			return err
		}
		keys, err := loadKeys(cfg.Keys, "", cfg.Logger, useRefreshKey)
		if err != nil {
			return err
		}
		if err := registerServerKeys(metrics, keys, useRefreshKey); err != nil {
			return err
		}
		conn, err := s.dial("--registry", cfg.RegistryAddr, cfg.TLS)
		if err != nil {
			return err
		}
		reg := auth.NewRegistryClient(registryv1.NewCredentialServiceClient(withInternalToken(conn, cfg.Internal.Token)))
		var keyStore storage.SigningKeyStore
		if cfg.SigningKeysFile == "" {
			// The signing keys, and nothing else, from the database.
			store, err := OpenStore(ctx, cfg.DB)
			if err != nil {
				return err
			}
			s.closers = append(s.closers, store)
			keyStore = store
		}
		signingKeys, err := s.openSigningKeys(ctx, cfg, keyStore)
		if err != nil {
			return err
		}
		if signingKeys.Active().Algorithm() == jwa.HS512 {
			cfg.Logger.Warn("HS512 keys are never published: the registry and other resource servers cannot verify these tokens from the JWKS")
		}
		vcfg := verify.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, Keys: signingKeys}
		var ready func(context.Context) error
		if cfg.Redis.URL != "" {
			set, err := s.openRevocations(ctx, cfg.Redis, cfg.Logger, metrics)
			if err != nil {
				return err
			}
			vcfg.Revocations, ready = revocation.Checker(set), set.Healthy
		} else {
			vcfg.Revocations, vcfg.RevocationTimeout = registryRevocations{reg}, registryRevocationTimeout
		}
		verifier, err := newVerifier(vcfg, metrics)
		if err != nil {
			return err
		}
		s.issuer = cfg.Issuer
		authReg, err := s.throttled(cfg, reg, metrics)
		if err != nil {
			return err
		}
		authSrv, err := newAuthServer(cfg, catalog, keys, verifier, authReg, signingKeys, metrics)
		if err != nil {
			return err
		}
		// Its gRPC port is the gateway's alone (deploy/'s NetworkPolicy):
		// the client address the gateway forwards is believed.
		if err := s.listenGRPC(cfg.GRPCAddr, metrics, creds, auth.StatusInterceptor(), auth.SourceInterceptor(true)); err != nil {
			return err
		}
		authv1.RegisterAuthServiceServer(s.grpc, authSrv)
		// Every grant, and without Redis every verification, needs the registry.
		ready = allReady(ready, upstreamsReady(upstream{"registry", conn, registryv1.RegistryService_ServiceDesc.ServiceName}))
		s.watchHealth(ready, authv1.AuthService_ServiceDesc.ServiceName)
		return s.listenMetrics(cfg.MetricsAddr, metrics, nil)
	})
}

// newAuthServer builds the auth service of cfg.Issuer and cfg.Audience.
func newAuthServer(cfg AuthConfig, catalog *chave.Catalog, refreshKeys secrets.KeyProvider, verifier *verify.Verifier, reg auth.Registry, keys *signing.KeySet, metrics prometheus.Registerer) (*auth.Server, error) {
	srv, err := auth.NewServer(auth.Config{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Logger: cfg.Logger, Verifier: verifier,
		AccessTokenLifetime: cfg.AccessTokenLifetime, RefreshTokenKeys: refreshKeys,
		RefreshTokenLifetime: cfg.RefreshTokenLifetime, RefreshFamilyLifetime: cfg.RefreshFamilyLifetime,
		ScopesSupported: scopesSupported(catalog), Registerer: metrics,
	}, reg, keys)
	if err != nil {
		return nil, fmt.Errorf("auth service: %w", err)
	}
	return srv, nil
}

// scopesSupported lists the catalog's contexts and the reserved scopes.
func scopesSupported(c *chave.Catalog) []string {
	out := []string{chave.ScopeRegistryAdmin, chave.ScopeTokenIntrospect}
	for _, ctx := range c.Contexts() {
		out = append(out, ctx.ID)
	}
	return out
}

// openSigningKeys opens the signing keys: from the database (store) unless
// cfg.SigningKeysFile names a file. Either way they are reloaded when
// another process changes them (`chave keys rotate`, another replica's
// scheduled rotation) and rotated on schedule when configured.
func (s *Server) openSigningKeys(ctx context.Context, cfg AuthConfig, store storage.SigningKeyStore) (*signing.KeySet, error) {
	if cfg.SigningKeysFile != "" || store == nil {
		return s.openSigningKeyFile(cfg, cfg.SigningKeysFile)
	}
	alg := jwa.SignatureAlgorithm(cfg.SigningAlgorithm)
	kek, err := loadKEK(cfg.KeyEncryptionKey, cfg.Keys, cfg.DB)
	if err != nil {
		return nil, err
	}
	db, err := signing.NewDB(store, kek)
	if err != nil {
		return nil, err
	}
	if err := importLegacyKeys(ctx, cfg, db); err != nil {
		return nil, err
	}
	keys, version, err := db.LoadOrCreate(ctx, alg, time.Now())
	if err != nil {
		return nil, err
	}
	s.goBackground(func(ctx context.Context) { keys.WatchDB(ctx, db, version, cfg.SigningKeyPollInterval, cfg.Logger) })
	if cfg.SigningKeyRotation > 0 {
		sc := signing.Schedule{Every: cfg.SigningKeyRotation, Algorithm: alg, PrePublish: cfg.SigningKeyPrePublish, Retention: cfg.signingKeyRetention()}
		s.goBackground(func(ctx context.Context) {
			if err := keys.RunScheduleDB(ctx, db, sc, cfg.Logger); err != nil {
				cfg.Logger.Error("signing key rotation stopped", "err", err)
			}
		})
	}
	return keys, nil
}

// importLegacyKeys moves the keys of the file the all-in-one server kept
// beside its SQLite database into a database that holds none yet, so that
// the tokens they signed still verify after the upgrade.
func importLegacyKeys(ctx context.Context, cfg AuthConfig, db *signing.DB) error {
	path, ok := legacyKeysFile(cfg.DB)
	if !ok {
		return nil
	}
	rows, err := db.Rows(ctx)
	if err != nil || len(rows) > 0 {
		return err
	}
	file, err := signing.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := db.Import(ctx, file, time.Now())
	if err != nil {
		return fmt.Errorf("importing the signing keys of %s: %w", path, err)
	}
	cfg.Logger.Info("signing keys: imported the key file into the database; it is no longer read", "path", path, "keys", n)
	return nil
}

// openSigningKeyFile loads the signing keys from path (creating the file
// with a fresh key when it does not exist), then reloads them when another
// process changes the file, and rotates them on schedule when configured.
func (s *Server) openSigningKeyFile(cfg AuthConfig, path string) (*signing.KeySet, error) {
	alg := jwa.SignatureAlgorithm(cfg.SigningAlgorithm)
	keys, err := signing.LoadOrCreate(path, alg, time.Now())
	if err != nil {
		return nil, fmt.Errorf("--signing-keys-file: %w", err)
	}
	s.goBackground(func(ctx context.Context) { keys.Watch(ctx, path, signing.DefaultWatchInterval, cfg.Logger) })
	if cfg.SigningKeyRotation > 0 {
		s.goBackground(func(ctx context.Context) {
			if err := keys.RunSchedule(ctx, path, cfg.SigningKeyRotation, alg, cfg.SigningKeyPrePublish, cfg.signingKeyRetention(), cfg.Logger); err != nil {
				cfg.Logger.Error("signing key rotation stopped", "err", err)
			}
		})
	}
	return keys, nil
}

// registryRevocations is the revocation check of an auth service that
// shares no revocation set: it asks the registry, which reads its
// database, whether the token's credential is still active and neither its
// refresh family nor its jti was revoked. An unreachable registry fails
// the verification closed.
type registryRevocations struct {
	registry auth.IssuedTokenChecker
}

func (r registryRevocations) IsRevoked(ctx context.Context, c verify.Claims) (bool, error) {
	st, err := r.registry.CheckIssuedToken(ctx, auth.ClientCredentials{}, c.ClientID, auth.IssuedToken{
		TokenID: c.ID, FamilyID: c.SessionID, ExpireTime: c.Expiry, SecretVersion: c.SecretVersion,
	})
	if err != nil {
		return false, err
	}
	return !st.Active, nil
}
