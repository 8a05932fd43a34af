package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	"github.com/chave/chave/services/internal/observe"
)

// Server is a running chave process: the all-in-one server or one of the
// services apart. It owns its listeners, its outgoing connections, its
// background loops and what they use; Stop ends them all.
type Server struct {
	log    *slog.Logger
	bg     sync.WaitGroup     // background loops (key reload, rotation, revocation keeper, health)
	bgCtx  context.Context    // their context
	stopBg context.CancelFunc // ends them

	grpc      *grpc.Server
	unary     []grpc.UnaryServerInterceptor // the gRPC server's chain, outermost first
	self      *selfConn                     // the all-in-one server's direct calls to itself
	health    *health.Server
	grpcLn    net.Listener
	selfLn    *bufconn.Listener // grpc's in-memory listener: the all-in-one server's calls to itself
	http      *http.Server      // the gateway (all-in-one and gateway)
	httpLn    net.Listener
	metrics   *http.Server // /metrics and /healthz of a service apart
	metricsLn net.Listener
	conns     []*grpc.ClientConn // to the other services, or to itself
	closers   []io.Closer        // the store, the revocation set: closed last
	tracing   *observe.Tracing   // flushed after the servers stopped

	issuer   string
	errs     chan error
	stopOnce sync.Once

	// Readiness (health.go): the dependencies' last answer, and whether
	// the server is draining.
	readyErr   atomic.Pointer[error]
	draining   atomic.Bool
	drainDelay time.Duration
	pprof      bool // /debug/pprof/ on the metrics listener
}

func newServer(log *slog.Logger) *Server {
	s := &Server{log: log, errs: make(chan error, 3), tracing: &observe.Tracing{}}
	s.bgCtx, s.stopBg = context.WithCancel(context.Background())
	return s
}

// HTTPAddr is the address the gateway listens on; empty without one.
func (s *Server) HTTPAddr() string { return lnAddr(s.httpLn) }

// GRPCAddr is the address the gRPC server listens on; empty without one.
func (s *Server) GRPCAddr() string { return lnAddr(s.grpcLn) }

// MetricsAddr is the address of the metrics listener; empty without one.
func (s *Server) MetricsAddr() string { return lnAddr(s.metricsLn) }

// Issuer is the iss of the tokens this server signs or accepts; empty for
// the gateway.
func (s *Server) Issuer() string { return s.issuer }

func lnAddr(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// Err receives the first error of a server that stopped on its own.
func (s *Server) Err() <-chan error { return s.errs }

// Stop stops the server: readiness turns NOT_SERVING (if Drain has not
// already turned it), then the HTTP and gRPC servers stop accepting and
// finish the requests and calls they hold until ctx ends (gRPC clients get
// a GOAWAY), then the background loops end and everything is closed.
func (s *Server) Stop(ctx context.Context) {
	s.stopOnce.Do(func() {
		s.beginDrain()
		var wg sync.WaitGroup
		for _, srv := range []*http.Server{s.http, s.metrics} {
			if srv != nil {
				wg.Go(func() {
					if err := srv.Shutdown(ctx); err != nil {
						srv.Close()
					}
				})
			}
		}
		if s.grpc != nil {
			wg.Go(func() {
				done := make(chan struct{})
				go func() { s.grpc.GracefulStop(); close(done) }()
				select {
				case <-done:
				case <-ctx.Done():
					s.grpc.Stop()
				}
			})
		}
		wg.Wait()
		if s.self != nil {
			// After the gateway finished its requests, which may call it.
			s.self.close()
		}
		s.stopBg()
		s.bg.Wait()
		for _, ln := range []net.Listener{s.httpLn, s.grpcLn, s.metricsLn} {
			if ln != nil {
				ln.Close()
			}
		}
		if s.selfLn != nil {
			s.selfLn.Close()
		}
		for _, c := range s.conns {
			c.Close()
		}
		for i := len(s.closers) - 1; i >= 0; i-- {
			s.closers[i].Close()
		}
		if err := s.tracing.Shutdown(ctx); err != nil {
			s.log.Warn("spans not flushed", "err", err)
		}
	})
}

// goBackground runs loop until Stop.
func (s *Server) goBackground(loop func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		loop(s.bgCtx)
	}()
}

// listen opens a TCP listener; errors name the flag.
func listen(flagName, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return ln, nil
}

