package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Readiness follows the dependencies within about readyInterval both ways:
// each is asked that often, and a dependency that refuses or drops
// connections answers at once. One that stops answering counts as down
// after readyTimeout (the revocation set's own Redis timeout, 250 ms, is
// shorter).
const (
	readyInterval = 100 * time.Millisecond
	readyTimeout  = 500 * time.Millisecond
	// keeperInterval is how often the registry's revocation keeper checks
	// that the set is whole: a Redis that came back empty is rebuilt, and
	// readiness returns, within it.
	keeperInterval = 100 * time.Millisecond
)

// errDraining is the readiness of a server that is shutting down.
var errDraining = errors.New("shutting down")

// ready reports the server's readiness: nil while its dependencies last
// answered and it is not draining. It answers at once, from what
// watchHealth last saw; /readyz and grpc.health.v1 say the same.
func (s *Server) ready(context.Context) error {
	if s.draining.Load() {
		return errDraining
	}
	if err := s.readyErr.Load(); err != nil {
		return *err
	}
	return nil
}

// watchHealth asks ready now and then every readyInterval until Stop (ready
// nil: always ready), and reports the answer through s.ready and, when the
// server has a gRPC health service, as SERVING or NOT_SERVING for services
// and "" (the whole server).
func (s *Server) watchHealth(ready func(context.Context) error, services ...string) {
	services = append([]string{""}, services...)
	last := healthpb.HealthCheckResponse_UNKNOWN
	check := func(ctx context.Context) {
		status := healthpb.HealthCheckResponse_SERVING
		var err error
		if ready != nil {
			readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
			err = ready(readyCtx)
			cancel()
		}
		if err != nil {
			if ctx.Err() != nil {
				return // stopping
			}
			status = healthpb.HealthCheckResponse_NOT_SERVING
			s.readyErr.Store(&err)
		} else {
			s.readyErr.Store(nil)
		}
		if status == last {
			return
		}
		if err != nil {
			s.log.Warn("not ready: health NOT_SERVING", "err", err)
		} else if last != healthpb.HealthCheckResponse_UNKNOWN {
			s.log.Info("ready again: health SERVING")
		}
		last = status
		if s.health != nil {
			for _, svc := range services {
				s.health.SetServingStatus(svc, status)
			}
		}
	}
	check(s.bgCtx)
	if ready == nil {
		return
	}
	s.goBackground(func(ctx context.Context) {
		t := time.NewTicker(readyInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				check(ctx)
			}
		}
	})
}

// allReady is ready while every non-nil check is.
func allReady(checks ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, check := range checks {
			if check == nil {
				continue
			}
			if err := check(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// Drain starts the shutdown that drops nothing: readiness turns
// NOT_SERVING at once (grpc.health.v1 and /readyz), HTTP responses carry
// Connection: close so that clients stop reusing their connections, and
// the servers keep serving until the drain delay (--shutdown-drain-delay)
// has passed or ctx ends, giving load balancers the time to stop sending.
// Stop then finishes what is in flight.
func (s *Server) Drain(ctx context.Context) {
	s.beginDrain()
	if s.drainDelay <= 0 {
		return
	}
	s.log.Info("draining: not ready, still serving", "drain_delay", s.drainDelay.String())
	t := time.NewTimer(s.drainDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// beginDrain turns readiness NOT_SERVING for good.
func (s *Server) beginDrain() {
	if s.draining.Swap(true) {
		return
	}
	if s.health != nil {
		s.health.Shutdown() // NOT_SERVING for every service, and it stays so
	}
}

// closeWhileDraining answers with Connection: close once the server drains:
// a keep-alive client then opens its next connection elsewhere instead of
// sending a request on one that the server is about to close.
func (s *Server) closeWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// redialNow makes a connection that failed reconnect at once instead of
// after its backoff (up to redialMaxDelay), so that calls and readiness
// resume as soon as the service answers again. The health watcher calls it
// on every check.
func redialNow(conn grpc.ClientConnInterface) {
	if c, ok := conn.(*grpc.ClientConn); ok && c.GetState() == connectivity.TransientFailure {
		c.ResetConnectBackoff()
	}
}
