package observe

import (
	"context"
	"net"
	"sync"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// collector is a real OTLP/gRPC endpoint that keeps the span names it gets.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu       sync.Mutex
	spans    []string
	services []string
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				c.services = append(c.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, s.GetName())
			}
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func listen(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	register(s)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func TestTracingExportsSpans(t *testing.T) {
	col := &collector{}
	colAddr := listen(t, func(s *grpc.Server) { collectorpb.RegisterTraceServiceServer(s, col) })
	ctx := context.Background()
	tr, err := NewTracing(ctx, TracingConfig{OTLPEndpoint: colAddr, Insecure: true, SampleRatio: 1, Service: "chave-test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(tr.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), append(tr.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// The server ends its span after the client has its answer: wait for
	// the handler to finish (GracefulStop does) before flushing, or the
	// server's span may come after Shutdown and be dropped.
	conn.Close()
	srv.GracefulStop()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) < 2 { // the client's and the server's span of the call
		t.Fatalf("collector got spans %v, want the client and server spans of the call", col.spans)
	}
	for _, s := range col.services {
		if s != "chave-test" {
			t.Fatalf("service.name = %q", s)
		}
	}
}

func TestTracingOffByDefault(t *testing.T) {
	tr, err := NewTracing(context.Background(), TracingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || tr.ServerOptions() != nil || tr.DialOptions() != nil {
		t.Fatal("tracing is on without an endpoint")
	}
	if _, err := NewTracing(context.Background(), TracingConfig{OTLPEndpoint: "x:1", SampleRatio: 2}); err == nil {
		t.Fatal("a sample ratio of 2 was accepted")
	}
}
