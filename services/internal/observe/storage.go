package observe

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// Store wraps a storage backend with a latency histogram by operation and
// result (ok, not_found, conflict, error…: the chave error code).
func Store(s storage.Store, reg prometheus.Registerer) (storage.Store, error) {
	m := &instrumentedStore{
		Store: s,
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chave_storage_operation_seconds",
			Help:    "Database operation latency, by operation and result.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op", "result"}),
	}
	if reg != nil {
		if err := reg.Register(m.ops); err != nil {
			return nil, fmt.Errorf("observe: %w", err)
		}
	}
	return m, nil
}

type instrumentedStore struct {
	storage.Store
	ops *prometheus.HistogramVec
}

// timed runs op and records how long it took and how it ended.
func timed[T any](s *instrumentedStore, op string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	result := "ok"
	if err != nil {
		result = string(chave.ErrorCode(err))
	}
	s.ops.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
	return v, err
}

func timedErr(s *instrumentedStore, op string, f func() error) error {
	_, err := timed(s, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

func (s *instrumentedStore) CreateTenant(ctx context.Context, t chave.Tenant) error {
	return timedErr(s, "create_tenant", func() error { return s.Store.CreateTenant(ctx, t) })
}

func (s *instrumentedStore) GetTenant(ctx context.Context, id string) (chave.Tenant, error) {
	return timed(s, "get_tenant", func() (chave.Tenant, error) { return s.Store.GetTenant(ctx, id) })
}

func (s *instrumentedStore) ListTenants(ctx context.Context) ([]chave.Tenant, error) {
	return timed(s, "list_tenants", func() ([]chave.Tenant, error) { return s.Store.ListTenants(ctx) })
}

func (s *instrumentedStore) UpdateTenant(ctx context.Context, id string, update func(*chave.Tenant) error) (chave.Tenant, error) {
	return timed(s, "update_tenant", func() (chave.Tenant, error) { return s.Store.UpdateTenant(ctx, id, update) })
}

func (s *instrumentedStore) CreateToken(ctx context.Context, t chave.Token, ev chave.Event) error {
	return timedErr(s, "create_token", func() error { return s.Store.CreateToken(ctx, t, ev) })
}

func (s *instrumentedStore) GetTokenBySecretHash(ctx context.Context, hash []byte) (chave.Token, error) {
	return timed(s, "get_token_by_secret_hash", func() (chave.Token, error) { return s.Store.GetTokenBySecretHash(ctx, hash) })
}

func (s *instrumentedStore) GetToken(ctx context.Context, id string) (chave.Token, error) {
	return timed(s, "get_token", func() (chave.Token, error) { return s.Store.GetToken(ctx, id) })
}

func (s *instrumentedStore) GetClient(ctx context.Context, id string) (chave.Token, chave.Tenant, error) {
	type client struct {
		token  chave.Token
		tenant chave.Tenant
	}
	c, err := timed(s, "get_client", func() (client, error) {
		t, tenant, err := s.Store.GetClient(ctx, id)
		return client{t, tenant}, err
	})
	return c.token, c.tenant, err
}

func (s *instrumentedStore) ListTokens(ctx context.Context, f storage.TokenFilter) (storage.TokenPage, error) {
	return timed(s, "list_tokens", func() (storage.TokenPage, error) { return s.Store.ListTokens(ctx, f) })
}

func (s *instrumentedStore) UpdateToken(ctx context.Context, id string, update func(*chave.Token) (chave.Event, error)) (chave.Token, error) {
	return timed(s, "update_token", func() (chave.Token, error) { return s.Store.UpdateToken(ctx, id, update) })
}

func (s *instrumentedStore) ListTokenEvents(ctx context.Context, id string) ([]chave.Event, error) {
	return timed(s, "list_token_events", func() ([]chave.Event, error) { return s.Store.ListTokenEvents(ctx, id) })
}

func (s *instrumentedStore) TouchToken(ctx context.Context, id string, at time.Time) error {
	return timedErr(s, "touch_token", func() error { return s.Store.TouchToken(ctx, id, at) })
}

func (s *instrumentedStore) GetRefreshFamily(ctx context.Context, id string) (chave.RefreshFamily, error) {
	return timed(s, "get_refresh_family", func() (chave.RefreshFamily, error) { return s.Store.GetRefreshFamily(ctx, id) })
}

func (s *instrumentedStore) UpdateRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, update func(*chave.RefreshFamily) error) (chave.RefreshFamily, error) {
	return timed(s, "update_refresh_family", func() (chave.RefreshFamily, error) {
		return s.Store.UpdateRefreshFamily(ctx, id, init, update)
	})
}

func (s *instrumentedStore) AdvanceRefreshFamily(ctx context.Context, id string, init chave.RefreshFamily, gen int64) (bool, error) {
	return timed(s, "advance_refresh_family", func() (bool, error) { return s.Store.AdvanceRefreshFamily(ctx, id, init, gen) })
}

func (s *instrumentedStore) RevokeAccessToken(ctx context.Context, r chave.RevokedAccessToken) error {
	return timedErr(s, "revoke_access_token", func() error { return s.Store.RevokeAccessToken(ctx, r) })
}

func (s *instrumentedStore) IsAccessTokenRevoked(ctx context.Context, id string) (bool, error) {
	return timed(s, "is_access_token_revoked", func() (bool, error) { return s.Store.IsAccessTokenRevoked(ctx, id) })
}

func (s *instrumentedStore) ListRevocations(ctx context.Context, since, now time.Time) (storage.Revocations, error) {
	return timed(s, "list_revocations", func() (storage.Revocations, error) { return s.Store.ListRevocations(ctx, since, now) })
}

func (s *instrumentedStore) AddTokenUsage(ctx context.Context, counts []chave.UsageCount) error {
	return timedErr(s, "add_token_usage", func() error { return s.Store.AddTokenUsage(ctx, counts) })
}

func (s *instrumentedStore) ListTokenUsage(ctx context.Context, id string, since time.Time) ([]chave.UsageDay, error) {
	return timed(s, "list_token_usage", func() ([]chave.UsageDay, error) { return s.Store.ListTokenUsage(ctx, id, since) })
}

func (s *instrumentedStore) PruneTokenUsage(ctx context.Context, before time.Time) error {
	return timedErr(s, "prune_token_usage", func() error { return s.Store.PruneTokenUsage(ctx, before) })
}

func (s *instrumentedStore) CountExpiringTokens(ctx context.Context, after, before time.Time) (map[string]int, error) {
	return timed(s, "count_expiring_tokens", func() (map[string]int, error) { return s.Store.CountExpiringTokens(ctx, after, before) })
}
