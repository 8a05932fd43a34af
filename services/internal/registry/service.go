// Package registry is the token registry: tenants, the context catalog and
// API credentials, with every rule of the product (docs/spec.md §2) enforced on top
// of a storage.Store. server.go exposes it over gRPC.
package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
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

	// accessTokenLifetime is how long revocation entries last, leeway aside.
	accessTokenLifetime time.Duration

	mu      sync.Mutex
	lastUse map[string]time.Time // client id → last recorded use
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Hasher == nil || cfg.Sealer == nil {
		return nil, fmt.Errorf("registry: Store, Catalog, Hasher and Sealer are required")
	}
	s := &Service{
		store: cfg.Store, catalog: cfg.Catalog, hasher: cfg.Hasher, sealer: cfg.Sealer,
		now: cfg.Clock, log: cfg.Logger, lastUse: map[string]time.Time{},
		revocations: cfg.Revocations, rebuild: make(chan struct{}, 1),
		accessTokenLifetime: cfg.AccessTokenLifetime,
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

// ---- tenants ----

// CreateTenant creates a tenant. Operator only.
func (s *Service) CreateTenant(ctx context.Context, c Caller, t chave.Tenant) (chave.Tenant, error) {
	if err := c.requireOperator(); err != nil {
		return chave.Tenant{}, err
	}
	if err := t.Validate(s.catalog); err != nil {
		return chave.Tenant{}, err
	}
	now := s.clock()
	t.CreateTime, t.UpdateTime = now, now
	if err := s.store.CreateTenant(ctx, t); err != nil {
		if chave.IsCode(err, chave.Conflict) {
			return chave.Tenant{}, &chave.Error{Code: chave.Conflict, Field: "id", Message: fmt.Sprintf("tenant %q already exists", t.ID)}
		}
		return chave.Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	s.log.InfoContext(ctx, "tenant created", "tenant", t.ID, "actor", c.ClientID)
	return t, nil
}

// GetTenant returns a tenant: the operator reads any, a tenant's admins
// their own, with its entitlement.
func (s *Service) GetTenant(ctx context.Context, c Caller, id string) (chave.Tenant, error) {
	if !c.canSeeTenant(id) {
		return chave.Tenant{}, chave.Errorf(chave.PermissionDenied, "a tenant's admins read only their own tenant")
	}
	return s.store.GetTenant(ctx, id)
}

// ListTenants lists every tenant. Operator only.
func (s *Service) ListTenants(ctx context.Context, c Caller) ([]chave.Tenant, error) {
	if err := c.requireOperator(); err != nil {
		return nil, err
	}
	return s.store.ListTenants(ctx)
}

// UpdateTenant changes the masked fields ("display_name", "contexts") of a
// tenant; an empty mask changes both. Operator only.
func (s *Service) UpdateTenant(ctx context.Context, c Caller, patch chave.Tenant, mask []string) (chave.Tenant, error) {
	if err := c.requireOperator(); err != nil {
		return chave.Tenant{}, err
	}
	fields, err := normaliseMask(mask, map[string]string{"display_name": "displayName", "contexts": "contexts"})
	if err != nil {
		return chave.Tenant{}, err
	}
	t, err := s.store.UpdateTenant(ctx, patch.ID, func(t *chave.Tenant) error {
		if slices.Contains(fields, "displayName") {
			t.DisplayName = patch.DisplayName
		}
		if slices.Contains(fields, "contexts") {
			t.Contexts = patch.Contexts
		}
		if err := t.Validate(s.catalog); err != nil {
			return err
		}
		t.UpdateTime = s.clock()
		return nil
	})
	if err != nil {
		return chave.Tenant{}, err
	}
	s.log.InfoContext(ctx, "tenant updated", "tenant", t.ID, "actor", c.ClientID, "fields", fields)
	return t, nil
}

// ListContexts returns the catalog as entitled for the tenant: the caller's
// own, or for the operator the named tenant's (empty: the whole catalog).
func (s *Service) ListContexts(ctx context.Context, c Caller, tenant string) ([]chave.Context, error) {
	if !c.Operator {
		if tenant != "" && tenant != c.Tenant {
			return nil, chave.Errorf(chave.PermissionDenied, "a credential lists only its own tenant's contexts")
		}
		tenant = c.Tenant
	}
	all := s.catalog.Contexts()
	if tenant == "" {
		return all, nil
	}
	t, err := s.store.GetTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(ctx chave.Context) bool { return !t.Entitled(ctx.ID) }), nil
}

// ---- tokens ----

// CreateToken validates and stores a new credential and returns it with its
// secret, which is never available again.
func (s *Service) CreateToken(ctx context.Context, c Caller, t chave.Token) (chave.Token, secrets.ClientSecret, error) {
	if err := chave.ValidateTenantID("tenant", t.Tenant); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if !c.canSeeTenant(t.Tenant) {
		return chave.Token{}, secrets.ClientSecret{}, chave.Errorf(chave.PermissionDenied, "a credential creates tokens only for its own tenant")
	}
	tenant, err := s.store.GetTenant(ctx, t.Tenant)
	if chave.IsCode(err, chave.NotFound) {
		return chave.Token{}, secrets.ClientSecret{}, chave.InvalidField("tenant", "unknown tenant %q", t.Tenant)
	} else if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, fmt.Errorf("create token: %w", err)
	}
	now := s.clock()
	if err := t.Validate(tenant, s.catalog, now); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if t.ID, err = secrets.NewClientID(); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	secret, err := secrets.NewClientSecret()
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	t.SecretHash = s.hasher.Hash(secret)
	t.CreateTime, t.Creator = now, c.ClientID
	t.RevokeTime, t.LastUseTime, t.Revoker, t.Operator = time.Time{}, time.Time{}, "", false
	if t.Parameters, err = s.sealParameters(t.ID, t.Parameters); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	ev := chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionCreate, Fields: tokenFieldsSet(t)}
	if err := s.store.CreateToken(ctx, t, ev); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, fmt.Errorf("create token: %w", err)
	}
	s.log.InfoContext(ctx, "token created", "token", t.ID, "tenant", t.Tenant, "actor", c.ClientID)
	return s.masked(t), secret, nil
}

