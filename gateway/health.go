package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// serveHealthz answers 200 while the process lives.
func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok")) // the client is gone; nothing to do
}

// readyzHandler answers 200 when ready reports no error within
// readyTimeout and 503 otherwise. The cause is logged, never answered: the
// gateway is the public edge.
func readyzHandler(ready func(context.Context) error, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if ready == nil {
			serveHealthz(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		err := ready(ctx)
		if err == nil {
			serveHealthz(w, r)
			return
		}
		reason := "a dependency is unavailable"
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			reason = "readiness check timed out"
		}
		log.LogAttrs(r.Context(), slog.LevelWarn, "not ready",
			slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		writeJSON(w, http.StatusServiceUnavailable, struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		}{"unavailable", reason})
	})
}