// newMetrics returns the process's metrics registry, with the Go runtime
// and process collectors.
func newMetrics() *prometheus.Registry {
	m := prometheus.NewRegistry()
	m.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Keepalive between chave's services: clients ping an idle connection so a
// peer that vanished (a killed pod, a dropped route) is noticed, and
// servers accept those pings. Servers also end connections after a while,
// so that clients spread over replicas that were added since they
// connected.
const (
	clientKeepaliveTime    = 30 * time.Second
	clientKeepaliveTimeout = 10 * time.Second
	serverMinPingInterval  = 15 * time.Second
	maxConnectionAge       = 5 * time.Minute
	maxConnectionAgeGrace  = 30 * time.Second
	// redialMaxDelay caps the wait between two attempts to reconnect, so
	// that a restarted service is used again within seconds.
	redialMaxDelay = 3 * time.Second
	// windowSize is the HTTP/2 flow-control window of every stream and
	// connection between chave's services, fixed: chave's messages are a
	// few hundred bytes, and a fixed window turns off grpc-go's bandwidth
	// estimator, whose PING frames cost each side a write and a read
	// every few calls.
	windowSize = 1 << 20
)

// streamWorkers is how many goroutines of a gRPC server serve its calls
// (more calls at once get a goroutine each, as without workers): a worker
// keeps the stack a call grew, where a goroutine per call grows it anew
// every time (runtime.morestack was a tenth of the registry's CPU). At
// least 64, so that a service limited to one CPU (GOMAXPROCS 1) still
// serves a gateway's usual calls in flight on workers; an idle one costs
// only its stack.
func streamWorkers() uint32 { return uint32(max(64, 8*runtime.GOMAXPROCS(0))) }

// start runs build on a new Server of command (its configuration
// defaulted and validated) and starts serving once build has wired
// everything; if build fails, what it opened is closed again. attrs are
// logged once it serves.
func start(command string, p ProcessConfig, build func(s *Server) error, attrs ...any) (*Server, error) {
	p.Tracing.Service = "chave-" + command
	tracing, err := observe.NewTracing(context.Background(), p.Tracing)
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint: %w", err)
	}
	s := newServer(p.Logger)
	s.tracing = tracing
	s.drainDelay, s.pprof = p.ShutdownDrainDelay, p.PProf
	if err := build(s); err != nil {
		s.Stop(context.Background())
		return nil, err
	}
	s.serve()
	attrs = append([]any{"command", command}, attrs...)
	for _, a := range []struct{ k, v string }{{"http", s.HTTPAddr()}, {"grpc", s.GRPCAddr()}, {"metrics", s.MetricsAddr()}, {"issuer", s.issuer}} {
		if a.v != "" {
			attrs = append(attrs, a.k, a.v)
		}
	}
	p.Logger.Info("chave serving", attrs...)
	return s, nil
}

// listenGRPC opens the gRPC listener (addr) and its server, with chave's
// observability (recovery, metrics, logs) outermost, then the extra
// interceptors, and the standard health and reflection services.
func (s *Server) listenGRPC(addr string, metrics prometheus.Registerer, creds credentials.TransportCredentials, unary ...grpc.UnaryServerInterceptor) error {
	var err error
	if s.grpcLn, err = listen("--grpc-addr", addr); err != nil {
		return err
	}
	obs, err := observe.NewGRPC(metrics, s.log)
	if err != nil {
		return err
	}
	// One chain: the gRPC server runs it, and so do the all-in-one
	// server's calls to itself (selfconn.go).
	s.unary = obs.UnaryChain(unary)
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unary...),
		grpc.ChainStreamInterceptor(obs.StreamChain(nil)...),
	}, s.tracing.ServerOptions()...)
	opts = append(opts,
		grpc.Creds(creds),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: serverMinPingInterval, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: maxConnectionAge, MaxConnectionAgeGrace: maxConnectionAgeGrace}),
		grpc.InitialWindowSize(windowSize), grpc.InitialConnWindowSize(windowSize),
		grpc.NumStreamWorkers(streamWorkers()),
	)
	s.grpc = grpc.NewServer(opts...)
	s.self = newSelfConn(s.grpc, s.unary)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.registrar(), s.health)
	reflection.Register(s.grpc)
	return nil
}

// registrar is where services are registered: the gRPC server, through
// the direct connection that remembers them for the server's calls to
// itself. Call it after listenGRPC.
func (s *Server) registrar() grpc.ServiceRegistrar { return s.self }

