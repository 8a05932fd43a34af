// Package observe instruments chave's servers: Prometheus metrics and
// structured logs for every gRPC call, and panic recovery. Each service
// process builds one GRPC and passes its options to grpc.NewServer.
package observe

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// GRPC holds the gRPC server metrics of one process.
type GRPC struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	log      *slog.Logger

	// methods caches each method's series (*methodSeries by full method
	// name), so that a call hashes no label values: the methods are the
	// registered ones, at most maxCachedMethods of them are kept.
	methods sync.Map
	mu      sync.Mutex
	cached  int
}

// maxCachedMethods bounds GRPC.methods; a method past it is counted
// without a cache.
const maxCachedMethods = 256

// methodSeries are one method's series: its latency and its OK count (the
// other codes are looked up when they happen).
type methodSeries struct {
	service, method string
	ok              prometheus.Counter
	duration        prometheus.Observer
}

func (g *GRPC) seriesOf(fullMethod string) *methodSeries {
	if s, ok := g.methods.Load(fullMethod); ok {
		return s.(*methodSeries)
	}
	service, method := splitMethod(fullMethod)
	s := &methodSeries{
		service:  service,
		method:   method,
		ok:       g.handled.WithLabelValues(service, method, codes.OK.String()),
		duration: g.duration.WithLabelValues(service, method),
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cached < maxCachedMethods {
		if prev, loaded := g.methods.LoadOrStore(fullMethod, s); loaded {
			return prev.(*methodSeries)
		}
		g.cached++
	}
	return s
}

// NewGRPC registers the gRPC server metrics on reg (nil: not exported).
func NewGRPC(reg prometheus.Registerer, log *slog.Logger) (*GRPC, error) {
	g := &GRPC{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chave_grpc_server_handled_total",
			Help: "gRPC calls completed, by service, method and status code.",
		}, []string{"service", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chave_grpc_server_handling_seconds",
			Help:    "gRPC call latency, by service and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"service", "method"}),
		log: log,
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{g.handled, g.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("observe: %w", err)
			}
		}
	}
	return g, nil
}

// ServerOptions returns the interceptors (outermost first: recovery, then
// metrics and logs), chained before the extra ones the caller adds.
func (g *GRPC) ServerOptions(unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(g.UnaryChain(unary)...),
		grpc.ChainStreamInterceptor(g.StreamChain(stream)...),
	}
}

// UnaryChain is the unary interceptors ServerOptions installs, outermost
// first: chave's observability, then unary. A caller that runs handlers
// without a grpc.Server (the all-in-one server's calls to itself) runs
// this same slice.
func (g *GRPC) UnaryChain(unary []grpc.UnaryServerInterceptor) []grpc.UnaryServerInterceptor {
	return append([]grpc.UnaryServerInterceptor{g.unary}, unary...)
}

// StreamChain is the stream interceptors ServerOptions installs,
// outermost first.
func (g *GRPC) StreamChain(stream []grpc.StreamServerInterceptor) []grpc.StreamServerInterceptor {
	return append([]grpc.StreamServerInterceptor{g.stream}, stream...)
}

func (g *GRPC) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			g.log.ErrorContext(ctx, "panic in gRPC handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
		g.done(ctx, info.FullMethod, start, err)
	}()
	return handler(ctx, req)
}

func (g *GRPC) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			g.log.ErrorContext(ss.Context(), "panic in gRPC stream handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
		g.done(ss.Context(), info.FullMethod, start, err)
	}()
	return handler(srv, ss)
}

// done records the call and logs it: failures the server caused at Warn,
// everything else at Debug. Never the request or its metadata beyond the
// request id.
func (g *GRPC) done(ctx context.Context, fullMethod string, start time.Time, err error) {
	s := g.seriesOf(fullMethod)
	code := status.Code(err)
	elapsed := time.Since(start)
	if code == codes.OK {
		s.ok.Inc()
	} else {
		g.handled.WithLabelValues(s.service, s.method, code.String()).Inc()
	}
	s.duration.Observe(elapsed.Seconds())
	level := slog.LevelDebug
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unavailable, codes.DeadlineExceeded:
		level = slog.LevelWarn
	}
	if g.log.Enabled(ctx, level) { // the hot path builds no attributes for nothing
		g.log.LogAttrs(ctx, level, "grpc call", slog.String("method", fullMethod), slog.String("code", code.String()),
			slog.Duration("duration", elapsed), slog.String("request_id", RequestID(ctx)))
	}
}

// RequestID returns the x-request-id the gateway forwarded, if any.
func RequestID(ctx context.Context) string {
	// The one key, without copying the whole metadata.
	if v := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(v) == 1 && len(v[0]) <= 64 {
		return v[0]
	}
	return ""
}

func splitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}
