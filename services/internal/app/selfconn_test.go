package app

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/chave/chave/services/internal/auth"
)

// newTestSelfConn is a selfConn over the health service, with the given
// interceptors.
func newTestSelfConn(t *testing.T, chain ...grpc.UnaryServerInterceptor) *selfConn {
	t.Helper()
	srv := grpc.NewServer()
	t.Cleanup(srv.Stop)
	c := newSelfConn(srv, chain)
	h := health.NewServer()
	h.SetServingStatus("x", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(c, h)
	return c
}

func TestNewSelfConnCarriesMetadataPeerHeaderAndTrailer(t *testing.T) {
	var order []string
	first := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		order = append(order, "first")
		return next(ctx, req)
	}
	second := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		order = append(order, "second")
		if info.FullMethod != "/grpc.health.v1.Health/Check" {
			t.Errorf("FullMethod = %q", info.FullMethod)
		}
		if m, _ := grpc.Method(ctx); m != info.FullMethod {
			t.Errorf("grpc.Method = %q", m)
		}
		in, _ := metadata.FromIncomingContext(ctx)
		if got := in.Get("x-sent"); len(got) != 1 || got[0] != "v" {
			t.Errorf("incoming x-sent = %q", got)
		}
		if out, ok := metadata.FromOutgoingContext(ctx); ok && out.Len() != 0 {
			t.Errorf("the caller's outgoing metadata went onwards: %v", out)
		}
		p, ok := peer.FromContext(ctx)
		if !ok || p.Addr == nil || p.Addr.Network() != auth.InProcessNetwork {
			t.Errorf("peer = %+v, want network %q", p, auth.InProcessNetwork)
		}
		// The wire copies the request: the handler's changes stay its own.
		req.(*healthpb.HealthCheckRequest).Service = "x"
		if err := grpc.SetHeader(ctx, metadata.Pairs("h1", "a")); err != nil {
			t.Error(err)
		}
		if err := grpc.SendHeader(ctx, metadata.Pairs("h2", "b")); err != nil {
			t.Error(err)
		}
		if err := grpc.SetHeader(ctx, metadata.Pairs("late", "c")); err == nil {
			t.Error("SetHeader after SendHeader succeeded")
		}
		if err := grpc.SetTrailer(ctx, metadata.Pairs("t1", "d")); err != nil {
			t.Error(err)
		}
		return next(ctx, req)
	}
	c := newTestSelfConn(t, first, second)

	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-sent", "v")
	req := &healthpb.HealthCheckRequest{Service: "caller's"}
	var header, trailer metadata.MD
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(c).Check(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer), grpc.Peer(&p))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status = %v", resp.GetStatus())
	}
	if req.Service != "caller's" {
		t.Errorf("the handler changed the caller's request: %q", req.Service)
	}
	if len(order) != 2 || order[0] != "first" || order[1] != "second" {
		t.Errorf("interceptors ran %v, want first, second", order)
	}
	if header.Get("h1")[0] != "a" || header.Get("h2")[0] != "b" || len(header.Get("late")) != 0 {
		t.Errorf("header = %v", header)
	}
	if trailer.Get("t1")[0] != "d" {
		t.Errorf("trailer = %v", trailer)
	}
	if p.Addr == nil || p.Addr.Network() != auth.InProcessNetwork {
		t.Errorf("grpc.Peer = %+v", p)
	}
}

func TestNewSelfConnErrorsCarryTrailerAndStatus(t *testing.T) {
	c := newTestSelfConn(t, func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
		_ = grpc.SetTrailer(ctx, metadata.Pairs("t", "v"))
		return nil, errors.New("not a status")
	})
	var trailer metadata.MD
	_, err := healthpb.NewHealthClient(c).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.Unknown {
		t.Errorf("err = %v, want Unknown", err)
	}
	if got := trailer.Get("t"); len(got) != 1 {
		t.Errorf("trailer of a failed call = %v", trailer)
	}
}

func TestNewSelfConnRefusesWhatItCannotCarry(t *testing.T) {
	c := newTestSelfConn(t)
	ctx := context.Background()
	hc := healthpb.NewHealthClient(c)

	if _, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("stream: %v, want Unimplemented", err)
	}
	if err := c.Invoke(ctx, "/no.Such/Method", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown method: %v, want Unimplemented", err)
	}
	if err := c.Invoke(ctx, "/grpc.health.v1.Health/Check", "not proto", &healthpb.HealthCheckResponse{}); status.Code(err) != codes.Internal {
		t.Errorf("non-protobuf request: %v, want Internal", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := hc.Check(cancelled, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled: %v, want Canceled", err)
	}
	c.close()
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("after close: %v, want Unavailable", err)
	}
}
