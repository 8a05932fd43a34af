// Package inprocess calls gRPC services registered in the same process
// without a network: a Channel is both a grpc.ServiceRegistrar and a
// grpc.ClientConnInterface. Calls still run the given server interceptors
// (authentication, metrics, recovery), copy every message as the wire
// would, and see only the metadata the caller sent, so a service cannot
// tell an in-process call from a network one. The all-in-one server uses it
// for the two hops of every grant.
package inprocess

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

type method struct {
	impl    any
	handler grpc.MethodHandler
}

// Channel dispatches unary calls to registered services. Register every
// service before the first call; it is then safe for concurrent use.
type Channel struct {
	interceptor grpc.UnaryServerInterceptor
	methods     map[string]method
}

var (
	_ grpc.ServiceRegistrar    = (*Channel)(nil)
	_ grpc.ClientConnInterface = (*Channel)(nil)
)

// New returns a Channel whose calls run the interceptors, outermost first,
// as grpc.ChainUnaryInterceptor would.
func New(interceptors ...grpc.UnaryServerInterceptor) *Channel {
	return &Channel{interceptor: chain(interceptors), methods: map[string]method{}}
}

// RegisterService implements grpc.ServiceRegistrar (unary methods only).
func (c *Channel) RegisterService(sd *grpc.ServiceDesc, impl any) {
	for _, m := range sd.Methods {
		c.methods["/"+sd.ServiceName+"/"+m.MethodName] = method{impl: impl, handler: m.Handler}
	}
}

// Invoke implements grpc.ClientConnInterface. Call options (headers,
// trailers, compression) have nothing to act on and are ignored.
func (c *Channel) Invoke(ctx context.Context, fullMethod string, args, reply any, _ ...grpc.CallOption) error {
	m, ok := c.methods[fullMethod]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", fullMethod)
	}
	in, ok := args.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok || !ok2 {
		return status.Errorf(codes.Internal, "inprocess: %s: messages must be protobuf", fullMethod)
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	// The server sees what the client sent as incoming metadata, and sends
	// nothing onwards unless it says so, exactly as across a network.
	md, _ := metadata.FromOutgoingContext(ctx)
	sctx := metadata.NewOutgoingContext(metadata.NewIncomingContext(ctx, md.Copy()), metadata.MD{})
	dec := func(v any) error {
		dst, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("inprocess: %s: request is not protobuf", fullMethod)
		}
		proto.Merge(dst, in)
		return nil
	}
	resp, err := m.handler(m.impl, sctx, dec, c.interceptor)
	if err != nil {
		return status.Convert(err).Err()
	}
	r, ok := resp.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "inprocess: %s: response is not protobuf", fullMethod)
	}
	proto.Reset(out)
	proto.Merge(out, r)
	return nil
}

// NewStream implements grpc.ClientConnInterface: streams are not carried.
func (c *Channel) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "inprocess: streams are not supported")
}

// chain composes interceptors, the first outermost.
func chain(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		next := handler
		for i := len(interceptors) - 1; i >= 0; i-- {
			ic, h := interceptors[i], next
			next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, h) }
		}
		return next(ctx, req)
	}
}
