package registry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/revocation"
)

// metrics are the registry's Prometheus metrics.
type metrics struct {
	revocations *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chave_revocations_total",
			Help: "Revocations written to the revocation set, by kind (credential, access_token, family).",
		}, []string{"kind"}),
	}
	if reg != nil {
		if err := reg.Register(m.revocations); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) revoked(entries []revocation.Entry) {
	for _, e := range entries {
		m.revocations.WithLabelValues(e.Kind.String()).Inc()
	}
}
