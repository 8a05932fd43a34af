package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// The admin console answers at / and under /console/ only; every other
// path, and any other method on /, still gets the REST API's JSON answer.
func TestConsoleRoutes(t *testing.T) {
	h := newHarness(t, nil)
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

	resp, body := h.do(t, "GET", "/", nil, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `<script type="module" src="/console/js/app.js">`) {
		t.Fatalf("GET /: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != csp {
		t.Errorf("GET / CSP = %q", got)
	}
	if resp, _ := h.do(t, "HEAD", "/", nil, ""); resp.StatusCode != 200 {
		t.Errorf("HEAD /: %d", resp.StatusCode)
	}
	if resp, _ := h.do(t, "GET", "/console/js/app.js", nil, ""); resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /console/js/app.js: %d %v", resp.StatusCode, resp.Header)
	}

	for _, tt := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"GET", "/index.html"},
		{"GET", "/v1/nope"},
		{"POST", "/"},
		{"DELETE", "/"},
	} {
		resp, body := h.do(t, tt.method, tt.path, nil, "")
		if resp.StatusCode < 400 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"code"`) {
			t.Errorf("%s %s: %d %q %s, want the REST API's JSON error", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if resp.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("%s %s was served by the console", tt.method, tt.path)
		}
	}

	// The REST API is undisturbed.
	resp, body = h.do(t, "GET", "/v1/tokens/tok_1", http.Header{"Authorization": {"Bearer x"}}, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"displayName":"Financeiro"`) {
		t.Errorf("GET /v1/tokens/tok_1: %d %s", resp.StatusCode, body)
	}
}
