package auth

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// grantMetrics count grants and time them, by grant type and outcome (ok
// or the OAuth error code).
type grantMetrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// ok holds the series of the successful grants of each type, looked
	// up at the first one (a series appears once it counts something), so
	// that a grant hashes no label values.
	ok map[string]func() grantSeries
}

type grantSeries struct {
	total    prometheus.Counter
	duration prometheus.Observer
}

func newGrantMetrics(reg prometheus.Registerer) (*grantMetrics, error) {
	m := &grantMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chave_grants_total",
			Help: "Token requests by grant type and outcome (ok or the OAuth error code).",
		}, []string{"grant_type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chave_grant_duration_seconds",
			Help:    "Token request latency in the auth service, by grant type and outcome.",
			Buckets: []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"grant_type", "outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.total, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("auth: metrics: %w", err)
			}
		}
	}
	m.ok = map[string]func() grantSeries{}
	for _, gt := range []string{GrantClientCredentials, GrantRefreshToken, "other"} {
		m.ok[gt] = sync.OnceValue(func() grantSeries {
			return grantSeries{total: m.total.WithLabelValues(gt, "ok"), duration: m.duration.WithLabelValues(gt, "ok")}
		})
	}
	return m, nil
}

// observe counts one token request: err is the grant's own error, before
// StatusInterceptor maps it. The outcome is the OAuth error code that
// mapping answers (oauthErrorOf, the rule toStatus follows), without
// parsing back a status.
func (m *grantMetrics) observe(grantType string, start time.Time, err error) {
	switch grantType {
	case GrantClientCredentials, GrantRefreshToken:
	default:
		grantType = "other" // never a client-chosen label value
	}
	elapsed := time.Since(start).Seconds()
	if err == nil {
		s := m.ok[grantType]()
		s.total.Inc()
		s.duration.Observe(elapsed)
		return
	}
	outcome := oauthErrorOf(err).Code()
	m.total.WithLabelValues(grantType, outcome).Inc()
	m.duration.WithLabelValues(grantType, outcome).Observe(elapsed)
}
