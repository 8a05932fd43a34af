package app

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/gateway"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/throttle"
	"github.com/chave/chave/services/revocation"
)

// throttled returns reg with its client authentications throttled by
// cfg.Throttle: counts in Redis when cfg.Redis is set (shared by every
// replica, with local limits while Redis is down), else in process.
func (s *Server) throttled(cfg AuthConfig, reg auth.Registry, metrics prometheus.Registerer) (auth.Registry, error) {
	var store throttle.Store = throttle.NewMemory(0)
	if cfg.Redis.URL != "" {
		client, err := revocation.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		s.closers = append(s.closers, client)
		shared, err := throttle.NewRedis(client, throttle.RedisOptions{})
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		localOnly := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chave_throttle_local_only_total",
			Help: "Throttle store calls answered by the in-process store alone because Redis was unreachable.",
		})
		if err := metrics.Register(localOnly); err != nil {
			return nil, fmt.Errorf("throttle metrics: %w", err)
		}
		store = throttle.NewFallback(shared, store, throttle.FallbackOptions{Logger: cfg.Logger, OnLocalOnly: localOnly.Inc})
	}
	limiter, err := throttle.NewLimiter(store, cfg.Throttle, cfg.ThrottleClock)
	if err != nil {
		return nil, err
	}
	return auth.NewThrottledRegistry(reg, limiter, auth.ThrottleOptions{Logger: cfg.Logger, Registerer: metrics})
}

// DefaultLeakReportsPerMinute is the default of --leak-reports-per-minute:
// a scanner that reports 100 secrets a call may report 6,000 a minute.
const DefaultLeakReportsPerMinute = 60

// leakReportRate returns the rate limit of leak reports per source: counted
// in Redis when cfg.Redis is set (shared by every replica, in process
// while Redis is down), else in process.
func (s *Server) leakReportRate(cfg RegistryConfig) (*throttle.Rate, error) {
	if cfg.LeakReportsPerMinute < 0 {
		return nil, fmt.Errorf("--leak-reports-per-minute: %d is negative", cfg.LeakReportsPerMinute)
	}
	var store throttle.Store = throttle.NewMemory(0)
	if cfg.Redis.URL != "" {
		client, err := revocation.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		s.closers = append(s.closers, client)
		shared, err := throttle.NewRedis(client, throttle.RedisOptions{Prefix: "chave:leaks"})
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		store = throttle.NewFallback(shared, store, throttle.FallbackOptions{Logger: cfg.Logger})
	}
	limit := cfg.LeakReportsPerMinute
	if limit == 0 {
		limit = DefaultLeakReportsPerMinute
	}
	return throttle.NewRate(store, "source:", limit, time.Minute, cfg.RegistryClock)
}

// checkThrottle checks the throttling settings.
func checkThrottle(p throttle.Policy) error {
	errs := []error{
		inRange("--throttle-window", p.Window, time.Second, time.Hour),
		inRange("--throttle-remember-success", p.RememberSuccess, time.Minute, 30*24*time.Hour),
	}
	for _, l := range []struct {
		name string
		n    int64
	}{
		{"--throttle-max-pair-failures", p.MaxPairFailures},
		{"--throttle-max-address-failures", p.MaxAddressFailures},
		{"--throttle-max-client-failures", p.MaxClientFailures},
	} {
		if l.n < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative", l.name, l.n))
		}
	}
	return errors.Join(errs...)
}

// trustedProxies parses --trusted-proxies.
func trustedProxies(s string) ([]netip.Prefix, error) {
	p, err := gateway.ParseTrustedProxies(s)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return p, nil
}

// checkTrustedProxies checks --trusted-proxies.
func checkTrustedProxies(s string) error {
	_, err := trustedProxies(s)
	return err
}
