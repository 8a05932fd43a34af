package registry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/revocation"
)

// metrics are the registry's Prometheus metrics.
type metrics struct {
	revocations *prometheus.CounterVec
	leaks       *prometheus.CounterVec
	rehashed    prometheus.Counter
}

// The results of a reported string (chave_leaked_secrets_total).
const (
	leakRevoked   = "revoked"    // a chave secret; its credential is now revoked
	leakNotSecret = "not_secret" // no chave secret, or none of a credential
	leakLimited   = "rate_limited"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chave_revocations_total",
			Help: "Revocations written to the revocation set, by kind (credential, access_token, family).",
		}, []string{"kind"}),
		leaks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chave_leaked_secrets_total",
			Help: "Strings reported by leak reports (POST /v1/leaks), by result (revoked, not_secret, rate_limited).",
		}, []string{"result"}),
		rehashed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chave_secrets_rehashed_total",
			Help: "Client secrets re-hashed under the active server hashing key on their first use after a rotation.",
		}),
	}
	for _, r := range []string{leakRevoked, leakNotSecret, leakLimited} {
		m.leaks.WithLabelValues(r)
	}
	if reg != nil {

		for _, c := range []prometheus.Collector{m.revocations, m.leaks, m.rehashed} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) revoked(entries []revocation.Entry) {
	for _, e := range entries {
		if e.Kind == revocation.Changed {
			continue // revokes nothing
		}
		m.revocations.WithLabelValues(e.Kind.String()).Inc()
	}
}
