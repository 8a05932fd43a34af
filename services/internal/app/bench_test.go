package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// BenchmarkClientCredentialsThroughREST is one grant through the whole
// all-in-one stack: HTTP gateway, auth service and registry over gRPC,
// SQLite, ES256. `make bench-load` measures the same from another process.
func BenchmarkClientCredentialsThroughREST(b *testing.B) {
	dir := b.TempDir()
	var stdout bytes.Buffer
	srv, err := Start(context.Background(), Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
		PrintBootstrapCredential: true, Stdout: &stdout, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(context.Background())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil {
		b.Fatal(err)
	}
	base := "http://" + srv.HTTPAddr()
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var once sync.Once
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(cred.ClientID), url.QueryEscape(cred.ClientSecret))
			resp, err := client.Do(req)
			if err != nil {
				once.Do(func() { b.Error(err) })
				return
			}
			io.Copy(io.Discard, resp.Body) // so the connection is reused
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				once.Do(func() { b.Errorf("status %d", resp.StatusCode) })
				return
			}
		}
	})
}
