package observe

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

type panickyHealth struct {
	healthpb.UnimplementedHealthServer
}

func (panickyHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	panic("boom")
}

func serve(t *testing.T, g *GRPC, svc healthpb.HealthServer) healthpb.HealthClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(g.ServerOptions(nil, nil)...)
	healthpb.RegisterHealthServer(s, svc)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func TestMetricsAndRecovery(t *testing.T) {
	reg := prometheus.NewRegistry()
	g, err := NewGRPC(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := serve(t, g, health.NewServer())
	if _, err := ok.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v", err)
	}
	bad := serve(t, g, panickyHealth{})
	if _, err := bad.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Internal || strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic answered %v; want Internal without the panic's text", err)
	}
	for code, want := range map[string]float64{"OK": 1, "NotFound": 1, "Internal": 1} {
		got := testutil.ToFloat64(g.handled.WithLabelValues("grpc.health.v1.Health", "Check", code))
		if got != want {
			t.Errorf("handled{code=%s} = %v, want %v", code, got, want)
		}
	}
	if n := testutil.CollectAndCount(g.duration); n != 1 {
		t.Errorf("duration series = %d, want 1", n)
	}
	if _, err := NewGRPC(reg, nil); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}

func TestMethodSeriesCacheIsBoundedAndCountsEveryCall(t *testing.T) {
	reg := prometheus.NewRegistry()
	g, err := NewGRPC(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range maxCachedMethods + 44 {
		name := "/svc.S/M" + strings.Repeat("x", i)
		g.done(ctx, name, time.Now(), nil)
		g.done(ctx, name, time.Now(), nil)
		g.done(ctx, name, time.Now(), status.Error(codes.NotFound, "no"))
	}
	if g.cached != maxCachedMethods {
		t.Errorf("cached %d methods, want the bound %d", g.cached, maxCachedMethods)
	}
	for _, i := range []int{0, maxCachedMethods - 1, maxCachedMethods, maxCachedMethods + 43} {
		method := "M" + strings.Repeat("x", i)
		if got := testutil.ToFloat64(g.handled.WithLabelValues("svc.S", method, "OK")); got != 2 {
			t.Errorf("%s: OK = %v, want 2", method, got)
		}
		if got := testutil.ToFloat64(g.handled.WithLabelValues("svc.S", method, "NotFound")); got != 1 {
			t.Errorf("%s: NotFound = %v, want 1", method, got)
		}
	}
	if n := testutil.CollectAndCount(g.duration); n != maxCachedMethods+44 {
		t.Errorf("duration series = %d, want %d", n, maxCachedMethods+44)
	}
}
