package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	// wellKnownTTL is how long the gateway and its clients keep a
	// well-known document.
	wellKnownTTL = 60 * time.Second
	// wellKnownFetchTimeout bounds one call to the auth service.
	wellKnownFetchTimeout = 5 * time.Second
	// wellKnownRetry is how long a stale document is served after a failed
	// refresh before the next try.
	wellKnownRetry = 5 * time.Second
	// jwksTTL is how long the gateway itself keeps the JWK Set: a key an
	// emergency rotation makes sign at once is served within it (plus the
	// auth service's poll of the database), so that a verifier that meets
	// the new kid and fetches again finds it. The auth service answers
	// from memory: a short cache costs one cheap call every few seconds.
	jwksTTL = 5 * time.Second
)

// docCache keeps a document built from the auth service for a short while.
// The mutex is held across a refresh, so concurrent misses make one call.
type docCache struct {
	fetch func(context.Context) ([]byte, error)
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	doc     []byte
	expires time.Time
}

func newDocCache(fetch func(context.Context) ([]byte, error), ttl time.Duration) *docCache {
	return &docCache{fetch: fetch, ttl: ttl, now: time.Now}
}

// get returns the document, refreshing it once it has expired. When a
// refresh fails it returns the error along with the previous document, if
// there is one, which the caller may still serve.
func (c *docCache) get(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc != nil && c.now().Before(c.expires) {
		return c.doc, nil
	}
	ctx, cancel := context.WithTimeout(ctx, wellKnownFetchTimeout)
	defer cancel()
	doc, err := c.fetch(ctx)
	if err != nil {
		if c.doc != nil {
			// Serve the stale document for a while rather than queue every
			// request behind another fetch from an auth service in trouble.
			c.expires = c.now().Add(wellKnownRetry)
		}
		return c.doc, err
	}
	c.doc, c.expires = doc, c.now().Add(c.ttl)
	return doc, nil
}

// wellKnownHandler serves a cached public document, a stale one while the
// auth service cannot refresh it.
type wellKnownHandler struct {
	name        string // for the logs
	contentType string
	cache       *docCache
	log         *slog.Logger
}

func newWellKnownHandler(name, contentType string, fetch func(context.Context) ([]byte, error), log *slog.Logger) *wellKnownHandler {
	return &wellKnownHandler{name: name, contentType: contentType, cache: newDocCache(fetch, wellKnownTTL), log: log}
}

func (h *wellKnownHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc, err := h.cache.get(r.Context())
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, h.name+" unavailable",
			slog.String("request_id", requestID(r.Context())),
			slog.Bool("serving_stale", doc != nil),
			slog.String("error", err.Error()))
		if doc == nil {
			writeWellKnownError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", h.contentType)
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(wellKnownTTL.Seconds())))
	_, _ = w.Write(doc) // the client is gone; nothing to do
}

func writeWellKnownError(w http.ResponseWriter, err error) {
	w.Header().Set("Cache-Control", "no-store")
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, "service unavailable")
	default:
		writeStatus(w, http.StatusInternalServerError, codes.Internal, "internal error")
	}
}