// GetToken returns a token with secret parameters masked.
func (s *Service) GetToken(ctx context.Context, c Caller, id string) (chave.Token, error) {
	t, err := s.visibleToken(ctx, c, id)
	if err != nil {
		return chave.Token{}, err
	}
	return s.masked(t), nil
}

// visibleToken loads a token the caller may see; others are NotFound, so a
// caller cannot even learn another tenant's token exists.
func (s *Service) visibleToken(ctx context.Context, c Caller, id string) (chave.Token, error) {
	if id == "" {
		return chave.Token{}, chave.InvalidField("id", "is required")
	}
	t, err := s.store.GetToken(ctx, id)
	if err != nil {
		return chave.Token{}, err
	}
	if !c.canSeeTenant(t.Tenant) {
		return chave.Token{}, chave.Errorf(chave.NotFound, "token %q not found", id)
	}
	return t, nil
}

// ListQuery selects a page of tokens.
type ListQuery struct {
	Tenant    string
	State     chave.State
	PageSize  int
	PageToken string
}

// ListTokens returns a page of tokens, newest first, and the token of the
// next page ("" on the last).
func (s *Service) ListTokens(ctx context.Context, c Caller, q ListQuery) ([]chave.Token, string, error) {
	if !c.Operator {
		if q.Tenant != "" && q.Tenant != c.Tenant {
			return nil, "", chave.Errorf(chave.PermissionDenied, "a credential lists only its own tenant's tokens")
		}
		q.Tenant = c.Tenant
	}
	switch {
	case q.PageSize < 0:
		return nil, "", chave.InvalidField("pageSize", "must not be negative")
	case q.PageSize == 0:
		q.PageSize = DefaultPageSize
	case q.PageSize > MaxPageSize:
		q.PageSize = MaxPageSize
	}
	filter := storage.TokenFilter{Tenant: q.Tenant, State: q.State, Now: s.clock(), Limit: q.PageSize}
	fingerprint := fmt.Sprintf("%s|%d", q.Tenant, q.State)
	if q.PageToken != "" {
		cur, err := decodePageToken(q.PageToken, fingerprint)
		if err != nil {
			return nil, "", err
		}
		filter.After = &cur
	}
	page, err := s.store.ListTokens(ctx, filter)
	if err != nil {
		return nil, "", fmt.Errorf("list tokens: %w", err)
	}
	out := make([]chave.Token, len(page.Tokens))
	for i, t := range page.Tokens {
		out[i] = s.masked(t)
	}
	next := ""
	if page.More && len(page.Tokens) > 0 {
		last := page.Tokens[len(page.Tokens)-1]
		next = encodePageToken(storage.Cursor{CreateTime: last.CreateTime, ID: last.ID}, fingerprint)
	}
	return out, next, nil
}

