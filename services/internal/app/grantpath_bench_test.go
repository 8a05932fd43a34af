package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// benchResponse is a minimal http.ResponseWriter for in-process benchmarks:
// what httptest.ResponseRecorder does without its copies.
type benchResponse struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *benchResponse) Header() http.Header         { return w.h }
func (w *benchResponse) WriteHeader(code int)        { w.status = code }
func (w *benchResponse) Write(b []byte) (int, error) { return w.body.Write(b) }

func (w *benchResponse) reset() {
	clear(w.h)
	w.status = http.StatusOK
	w.body.Reset()
}

// BenchmarkGrantPathInProcess is one client-credentials grant through
// serve's HTTP handler, called in-process (no socket, no HTTP parsing):
// the gateway's middleware and endpoint, the self connection, the
// interceptor chain, the grant, the store read and the ES256 signature.
// It isolates what chave adds around the grant from the load generator.
func BenchmarkGrantPathInProcess(b *testing.B) {
	srv, id, secret := startBenchServe(b)
	h := srv.http.Handler
	for _, ep := range []struct {
		name, path, ctype, body string
		basic                   bool
	}{
		{"oauth2-token", "/oauth2/token", "application/x-www-form-urlencoded", url.Values{"grant_type": {"client_credentials"}}.Encode(), true},
		{"tss", "/rest/WSTSSAUTH", "application/json", `{"grantType":1,"clientId":` + jsonString(id) + `,"clientSecret":` + jsonString(secret) + `}`, false},
	} {
		b.Run(ep.name, func(b *testing.B) {
			basic := "Basic " + basicValue(id, secret)
			b.ReportAllocs()
			reportCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				w := &benchResponse{h: http.Header{}}
				for pb.Next() {
					w.reset()
					r, _ := http.NewRequest(http.MethodPost, ep.path, strings.NewReader(ep.body))
					r.RemoteAddr = "127.0.0.1:40000"
					r.Header.Set("Content-Type", ep.ctype)
					if ep.basic {
						r.Header.Set("Authorization", basic)
					}
					h.ServeHTTP(w, r)
					if w.status != http.StatusOK {
						b.Fatalf("%s: status %d: %s", ep.path, w.status, w.body.String())
					}
				}
			})
		})
	}
}

func startBenchServe(b *testing.B) (*Server, string, string) {
	b.Helper()
	var stdout bytes.Buffer
	srv, err := Start(context.Background(), Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(b.TempDir(), "chave.db"),
		PrintBootstrapCredential: true, Stdout: &stdout, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop(context.Background()) })
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil {
		b.Fatal(err)
	}
	return srv, cred.ClientID, cred.ClientSecret
}

func jsonString(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}

func basicValue(id, secret string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	v := r.Header.Get("Authorization")
	return strings.TrimPrefix(v, "Basic ")
}

// reportCPU reports the process's CPU time (user and system, processCPU)
// per operation from when it is called to the end of the benchmark: on a
// shared machine it moves less than the wall time ns/op is.
func reportCPU(b *testing.B) {
	start := processCPU(b)
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
		}
	})
}
