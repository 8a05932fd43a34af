package verify_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/chave/chave/services/verify"
)

const testMethod = "/chave.test.v1.Things/Get"

func TestUnaryServerInterceptor(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	valid := token(t, k)
	expired := signRaw(t, validHeader(k), with(validClaims(), "exp", now.Add(-time.Hour).Unix()), jwa.ES256, k.priv)
	keys := keySet(t, k.pub)
	v := newRevocationVerifier(t, keys, &jtiChecker{}, nil)
	revoking := newRevocationVerifier(t, keys, &fakeChecker{revoked: true}, nil)
	down := newRevocationVerifier(t, keys, &fakeChecker{err: errSetDown}, nil)
	quiet := verify.WithLogger(slog.New(slog.DiscardHandler))

	tests := []struct {
		name   string
		v      *verify.Verifier
		opts   []verify.MiddlewareOption
		method string
		auth   []string
		want   codes.Code
	}{
		{"valid", v, nil, testMethod, []string{"Bearer " + valid}, codes.OK},
		{"lower-case scheme", v, nil, testMethod, []string{"bearer " + valid}, codes.OK},
		{"no metadata", v, nil, testMethod, nil, codes.Unauthenticated},
		{"two values", v, nil, testMethod, []string{"Bearer " + valid, "Bearer " + valid}, codes.Unauthenticated},
		{"basic", v, nil, testMethod, []string{"Basic YTpi"}, codes.Unauthenticated},
		{"bearer without token", v, nil, testMethod, []string{"Bearer "}, codes.Unauthenticated},
		{"expired", v, nil, testMethod, []string{"Bearer " + expired}, codes.Unauthenticated},
		{"revoked", revoking, nil, testMethod, []string{"Bearer " + valid}, codes.Unauthenticated},
		{"revocation set down", down, []verify.MiddlewareOption{quiet}, testMethod, []string{"Bearer " + valid}, codes.Unavailable},
		{"scopes held", v, []verify.MiddlewareOption{verify.WithRequiredScopes("inventory")}, testMethod, []string{"Bearer " + valid}, codes.OK},
		{"scope missing", v, []verify.MiddlewareOption{verify.WithRequiredScopes("inventory", "labels")}, testMethod, []string{"Bearer " + valid}, codes.PermissionDenied},
		{"skipped method", v, []verify.MiddlewareOption{verify.WithSkipMethods(testMethod)}, testMethod, nil, codes.OK},
		{"skipped service", v, []verify.MiddlewareOption{verify.WithSkipMethods("/chave.test.v1.Things/")}, testMethod, nil, codes.OK},
		{"other method not skipped", v, []verify.MiddlewareOption{verify.WithSkipMethods("/chave.test.v1.Things/List", "/chave.test.v1.Thing/")}, testMethod, nil, codes.Unauthenticated},
		{"health skipped", v, []verify.MiddlewareOption{verify.SkipHealthAndReflection()}, "/grpc.health.v1.Health/Check", nil, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.auth != nil {
				md := metadata.MD{}
				for _, a := range tt.auth {
					md.Append("authorization", a)
				}
				ctx = metadata.NewIncomingContext(ctx, md)
			}
			intercept := verify.UnaryServerInterceptor(tt.v, tt.opts...)
			var sawClaims, called bool
			_, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: tt.method}, func(ctx context.Context, req any) (any, error) {
				called = true
				_, sawClaims = verify.ClaimsFromContext(ctx)
				return "ok", nil
			})
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.want)
			}
			if called != (tt.want == codes.OK) {
				t.Errorf("handler called = %v", called)
			}
			if tt.want == codes.OK && tt.auth != nil && !sawClaims {
				t.Error("the handler's context has no claims")
			}
		})
	}
}

// fakeStream is a ServerStream with a context.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s fakeStream) Context() context.Context { return s.ctx }

func TestStreamServerInterceptor(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newRevocationVerifier(t, keySet(t, k.pub), &jtiChecker{}, nil)
	intercept := verify.StreamServerInterceptor(v, verify.WithRequiredScopes("inventory"))
	info := &grpc.StreamServerInfo{FullMethod: testMethod, IsServerStream: true}

	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token(t, k)))
	err := intercept(nil, fakeStream{ctx: ctx}, info, func(srv any, ss grpc.ServerStream) error {
		c, ok := verify.ClaimsFromContext(ss.Context())
		if !ok || c.Subject != "client-1" {
			t.Errorf("stream context claims = %+v, %v", c, ok)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("interceptor: %v", err)
	}

	err = intercept(nil, fakeStream{ctx: context.Background()}, info, func(any, grpc.ServerStream) error {
		t.Error("handler called without a token")
		return nil
	})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("code = %v, want Unauthenticated", status.Code(err))
	}
}

// TestInterceptorsOverGRPC runs the interceptors in a real server, with the
// health service standing in for a protected one.
func TestInterceptorsOverGRPC(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newRevocationVerifier(t, keySet(t, k.pub), &jtiChecker{}, nil)

	dial := func(t *testing.T, opts ...verify.MiddlewareOption) healthpb.HealthClient {
		t.Helper()
		srv := grpc.NewServer(
			grpc.UnaryInterceptor(verify.UnaryServerInterceptor(v, opts...)),
			grpc.StreamInterceptor(verify.StreamServerInterceptor(v, opts...)),
		)
		healthpb.RegisterHealthServer(srv, health.NewServer())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(srv.Stop)
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return healthpb.NewHealthClient(conn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token(t, k))

	protected := dial(t)
	if _, err := protected.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Check without a token: %v, want Unauthenticated", err)
	}
	if _, err := protected.Check(authed, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("Check with a token: %v", err)
	}
	watch := func(ctx context.Context, c healthpb.HealthClient) error {
		s, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	if err := watch(ctx, protected); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Watch without a token: %v, want Unauthenticated", err)
	}
	if err := watch(authed, protected); err != nil {
		t.Errorf("Watch with a token: %v", err)
	}

	open := dial(t, verify.SkipHealthAndReflection())
	if _, err := open.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("skipped Check without a token: %v", err)
	}
	if err := watch(ctx, open); err != nil {
		t.Errorf("skipped Watch without a token: %v", err)
	}
}