type pageToken struct {
	Time   int64  `json:"t"`
	ID     string `json:"i"`
	Filter string `json:"f"`
}

func encodePageToken(c storage.Cursor, fingerprint string) string {
	b, _ := json.Marshal(pageToken{Time: c.CreateTime.UnixMicro(), ID: c.ID, Filter: fingerprint})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s, fingerprint string) (storage.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var p pageToken
	if err != nil || json.Unmarshal(b, &p) != nil || p.ID == "" {
		return storage.Cursor{}, chave.InvalidField("pageToken", "is malformed")
	}
	if p.Filter != fingerprint {
		return storage.Cursor{}, chave.InvalidField("pageToken", "belongs to a listing with other filters")
	}
	return storage.Cursor{CreateTime: time.UnixMicro(p.Time).UTC(), ID: p.ID}, nil
}

// tokenMask maps update-mask paths to the JSON names of mutable fields.
var tokenMask = map[string]string{
	"display_name":         "displayName",
	"description":          "description",
	"general_access":       "generalAccess",
	"contexts":             "contexts",
	"parameters":           "parameters",
	"expire_time":          "expireTime",
	"issue_refresh_tokens": "issueRefreshTokens",
}

// UpdateToken changes the masked fields of a token (an empty mask: every
// mutable field) and revalidates the whole token.
func (s *Service) UpdateToken(ctx context.Context, c Caller, patch chave.Token, mask []string) (chave.Token, error) {
	fields, err := normaliseMask(mask, tokenMask)
	if err != nil {
		return chave.Token{}, err
	}
	before, err := s.visibleToken(ctx, c, patch.ID)
	if err != nil {
		return chave.Token{}, err
	}
	tenant, err := s.store.GetTenant(ctx, before.Tenant)
	if err != nil {
		return chave.Token{}, fmt.Errorf("update token: %w", err)
	}
	t, err := s.store.UpdateToken(ctx, patch.ID, func(t *chave.Token) (chave.Event, error) {
		now := s.clock()
		if st := t.State(now); st != chave.StateActive {
			return chave.Event{}, chave.Errorf(chave.FailedPrecondition, "token %q is %s and can no longer change", t.ID, st)
		}
		current, err := s.openParameters(t.ID, t.Parameters)
		if err != nil {
			return chave.Event{}, err
		}
		t.Parameters = current
		s.applyTokenPatch(t, patch, fields)
		if err := t.Validate(tenant, s.catalog, now); err != nil {
			return chave.Event{}, err
		}
		if t.Parameters, err = s.sealParameters(t.ID, t.Parameters); err != nil {
			return chave.Event{}, err
		}
		return chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionUpdate, Fields: fields}, nil
	})
	if err != nil {
		return chave.Token{}, err
	}
	s.log.InfoContext(ctx, "token updated", "token", t.ID, "actor", c.ClientID, "fields", fields)
	return s.masked(t), nil
}

