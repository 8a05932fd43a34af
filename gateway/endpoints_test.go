package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/gateway"
)

func TestJWKSIsCached(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 2 {
		resp, body := h.do(t, http.MethodGet, "/.well-known/jwks.json", nil, "")
		if resp.StatusCode != http.StatusOK || string(body) != `{"keys":[]}` {
			t.Fatalf("call %d: status %d, body %s", i, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != "application/jwk-set+json" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=60" {
			t.Errorf("Cache-Control = %q", got)
		}
	}
	if n := h.auth.jwksCallCount(); n != 1 {
		t.Errorf("auth service GetJwks called %d times, want 1 (second call from cache)", n)
	}
	resp, _ := h.do(t, http.MethodPost, "/.well-known/jwks.json", nil, "")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", resp.StatusCode)
	}
}

func TestJWKSAuthUnreachable(t *testing.T) {
	h := newHarness(t, func(cfg *gateway.Config) { cfg.Auth = dial(t, closedAddr(t)) })
	resp, body := h.do(t, http.MethodGet, "/.well-known/jwks.json", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503 (body %s)", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("body leaks the address: %s", body)
	}
}

func TestHealth(t *testing.T) {
	var (
		mu          sync.Mutex
		readyErr    error
		sawDeadline bool
	)
	h := newHarness(t, func(cfg *gateway.Config) {
		cfg.Ready = func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			deadline, ok := ctx.Deadline()
			sawDeadline = ok && time.Until(deadline) <= 2*time.Second
			return readyErr
		}
	})

	resp, body := h.do(t, http.MethodGet, "/healthz", nil, "")
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("healthz: %d %q, want 200 ok", resp.StatusCode, body)
	}
	resp, body = h.do(t, http.MethodGet, "/readyz", nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: %d %s, want 200", resp.StatusCode, body)
	}
	mu.Lock()
	if !sawDeadline {
		t.Error("Ready got no deadline of at most 2s")
	}
	readyErr = errors.New("postgres at 10.0.0.9: connection refused")
	mu.Unlock()
	resp, body = h.do(t, http.MethodGet, "/readyz", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz: %d, want 503", resp.StatusCode)
	}
	got := decodeObject(t, body)
	if got["reason"] == "" || strings.Contains(string(body), "10.0.0.9") {
		t.Errorf("readyz body = %s, want a short reason without internals", body)
	}
	resp, _ = h.do(t, http.MethodGet, "/healthz", nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz while not ready: %d, want 200", resp.StatusCode)
	}
}

func TestReadyzDefaultsToReady(t *testing.T) {
	h := newHarness(t, nil)
	if resp, body := h.do(t, http.MethodGet, "/readyz", nil, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: %d %s, want 200", resp.StatusCode, body)
	}
}

func TestOpenAPI(t *testing.T) {
	h := newHarness(t, nil)
	resp, body := h.do(t, http.MethodGet, "/openapi.json", nil, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Swagger string         `json:"swagger"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Swagger != "2.0" || doc.Paths["/v1/tokens"] == nil {
		t.Errorf("not the OpenAPI document (err %v): %.200s", err, body)
	}
}

func TestRequestID(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{"sane", "abc-123_X.y", true},
		{"too long", strings.Repeat("a", 65), false},
		{"unsafe characters", "a b\"c", false},
		{"absent", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header http.Header
			if tt.sent != "" {
				header = http.Header{"X-Request-Id": {tt.sent}}
			}
			resp, _ := h.do(t, http.MethodGet, "/healthz", header, "")
			got := resp.Header.Get("X-Request-Id")
			if tt.keep && got != tt.sent {
				t.Errorf("X-Request-Id = %q, want %q", got, tt.sent)
			}
			if !tt.keep && (got == "" || got == tt.sent) {
				t.Errorf("X-Request-Id = %q, want a fresh id", got)
			}
			if !strings.Contains(h.logs.String(), "request_id="+got) {
				t.Errorf("access log lacks request id %q", got)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(cfg *gateway.Config) { cfg.Registerer = reg })
	h.do(t, http.MethodGet, "/v1/tokens/tok_1", nil, "")
	h.do(t, http.MethodGet, "/v1/tokens/tok_2", nil, "")
	h.do(t, http.MethodGet, "/healthz", nil, "")
	h.do(t, http.MethodGet, "/no/such/path", nil, "")

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	counts := map[string]float64{}
	sawHistogram := false
	for _, f := range families {
		switch f.GetName() {
		case "chave_gateway_http_requests_total":
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				counts[labels["method"]+" "+labels["route"]+" "+labels["code"]] += m.GetCounter().GetValue()
			}
		case "chave_gateway_http_request_duration_seconds":
			sawHistogram = true
		}
	}
	for key, want := range map[string]float64{
		"GET /v1/tokens/{id=*} 200": 2,
		"GET /healthz 200":          1,
		"GET unmatched 404":         1,
	} {
		if counts[key] != want {
			t.Errorf("requests{%s} = %v, want %v (all: %v)", key, counts[key], want, counts)
		}
	}
	if !sawHistogram {
		t.Error("no latency histogram")
	}

	// A second gateway on the same registry is a configuration error.
	if _, err := gateway.New(t.Context(), gateway.Config{Registry: dial(t, closedAddr(t)), Auth: dial(t, closedAddr(t)), Registerer: reg}); err == nil {
		t.Error("New registered the same metrics twice without an error")
	}
}

func TestNewRequiresConnections(t *testing.T) {
	if _, err := gateway.New(t.Context(), gateway.Config{}); err == nil {
		t.Error("New without connections: no error")
	}
}
