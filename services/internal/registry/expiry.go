// Expiry warnings: how many credentials of each tenant expire soon.

package registry

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ExpiringSoonWindow is how far ahead chave_credentials_expiring_soon
// looks.
const ExpiringSoonWindow = 7 * 24 * time.Hour

// ExpiryGaugeInterval is how often RunExpiryGauge recounts.
const ExpiryGaugeInterval = time.Minute

const expiringHelp = "Active credentials that expire within 7 days, per tenant, as last counted from the database (every minute)."

var expiringDesc = prometheus.NewDesc("chave_credentials_expiring_soon", expiringHelp, []string{"tenant"}, nil)

// expiringCollector exports the last count: a scrape reads memory, never
// the database.
type expiringCollector struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *expiringCollector) Describe(ch chan<- *prometheus.Desc) { ch <- expiringDesc }

func (c *expiringCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for tenant, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(expiringDesc, prometheus.GaugeValue, float64(n), tenant)
	}
}

func (c *expiringCollector) set(counts map[string]int) {
	c.mu.Lock()
	c.counts = counts
	c.mu.Unlock()
}

// CountExpiring recounts the credentials expiring within
// ExpiringSoonWindow, per tenant, for chave_credentials_expiring_soon:
// every tenant appears, at 0 when none of its credentials expires soon.
func (s *Service) CountExpiring(ctx context.Context) error {
	now := s.clock()
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return err
	}
	counts, err := s.store.CountExpiringTokens(ctx, now, now.Add(ExpiringSoonWindow))
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if _, ok := counts[t.ID]; !ok {
			counts[t.ID] = 0
		}
	}
	s.expiring.set(counts)
	return nil
}

// RunExpiryGauge recounts expiring credentials every interval until ctx
// ends.
func (s *Service) RunExpiryGauge(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := s.CountExpiring(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "counting expiring credentials failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
