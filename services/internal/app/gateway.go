package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// StartGateway starts `chave gateway`: the HTTP edge over gRPC connections
// to the registry (cfg.RegistryAddr) and the auth service (cfg.AuthAddr),
// ready while both answer SERVING to grpc.health.v1, and the metrics
// listener (/metrics is not served on the public port). It holds no
// database handle and no private key.
func StartGateway(ctx context.Context, cfg GatewayConfig) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return start("gateway", cfg.ProcessConfig, func(s *Server) error {
		metrics := newMetrics()
		registryConn, err := s.dial("--registry", cfg.RegistryAddr, cfg.TLS)
		if err != nil {
			return err
		}
		authConn, err := s.dial("--auth", cfg.AuthAddr, cfg.TLS)
		if err != nil {
			return err
		}
		ready := upstreamsReady(
			upstream{"registry", registryConn, registryv1.RegistryService_ServiceDesc.ServiceName},
			upstream{"auth service", authConn, authv1.AuthService_ServiceDesc.ServiceName},
		)
		edge, err := s.newGateway(ctx, cfg, registryConn, authConn, metrics, s.ready)
		if err != nil {
			return err
		}
		if s.httpLn, err = listen("--http-addr", cfg.HTTPAddr); err != nil {
			return err
		}
		s.http = newHTTPServer(edge)
		s.watchHealth(ready)
		return s.listenMetrics(cfg.MetricsAddr, metrics, nil)
	})
}

// newGateway returns the gateway's handler over the two services, traced
// when tracing is on.
func (s *Server) newGateway(ctx context.Context, cfg GatewayConfig, registryConn, authConn grpc.ClientConnInterface, metrics prometheus.Registerer, ready func(context.Context) error) (http.Handler, error) {
	proxies, err := trustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	h, err := gateway.New(ctx, gateway.Config{
		Registry: registryConn, Auth: authConn, Logger: cfg.Logger, Registerer: metrics, Ready: ready,
		TrustedProxies: proxies,
	})
	if err != nil {
		return nil, err
	}
	return s.tracing.HTTPHandler(h, "chave-gateway"), nil
}

// upstream is a service the gateway needs, and the grpc.health.v1 service
// name that says it is ready.
type upstream struct {
	name    string
	conn    grpc.ClientConnInterface
	service string
}

// upstreamsReady asks every upstream's health service at once; any answer
// but SERVING, or none before ctx ends, is not ready. A connection that
// failed is redialled at once, so that the gateway is ready again as soon
// as the upstream answers.
func upstreamsReady(ups ...upstream) func(context.Context) error {
	return func(ctx context.Context) error {
		errs := make([]error, len(ups))
		var wg sync.WaitGroup
		for i, u := range ups {
			wg.Go(func() {
				redialNow(u.conn)
				resp, err := healthpb.NewHealthClient(u.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: u.service})
				switch {
				case err != nil:
					errs[i] = fmt.Errorf("%s: %w", u.name, err)
				case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
					errs[i] = fmt.Errorf("%s: %s", u.name, resp.GetStatus())
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}
