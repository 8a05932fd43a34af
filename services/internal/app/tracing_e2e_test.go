package app

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/chave/chave/services/internal/observe"
)

// spanCollector is a real OTLP/gRPC endpoint that keeps each span's name
// and trace.
type spanCollector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]string // trace id → span names
}

func (c *spanCollector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				id := hex.EncodeToString(s.GetTraceId())
				c.spans[id] = append(c.spans[id], s.GetName())
			}
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

// TestServeTracesAGrantAcrossItsParts: in `chave serve` a grant is one
// trace through the gateway, the auth service (over the in-memory
// connection, client and server spans as between the services apart) and
// the registry.
func TestServeTracesAGrantAcrossItsParts(t *testing.T) {
	col := &spanCollector{spans: map[string][]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(gs, col)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	dir := t.TempDir()
	var stdout bytes.Buffer
	srv, err := Start(context.Background(), Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
		PrintBootstrapCredential: true, Stdout: &stdout, Logger: slog.New(slog.DiscardHandler),
		Tracing: observe.TracingConfig{OTLPEndpoint: ln.Addr().String(), Insecure: true, SampleRatio: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.Stop(context.Background())
		}
	})
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+srv.HTTPAddr()+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cred.ClientID), url.QueryEscape(cred.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("grant: status %d", resp.StatusCode)
	}
	// Stop drains the servers, then flushes the spans.
	srv.Stop(context.Background())
	stopped = true

	token := "chave.auth.v1.AuthService/Token" // the gateway's call and the auth service's handling
	col.mu.Lock()
	defer col.mu.Unlock()
	for id, names := range col.spans {
		if !slices.Contains(names, token) {
			continue
		}
		// The gateway's HTTP server span (otelhttp names it by method).
		if !slices.ContainsFunc(names, func(n string) bool { return n == "POST" || strings.HasPrefix(n, "chave-gateway") }) {
			t.Errorf("trace %s: spans %v lack the HTTP request's", id, names)
		}
		if !slices.Contains(names, "chave.registry.v1.CredentialService/AuthenticateClient") {
			t.Errorf("trace %s: spans %v lack the registry's", id, names)
		}
		if n := len(slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n != token })); n != 2 {
			t.Errorf("trace %s: %d spans %q, want the client's and the server's", id, n, token)
		}
		return
	}
	t.Fatalf("no trace of the grant; got %v", col.spans)
}