func (s *Service) applyTokenPatch(t *chave.Token, patch chave.Token, fields []string) {
	for _, f := range fields {
		switch f {
		case "displayName":
			t.DisplayName = patch.DisplayName
		case "description":
			t.Description = patch.Description
		case "generalAccess":
			t.GeneralAccess = patch.GeneralAccess
		case "contexts":
			t.Contexts = patch.Contexts
		case "expireTime":
			t.ExpireTime = patch.ExpireTime
		case "issueRefreshTokens":
			t.IssueRefreshTokens = patch.IssueRefreshTokens
		case "parameters":
			t.Parameters = s.keepUnchangedSecrets(t.Parameters, patch.Parameters)
		}
	}
}

// keepUnchangedSecrets lets a client send back a masked secret it read: a
// secret value equal to the mask of the current value keeps the current one.
func (s *Service) keepUnchangedSecrets(current, next chave.Parameters) chave.Parameters {
	out := next.Clone()
	for ctxID, values := range out {
		for name, v := range values {
			if !s.isSecret(ctxID, name) {
				continue
			}
			if old, ok := current[ctxID][name]; ok && v == maskSecret(old) {
				values[name] = old
			}
		}
	}
	return out
}

// RevokeToken revokes a token; revoking a revoked token changes nothing.
func (s *Service) RevokeToken(ctx context.Context, c Caller, id string) (chave.Token, error) {
	if _, err := s.visibleToken(ctx, c, id); err != nil {
		return chave.Token{}, err
	}
	var changed bool
	var already chave.Token // the token as found, when it was revoked before
	t, err := s.store.UpdateToken(ctx, id, func(t *chave.Token) (chave.Event, error) {
		changed = false // the closure may run again when a backend retries
		if !t.RevokeTime.IsZero() {
			already = *t
			return chave.Event{}, errUnchanged
		}
		now := s.clock()
		t.RevokeTime, t.Revoker = now, c.ClientID
		changed = true
		return chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionRevoke, Fields: []string{"state", "revokeTime"}}, nil
	})
	if err == errUnchanged {
		t, err = already, nil
	}
	if err != nil {
		return chave.Token{}, fmt.Errorf("revoke token: %w", err)
	}
	if changed {
		s.log.InfoContext(ctx, "token revoked", "token", id, "actor", c.ClientID)
	}
	// Also when it was already revoked: a retry repairs a failed write.
	if err := s.propagate(ctx, s.credentialEntries(t)...); err != nil {
		return chave.Token{}, err
	}
	return s.masked(t), nil
}

var errUnchanged = chave.Errorf(chave.FailedPrecondition, "unchanged")

// RotateToken gives an active token a new secret; the old one stops
// working at once, and so does every access and refresh token issued
// under it: before the new secret is stored, the database records the
// old secret version as revoked (the revocation is what must not be lost;
// a rotation that fails after it leaves a credential whose tokens fail
// until it is rotated again), and once it is stored, the revocation set
// holds it too.
func (s *Service) RotateToken(ctx context.Context, c Caller, id string) (chave.Token, secrets.ClientSecret, error) {
	before, err := s.visibleToken(ctx, c, id)
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if st := before.State(s.clock()); st != chave.StateActive {
		return chave.Token{}, secrets.ClientSecret{}, chave.Errorf(chave.FailedPrecondition, "token %q is %s; only an active token can rotate its secret", id, st)
	}
	secret, err := secrets.NewClientSecret()
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	rec := s.rotationRecord(id, secretVersion(before.SecretHash), s.clock())
	if err := s.store.RevokeAccessToken(ctx, rec); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, fmt.Errorf("rotate token: %w", err)
	}
	t, err := s.store.UpdateToken(ctx, id, func(t *chave.Token) (chave.Event, error) {
		now := s.clock()
		if st := t.State(now); st != chave.StateActive {
			return chave.Event{}, chave.Errorf(chave.FailedPrecondition, "token %q is %s; only an active token can rotate its secret", t.ID, st)
		}
		if !bytes.Equal(t.SecretHash, before.SecretHash) {
			// Another rotation came first; its old version is not the
			// one recorded above.
			return chave.Event{}, chave.Errorf(chave.Conflict, "token %q was rotated concurrently; retry", t.ID)
		}
		t.SecretHash = s.hasher.Hash(secret)
		return chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionRotate, Fields: []string{"secret"}}, nil
	})
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	s.log.InfoContext(ctx, "token secret rotated", "token", id, "actor", c.ClientID)
	if err := s.propagate(ctx, rotationEntry(rec)); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	return s.masked(t), secret, nil
}

