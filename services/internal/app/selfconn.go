package app

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chave/chave/services/internal/auth"
)

// selfConn is the all-in-one server's direct connection to its own gRPC
// services: a grpc.ServiceRegistrar that registers each service on the
// gRPC server and remembers its unary methods, and a
// grpc.ClientConnInterface that calls them without HTTP/2 framing or
// goroutine hand-offs. A call runs the gRPC server's own interceptor chain
// (the same slice, Server.unary), copies its messages as the wire would,
// turns the caller's outgoing metadata into the handler's incoming
// metadata, gives the handler a grpc.ServerTransportStream so that
// SetHeader, SendHeader and SetTrailer reach the caller's grpc.Header and
// grpc.Trailer options, and names an in-process peer
// (auth.InProcessNetwork): only code of this process can make such a call,
// as only it could open a bufconn connection.
//
// Tracing needs the client and server spans otelgrpc makes on a real
// connection; with tracing on, dialSelf uses bufconn instead.
type selfConn struct {
	srv     *grpc.Server
	chain   grpc.UnaryServerInterceptor
	methods map[string]selfMethod
	closed  atomic.Bool
}

type selfMethod struct {
	impl    any
	handler grpc.MethodHandler
}

var (
	_ grpc.ServiceRegistrar    = (*selfConn)(nil)
	_ grpc.ClientConnInterface = (*selfConn)(nil)
)

// inProcessAddr is the peer address of a direct call.
type inProcessAddr struct{}

func (inProcessAddr) Network() string { return auth.InProcessNetwork }
func (inProcessAddr) String() string  { return "chave-self" }

var _ net.Addr = inProcessAddr{}

// selfPeer is the peer of every direct call, shared: gRPC code reads a
// peer and never writes it.
var selfPeer = &peer.Peer{Addr: inProcessAddr{}, LocalAddr: inProcessAddr{}}

func newSelfConn(srv *grpc.Server, chain []grpc.UnaryServerInterceptor) *selfConn {
	return &selfConn{srv: srv, chain: chainUnary(chain), methods: map[string]selfMethod{}}
}

// RegisterService registers sd on the gRPC server and its unary methods
// for direct calls. Register every service before the first call.
func (c *selfConn) RegisterService(sd *grpc.ServiceDesc, impl any) {
	c.srv.RegisterService(sd, impl)
	for _, m := range sd.Methods {
		c.methods["/"+sd.ServiceName+"/"+m.MethodName] = selfMethod{impl: impl, handler: m.Handler}
	}
}

// close makes later calls fail with codes.Unavailable, as calls to a
// stopped gRPC server do.
func (c *selfConn) close() { c.closed.Store(true) }

// Invoke implements grpc.ClientConnInterface.
func (c *selfConn) Invoke(ctx context.Context, fullMethod string, args, reply any, opts ...grpc.CallOption) error {
	if c.closed.Load() {
		return status.Error(codes.Unavailable, "in-process connection: server stopped")
	}
	m, ok := c.methods[fullMethod]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", fullMethod)
	}
	in, ok := args.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok || !ok2 {
		return status.Errorf(codes.Internal, "in-process connection: %s: messages must be protobuf", fullMethod)
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	// The handler sees what the caller sent as incoming metadata (a copy:
	// FromOutgoingContext makes one), sends nothing onwards unless it says
	// so, and its peer is this process.
	md, _ := metadata.FromOutgoingContext(ctx)
	stream := &selfStream{method: fullMethod}
	sctx := metadata.NewOutgoingContext(metadata.NewIncomingContext(ctx, md), nil)
	sctx = peer.NewContext(sctx, selfPeer)
	sctx = grpc.NewContextWithServerTransportStream(sctx, stream)
	dec := func(v any) error {
		dst, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("in-process connection: %s: request is not protobuf", fullMethod)
		}
		proto.Merge(dst, in)
		return nil
	}
	resp, err := m.handler(m.impl, sctx, dec, c.chain)
	stream.deliver(opts)
	if err != nil {
		return status.Convert(err).Err()
	}
	r, ok := resp.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "in-process connection: %s: response is not protobuf", fullMethod)
	}
	proto.Reset(out)
	proto.Merge(out, r)
	return nil
}

// NewStream implements grpc.ClientConnInterface: nothing `chave serve`
// calls on itself streams (the gateway's methods are all unary).
func (c *selfConn) NewStream(_ context.Context, _ *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Errorf(codes.Unimplemented, "in-process connection: %s: streams are not carried in process", method)
}

// selfStream is the grpc.ServerTransportStream of a direct call: it
// collects the header and trailer the handler sets.
type selfStream struct {
	method string
	mu     sync.Mutex
	header metadata.MD
	sent   bool
	trail  metadata.MD
}

func (s *selfStream) Method() string { return s.method }

func (s *selfStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return status.Error(codes.Internal, "transport: the stream is done or WriteHeader was already called")
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *selfStream) SendHeader(md metadata.MD) error {
	if err := s.SetHeader(md); err != nil {
		return err
	}
	s.mu.Lock()
	s.sent = true
	s.mu.Unlock()
	return nil
}

func (s *selfStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trail = metadata.Join(s.trail, md)
	return nil
}

// deliver fills the caller's grpc.Header, grpc.Trailer and grpc.Peer
// options, as a client connection does once the call ends.
func (s *selfStream) deliver(opts []grpc.CallOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = true
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = s.header.Copy()
		case grpc.TrailerCallOption:
			*o.TrailerAddr = s.trail.Copy()
		case grpc.PeerCallOption:
			*o.PeerAddr = *selfPeer
		}
	}
}

// chainUnary composes interceptors, the first outermost, as
// grpc.ChainUnaryInterceptor does.
func chainUnary(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return chainedHandler(interceptors, 0, info, handler)(ctx, req)
	}
}

func chainedHandler(interceptors []grpc.UnaryServerInterceptor, i int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	if i == len(interceptors) {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return interceptors[i](ctx, req, info, chainedHandler(interceptors, i+1, info, final))
	}
}
