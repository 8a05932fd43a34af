package observe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/revocation"
)

// RevocationSet wraps a revocation set with metrics: the latency of every
// operation and its result (ok, revoked, unavailable, lost, error).
func RevocationSet(set revocation.Set, reg prometheus.Registerer) (revocation.Set, error) {
	m := &instrumentedSet{
		Set: set,
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chave_revocation_set_operation_seconds",
			Help:    "Revocation-set (Redis or in-process) operation latency, by operation and result.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .25, 1},
		}, []string{"op", "result"}),
	}
	if reg != nil {
		if err := reg.Register(m.ops); err != nil {
			return nil, fmt.Errorf("observe: %w", err)
		}
	}
	return m, nil
}

type instrumentedSet struct {
	revocation.Set
	ops *prometheus.HistogramVec
}

func (s *instrumentedSet) observe(op string, start time.Time, err error) {
	result := "ok"
	switch {
	case errors.Is(err, revocation.ErrLost):
		result = "lost"
	case errors.Is(err, revocation.ErrUnavailable):
		result = "unavailable"
	case err != nil:
		result = "error"
	}
	s.ops.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
}

func (s *instrumentedSet) Revoke(ctx context.Context, entries ...revocation.Entry) error {
	start := time.Now()
	err := s.Set.Revoke(ctx, entries...)
	s.observe("revoke", start, err)
	return err
}

func (s *instrumentedSet) IsRevoked(ctx context.Context, q revocation.Query) (bool, error) {
	start := time.Now()
	revoked, err := s.Set.IsRevoked(ctx, q)
	s.observe("is_revoked", start, err)
	return revoked, err
}

func (s *instrumentedSet) Rebuild(ctx context.Context, all []revocation.Entry) error {
	start := time.Now()
	err := s.Set.Rebuild(ctx, all)
	s.observe("rebuild", start, err)
	return err
}

func (s *instrumentedSet) Healthy(ctx context.Context) error {
	start := time.Now()
	err := s.Set.Healthy(ctx)
	s.observe("healthy", start, err)
	return err
}

func (s *instrumentedSet) Versions(ctx context.Context, ids []string, versions []int64) (revocation.Generation, error) {
	start := time.Now()
	gen, err := s.Set.Versions(ctx, ids, versions)
	s.observe("versions", start, err)
	return gen, err
}