// ListTokenEvents returns a token's audit trail.
func (s *Service) ListTokenEvents(ctx context.Context, c Caller, id string) ([]chave.Event, error) {
	if _, err := s.visibleToken(ctx, c, id); err != nil {
		return nil, err
	}
	return s.store.ListTokenEvents(ctx, id)
}

// ---- credentials for the auth service ----

// Client is what a grant needs to know about an authenticated client.
type Client struct {
	ID                 string
	Tenant             string
	Scopes             []string // sorted
	ExpireTime         time.Time
	Operator           bool
	IssueRefreshTokens bool
	// SecretVersion changes when the secret rotates.
	SecretVersion string
}

// errBadClient is the one answer for every failed client authentication,
// so an unknown client and a wrong secret look the same.
var errBadClient = chave.Errorf(chave.Unauthenticated, "invalid client credentials")

// AuthenticateClient checks a client id and secret (constant-time compare of
// keyed hashes) and returns the client's current access.
func (s *Service) AuthenticateClient(ctx context.Context, clientID, secret string) (Client, error) {
	parsed, perr := secrets.ParseClientSecret(secret)
	if perr != nil {
		return Client{}, errBadClient
	}
	t, err := s.activeToken(ctx, clientID)
	if err != nil {
		return Client{}, err
	}
	if !s.hasher.Verify(parsed, t.SecretHash) {
		return Client{}, errBadClient
	}
	now := s.clock()
	client, err := s.clientOf(ctx, t)
	if err != nil {
		return Client{}, fmt.Errorf("authenticate client: %w", err)
	}
	s.recordUse(ctx, t.ID, now)
	return client, nil
}

// activeToken loads the active credential of a client id, or fails with
// errBadClient.
func (s *Service) activeToken(ctx context.Context, clientID string) (chave.Token, error) {
	if !validClientID(clientID) {
		return chave.Token{}, errBadClient
	}
	t, err := s.store.GetToken(ctx, clientID)
	if chave.IsCode(err, chave.NotFound) {
		return chave.Token{}, errBadClient
	} else if err != nil {
		return chave.Token{}, fmt.Errorf("authenticate client: %w", err)
	}
	if t.State(s.clock()) != chave.StateActive {
		return chave.Token{}, errBadClient
	}
	return t, nil
}

// clientOf describes a credential's current access.
func (s *Service) clientOf(ctx context.Context, t chave.Token) (Client, error) {
	client := Client{ID: t.ID, Tenant: t.Tenant, ExpireTime: t.ExpireTime, Operator: t.Operator,
		IssueRefreshTokens: t.IssueRefreshTokens, SecretVersion: secretVersion(t.SecretHash)}
	if t.Operator {
		client.Scopes = []string{chave.ScopeRegistryAdmin, chave.ScopeTokenIntrospect}
		return client, nil
	}
	tenant, err := s.store.GetTenant(ctx, t.Tenant)
	if err != nil {
		return Client{}, fmt.Errorf("load tenant of %s: %w", t.ID, err)
	}
	client.Scopes = t.Scopes(tenant)
	return client, nil
}

