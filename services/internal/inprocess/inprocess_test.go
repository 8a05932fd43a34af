package inprocess

import (
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// echoHealth answers with the service name it got, and records what the
// server side saw.
type echoHealth struct {
	healthpb.UnimplementedHealthServer
	incoming metadata.MD
	outgoing metadata.MD
	req      *healthpb.HealthCheckRequest
}

func (h *echoHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.incoming, _ = metadata.FromIncomingContext(ctx)
	h.outgoing, _ = metadata.FromOutgoingContext(ctx)
	h.req = req
	switch req.GetService() {
	case "fail":
		return nil, status.Error(codes.NotFound, "no such service")
	case "plain-error":
		return nil, errors.New("boom")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func TestChannel(t *testing.T) {
	var order []string
	record := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			order = append(order, name+":"+info.FullMethod)
			return h(ctx, req)
		}
	}
	deny := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if len(md.Get("authorization")) != 1 {
			return nil, status.Error(codes.Unauthenticated, "no bearer")
		}
		return h(ctx, req)
	}
	srv := &echoHealth{}
	ch := New(record("outer"), record("inner"), deny)
	healthpb.RegisterHealthServer(ch, srv)
	client := healthpb.NewHealthClient(ch)

	// The interceptors run, in order, and can refuse the call.
	if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("call without metadata: %v, want the interceptor's Unauthenticated", err)
	}
	want := []string{"outer:/grpc.health.v1.Health/Check", "inner:/grpc.health.v1.Health/Check"}
	if !slices.Equal(order, want) {
		t.Fatalf("interceptors ran %v, want %v", order, want)
	}

	// Outgoing metadata arrives as incoming, and only that: the caller's own
	// incoming metadata does not leak through, nor does it travel onwards.
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer leaked"))
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer sent")
	req := &healthpb.HealthCheckRequest{Service: "x"}
	resp, err := client.Check(ctx, req)
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check = %v, %v", resp, err)
	}
	if got := srv.incoming.Get("authorization"); !slices.Equal(got, []string{"Bearer sent"}) {
		t.Fatalf("server saw authorization %v, want only what the client sent", got)
	}
	if len(srv.outgoing) != 0 {
		t.Fatalf("server's context carries outgoing metadata %v", srv.outgoing)
	}
	// Messages are copies.
	if srv.req == req {
		t.Fatal("the server got the caller's request object itself")
	}
	req.Service = "changed"
	if srv.req.GetService() != "x" {
		t.Fatal("the server's request aliases the caller's")
	}

	// Errors keep their status; plain errors become Unknown, as on the wire.
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "fail"}); status.Code(err) != codes.NotFound {
		t.Fatalf("status error: %v", err)
	}
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "plain-error"}); status.Code(err) != codes.Unknown {
		t.Fatalf("plain error: %v", err)
	}
	// Unknown methods, streams and cancelled contexts.
	if err := ch.Invoke(ctx, "/nope/Nope", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown method: %v", err)
	}
	if _, err := client.Watch(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("stream: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := client.Check(cancelled, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled: %v", err)
	}
}
