// Package gateway is chave's HTTP edge. It serves the registry's JSON REST
// API through grpc-gateway, the OAuth 2.0 endpoints (token, revocation,
// introspection, server metadata, JWKS), the TSS-compatible token endpoint
// and the health probes, and talks to the registry and auth services over the
// gRPC connections it is given. It holds no database handle and no private
// key.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/chave/chave/gateway/console"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// Config is what New needs.
type Config struct {
	// Registry reaches chave.registry.v1.RegistryService. Required.
	Registry grpc.ClientConnInterface
	// Auth reaches chave.auth.v1.AuthService. Required.
	Auth grpc.ClientConnInterface
	// Logger receives the access log and the causes of internal errors.
	// Nil discards them.
	Logger *slog.Logger
	// Ready reports whether the dependencies the process needs are
	// reachable; GET /readyz calls it with a context that ends after a short
	// timeout, which it must honour. Nil means always ready.
	Ready func(context.Context) error
	// Registerer, when set, receives the HTTP request metrics.
	Registerer prometheus.Registerer
	// TrustedProxies are the proxies (load balancers, ingress) whose
	// X-Forwarded-For names the client; none by default: the client is the
	// peer. The client's address reaches the auth service, which throttles
	// failed client authentications per address.
	TrustedProxies []netip.Prefix
}

// New returns the gateway's HTTP handler. ctx bounds the registration of
// the grpc-gateway routes; the handler itself uses each request's context.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	if cfg.Registry == nil || cfg.Auth == nil {
		return nil, errors.New("gateway: Registry and Auth connections are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	metrics, err := newHTTPMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	rest, err := newREST(ctx, registryv1.NewRegistryServiceClient(cfg.Registry), registryv1.NewLeakServiceClient(cfg.Registry), log)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	openAPI, err := newOpenAPIHandler()
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	auth := authv1.NewAuthServiceClient(forwardClientAddress(cfg.Auth))
	oauth := &oauthEndpoints{auth: auth, log: log}

	mux := http.NewServeMux()
	// The POST endpoints check the method themselves, so that a 405 keeps
	// their error shape.
	route(mux, tokenPath, http.HandlerFunc(oauth.serveToken))
	route(mux, revokePath, http.HandlerFunc(oauth.serveRevoke))
	route(mux, introspectPath, http.HandlerFunc(oauth.serveIntrospect))
	route(mux, tssPath, http.HandlerFunc(oauth.serveTSS))
	route(mux, jwksPath, onlyGet(newJWKSHandler(auth, log)))
	route(mux, metadataPath, onlyGet(newMetadataHandler(auth, log)))
	route(mux, "/healthz", onlyGet(http.HandlerFunc(serveHealthz)))
	route(mux, "/readyz", onlyGet(readyzHandler(cfg.Ready, log)))
	route(mux, "/openapi.json", onlyGet(openAPI))
	routeConsole(mux, console.Handler())
	mux.Handle("/", rest) // the REST mux labels its own routes

	return observe(canonicalPath(withClientAddress(mux, cfg.TrustedProxies)), metrics, log), nil
}

// canonicalPath rewrites any capitalisation of the TSS endpoint's path to
// tssPath before routing: docs/spec.md §3.3 matches it case-insensitively.
func canonicalPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tssPath && strings.EqualFold(r.URL.Path, tssPath) {
			u := *r.URL
			u.Path, u.RawPath = tssPath, ""
			r2 := new(http.Request)
			*r2 = *r
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// route registers h for the exact path and labels the request's metrics
// and access log with that path.
func route(mux *http.ServeMux, path string, h http.Handler) {
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(r.Context(), path)
		h.ServeHTTP(w, r)
	}))
}

// onlyGet answers 405 to anything but GET and HEAD.
func onlyGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented, "method not allowed")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// routeConsole serves the admin console (docs/spec.md §3.4): its page at exactly /
// and its assets under /console/, for GET and HEAD only; every other path,
// and any other method on /, still reaches the REST mux and its JSON 404.
func routeConsole(mux *http.ServeMux, h http.Handler) {
	for _, path := range []string{"/{$}", console.AssetPrefix} {
		label := strings.TrimSuffix(path, "{$}")
		mux.Handle("GET "+path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), label)
			h.ServeHTTP(w, r)
		}))
	}
}