// recordUse writes the last-use time at most once per lastUseGranularity
// per credential, so that grants stay reads.
func (s *Service) recordUse(ctx context.Context, id string, now time.Time) {
	s.mu.Lock()
	last, ok := s.lastUse[id]
	due := !ok || now.Sub(last) >= lastUseGranularity
	if due {
		s.lastUse[id] = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if err := s.store.TouchToken(ctx, id, now); err != nil {
		s.log.WarnContext(ctx, "recording last use failed", "token", id, "err", err)
		s.mu.Lock()
		if s.lastUse[id].Equal(now) {
			delete(s.lastUse, id) // the next use tries again
		}
		s.mu.Unlock()
	}
}

// Principal returns the caller behind an access token's client id, checked
// against the credential's current state: a revoked or expired credential,
// one that lost registry.admin, or one whose secret rotated since the
// token was issued (secretVersion, when the token carries one), is refused
// at once.
func (s *Service) Principal(ctx context.Context, clientID, tokenSecretVersion string) (Caller, error) {
	t, err := s.store.GetToken(ctx, clientID)
	if chave.IsCode(err, chave.NotFound) {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "unknown credential")
	} else if err != nil {
		return Caller{}, fmt.Errorf("load caller: %w", err)
	}
	if t.State(s.clock()) != chave.StateActive {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "the credential is no longer active")
	}
	if tokenSecretVersion != "" && tokenSecretVersion != secretVersion(t.SecretHash) {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "the credential's secret was rotated after the access token was issued")
	}
	if !t.Operator && !slices.Contains(t.Contexts, chave.ScopeRegistryAdmin) {
		return Caller{}, chave.Errorf(chave.PermissionDenied, "the credential lacks the %s scope", chave.ScopeRegistryAdmin)
	}
	return Caller{ClientID: t.ID, Tenant: t.Tenant, Operator: t.Operator}, nil
}

// Bootstrap creates an operator credential, which manages every tenant, and
// returns its client id and secret.
func (s *Service) Bootstrap(ctx context.Context) (string, secrets.ClientSecret, error) {
	id, err := secrets.NewClientID()
	if err != nil {
		return "", secrets.ClientSecret{}, err
	}
	secret, err := secrets.NewClientSecret()
	if err != nil {
		return "", secrets.ClientSecret{}, err
	}
	now := s.clock()
	t := chave.Token{
		ID: id, DisplayName: "Operator (bootstrap)", Operator: true,
		Contexts: []string{chave.ScopeRegistryAdmin}, SecretHash: s.hasher.Hash(secret),
		CreateTime: now, Creator: "bootstrap",
	}
	ev := chave.Event{TokenID: id, Time: now, Actor: "bootstrap", Action: chave.ActionCreate, Fields: tokenFieldsSet(t)}
	if err := s.store.CreateToken(ctx, t, ev); err != nil {
		return "", secrets.ClientSecret{}, fmt.Errorf("bootstrap: %w", err)
	}
	s.log.InfoContext(ctx, "operator credential created", "token", id)
	return id, secret, nil
}

// HasOperator reports whether an active operator credential exists.
func (s *Service) HasOperator(ctx context.Context) (bool, error) {
	var after *storage.Cursor
	for {
		page, err := s.store.ListTokens(ctx, storage.TokenFilter{State: chave.StateActive, Now: s.clock(), Limit: MaxPageSize, After: after})
		if err != nil {
			return false, err
		}
		for _, t := range page.Tokens {
			if t.Operator {
				return true, nil
			}
		}
		if !page.More || len(page.Tokens) == 0 {
			return false, nil
		}
		last := page.Tokens[len(page.Tokens)-1]
		after = &storage.Cursor{CreateTime: last.CreateTime, ID: last.ID}
	}
}

// ---- helpers ----

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
