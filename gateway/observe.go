package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// unmatchedRoute labels requests no route served, so that random paths do
// not grow the metrics' label sets.
const unmatchedRoute = "unmatched"

// requestStateKey is the context key of a request's *requestState.
type requestStateKey struct{}

// requestState is what the gateway's middleware learns about a request,
// in one context value (one allocation, one lookup): observe assigns the
// id, withClientAddress fills in the client's address, and whichever
// handler serves the request names its route, which observe reads once
// that handler has returned. Only the request's own goroutine touches it.
type requestState struct {
	id         string
	route      string
	clientAddr string // "" when unknown
}

func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// requestID returns the request id observe assigned, or "".
func requestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// setRoute names the route pattern serving the request.
func setRoute(ctx context.Context, pattern string) {
	if st := stateOf(ctx); st != nil {
		st.route = pattern
	}
}

// httpMetrics counts and times requests by method, route and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// series caches the two series of each (method, route, code) seen, so
	// that a request hashes no label values; the three are bounded (the
	// methods HTTP defines, the route patterns, the codes handlers write)
	// and so is the cache, past maxCachedSeries.
	series sync.Map // seriesKey → httpSeries
	mu     sync.Mutex
	cached int
}

// maxCachedSeries bounds httpMetrics.series.
const maxCachedSeries = 1024

type seriesKey struct {
	method, route string
	code          int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	labels := []string{"method", "route", "code"}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "chave",
			Subsystem: "gateway",
			Name:      "http_requests_total",
			Help:      "HTTP requests served, by method, route pattern and status code.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "chave",
			Subsystem: "gateway",
			Name:      "http_request_duration_seconds",
			Help:      "HTTP request latency, by method, route pattern and status code.",
			Buckets:   prometheus.DefBuckets,
		}, labels),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering HTTP metrics: %w", err)
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(method, route string, code int, elapsed time.Duration) {
	s := m.seriesOf(seriesKey{method, route, code})
	s.requests.Inc()
	s.duration.Observe(elapsed.Seconds())
}

func (m *httpMetrics) seriesOf(k seriesKey) httpSeries {
	if s, ok := m.series.Load(k); ok {
		return s.(httpSeries)
	}
	c := strconv.Itoa(k.code)
	s := httpSeries{
		requests: m.requests.WithLabelValues(k.method, k.route, c),
		duration: m.duration.WithLabelValues(k.method, k.route, c),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cached < maxCachedSeries {
		if _, loaded := m.series.LoadOrStore(k, s); !loaded {
			m.cached++
		}
	}
	return s
}

// observe assigns the request id, records metrics and writes the access
// log. It never logs headers, bodies or query strings: they carry secrets
// and tokens.
func observe(next http.Handler, metrics *httpMetrics, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := saneRequestID(r.Header.Values("X-Request-Id"))
		// What the services receive (the REST mux forwards the header, the
		// auth connection's forwarder the state's id) and what the client
		// reads back: one slice, which no one writes into.
		idValue := []string{id}
		r.Header["X-Request-Id"] = idValue
		h := w.Header()
		h["X-Request-Id"] = idValue
		h["X-Content-Type-Options"] = nosniffValue

		st := &requestState{id: id, route: unmatchedRoute}
		ctx := context.WithValue(r.Context(), requestStateKey{}, st)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))

		elapsed := time.Since(start)
		metrics.observe(methodLabel(r.Method), st.route, rec.status, elapsed)
		if log.Enabled(ctx, slog.LevelInfo) {
			log.LogAttrs(ctx, slog.LevelInfo, "http request",
				slog.String("method", r.Method),
				slog.String("route", st.route),
				slog.Int("status", rec.status),
				slog.Duration("duration", elapsed),
				slog.String("request_id", id))
		}
	})
}

// Header values the gateway sets on every answer, shared: net/http only
// reads them, and each is its own full slice (len = cap), so that an Add
// copies instead of writing into it.
var (
	nosniffValue    = []string{"nosniff"}[:1:1]
	noStoreValue    = []string{"no-store"}[:1:1]
	noCacheValue    = []string{"no-cache"}[:1:1]
	jsonContentType = []string{"application/json"}[:1:1]
)

// saneRequestID keeps a client's single X-Request-Id when it is a short
// token of safe characters and makes up a random one otherwise.
func saneRequestID(vals []string) string {
	if len(vals) == 1 && isSaneRequestID(vals[0]) {
		return vals[0]
	}
	return rand.Text()
}

func isSaneRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// methodLabel bounds the method label to the methods HTTP defines.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote && code >= 200 {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Flush keeps streaming responses working through the recorder.
func (s *statusRecorder) Flush() {
	_ = http.NewResponseController(s.ResponseWriter).Flush() // not every writer flushes
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