// dial returns a connection to another chave service. It connects lazily
// and reconnects on its own; calls made while the service is unreachable
// fail at once with codes.Unavailable.
func (s *Server) dial(flagName, addr string, tlsCfg TLSConfig) (*grpc.ClientConn, error) {
	creds, err := tlsCfg.clientCredentials()
	if err != nil {
		return nil, err
	}
	opts := append(s.tracing.DialOptions(),
		grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: clientKeepaliveTime, Timeout: clientKeepaliveTimeout}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: redialMaxDelay},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithInitialWindowSize(windowSize), grpc.WithInitialConnWindowSize(windowSize),
	)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flagName, addr, err)
	}
	s.conns = append(s.conns, conn)
	return conn, nil
}

// selfBufferSize is the buffer of each in-memory connection to the
// server itself: as much as a loopback socket's, so that a burst of calls
// does not wait on the reader.
const selfBufferSize = 256 << 10

// dialSelf returns a connection to the process's own gRPC server. The
// calls run the server's interceptor chain and metrics, as any caller's
// do. Without tracing it is the direct connection (selfconn.go), which
// costs no HTTP/2 framing; with tracing it is an in-memory listener
// (bufconn) that serve serves like the network one, so that otelgrpc makes
// the client and server spans of the hop as it does across a network.
// Call it after listenGRPC and the services' registration.
func (s *Server) dialSelf() (grpc.ClientConnInterface, error) {
	if !s.tracing.Enabled() {
		return s.self, nil
	}
	return s.dialBufconn()
}

// dialBufconn returns a connection to the process's own gRPC server over
// an in-memory listener, which serve serves like the network one.
func (s *Server) dialBufconn() (*grpc.ClientConn, error) {
	s.selfLn = bufconn.Listen(selfBufferSize)
	opts := append(s.tracing.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.selfLn.DialContext(ctx) }),
	)
	conn, err := grpc.NewClient("passthrough:///chave-self", opts...)
	if err != nil {
		return nil, fmt.Errorf("in-process connection: %w", err)
	}
	s.conns = append(s.conns, conn)
	return conn, nil
}

// serve starts the servers' loops; call it last, once everything is wired.
func (s *Server) serve() {
	var grpcLns []net.Listener
	if s.grpc != nil {
		grpcLns = append(grpcLns, s.grpcLn)
		if s.selfLn != nil {
			grpcLns = append(grpcLns, s.selfLn)
		}
	}
	for _, ln := range grpcLns {
		go func() {
			// ErrServerStopped: Stop came before Serve began, which is a
			// shutdown, not a failure.
			if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				s.errs <- fmt.Errorf("gRPC: %w", err)
			}
		}()
	}
	for _, hs := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.http, s.httpLn}, {s.metrics, s.metricsLn}} {
		if hs.srv == nil {
			continue
		}
		hs.srv.Handler = s.closeWhileDraining(hs.srv.Handler)
		go func() {
			if err := hs.srv.Serve(hs.ln); !errors.Is(err, http.ErrServerClosed) {
				s.errs <- fmt.Errorf("HTTP: %w", err)
			}
		}()
	}
}

// newHTTPServer returns an HTTP server with chave's timeouts.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
}

// listenMetrics opens the metrics listener, apart from the public ports:
// /metrics for Prometheus, /healthz, which answers 200 while the process
// lives (a liveness probe), /readyz, which answers 200 while ready does (a
// readiness probe that works whatever the gRPC port's TLS), and, with
// --pprof, /debug/pprof/. ready nil means the server's readiness (s.ready).
func (s *Server) listenMetrics(addr string, metrics *prometheus.Registry, ready func(context.Context) error) error {
	ln, err := listen("--metrics-addr", addr)
	if err != nil {
		return err
	}
	s.metricsLn = ln
	if ready == nil {
		ready = s.ready
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok")) // the client is gone; nothing to do
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	if s.pprof {
		enableContentionProfiles()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.metrics = newHTTPServer(mux)
	return nil
}

// Sampling of the contention profiles --pprof turns on: one mutex
// contention event in mutexProfileFraction, and blocking events about one
// per blockProfileRate nanoseconds spent blocked. Both are cheap at these
// rates; without them /debug/pprof/mutex and /debug/pprof/block are empty.
const (
	mutexProfileFraction = 10
	blockProfileRate     = 100 * time.Microsecond
)

// enableContentionProfiles turns on the runtime's mutex and block
// profiles (process-wide settings, as the profiler itself is) so that a
// throughput that lags the CPU can be traced to a lock or a wait.
func enableContentionProfiles() {
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	runtime.SetBlockProfileRate(int(blockProfileRate.Nanoseconds()))
}

// hostPortFor keeps the configured host but takes the port the listener
// actually got (":0" in tests).
func hostPortFor(configured string, ln net.Listener) string {
	host, _, err := net.SplitHostPort(configured)
	if err != nil {
		return configured
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port)
}
