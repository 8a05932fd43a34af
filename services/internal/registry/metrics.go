package registry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/revocation"
)

// metrics are the registry's Prometheus metrics.
type metrics struct {
	revocations *prometheus.CounterVec
	rehashed    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chave_revocations_total",
			Help: "Revocations written to the revocation set, by kind (credential, access_token, family).",
		}, []string{"kind"}),
		rehashed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chave_secrets_rehashed_total",
			Help: "Client secrets re-hashed under the active server hashing key on their first use after a rotation.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.revocations, m.rehashed} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) revoked(entries []revocation.Entry) {
	for _, e := range entries {
		m.revocations.WithLabelValues(e.Kind.String()).Inc()
	}
}
