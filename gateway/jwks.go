package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

const (
	// jwksTTL is how long the gateway and its clients keep the JWK Set.
	jwksTTL = 60 * time.Second
	// jwksFetchTimeout bounds one call to the auth service.
	jwksFetchTimeout = 5 * time.Second
)

// jwksCache keeps the auth service's JWK Set for a short while. The mutex
// is held across a refresh, so concurrent misses make one call.
type jwksCache struct {
	auth authv1.AuthServiceClient
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	doc     []byte
	expires time.Time
}

// get returns the JWK Set, refreshing it once it has expired. When a
// refresh fails it returns the error along with the previous document, if
// there is one, which the caller may still serve.
func (c *jwksCache) get(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc != nil && c.now().Before(c.expires) {
		return c.doc, nil
	}
	doc, err := c.fetch(ctx)
	if err != nil {
		return c.doc, err
	}
	c.doc, c.expires = doc, c.now().Add(c.ttl)
	return doc, nil
}

func (c *jwksCache) fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	resp, err := c.auth.GetJwks(ctx, &authv1.GetJwksRequest{})
	if err != nil {
		return nil, fmt.Errorf("fetching JWK Set: %w", err)
	}
	doc := resp.GetJwksJson()
	if !json.Valid(doc) {
		return nil, errors.New("fetching JWK Set: the auth service answered invalid JSON")
	}
	return doc, nil
}

// jwksHandler serves GET /.well-known/jwks.json (RFC 7517).
type jwksHandler struct {
	cache *jwksCache
	log   *slog.Logger
}

func newJWKSHandler(auth authv1.AuthServiceClient, log *slog.Logger) *jwksHandler {
	return &jwksHandler{cache: &jwksCache{auth: auth, ttl: jwksTTL, now: time.Now}, log: log}
}

func (h *jwksHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc, err := h.cache.get(r.Context())
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "JWK Set unavailable",
			slog.String("request_id", requestID(r.Context())),
			slog.Bool("serving_stale", doc != nil),
			slog.String("error", err.Error()))
		if doc == nil {
			writeJWKSError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(jwksTTL.Seconds())))
	_, _ = w.Write(doc) // the client is gone; nothing to do
}

func writeJWKSError(w http.ResponseWriter, err error) {
	w.Header().Set("Cache-Control", "no-store")
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, "service unavailable")
	default:
		writeStatus(w, http.StatusInternalServerError, codes.Internal, "internal error")
	}
}
