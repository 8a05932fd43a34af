package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// tokenConn is a grpc.ClientConnInterface that answers every Token call
// with a fixed token, so that a benchmark measures the gateway alone.
type tokenConn struct{}

func (tokenConn) Invoke(_ context.Context, method string, _, reply any, _ ...grpc.CallOption) error {
	if method == authv1.AuthService_Token_FullMethodName {
		r := reply.(*authv1.TokenResponse)
		r.AccessToken = benchAccessToken
		r.TokenType = "Bearer"
		r.ExpiresIn = 1800
		r.Scope = "chave.admin"
	}
	return nil
}

func (tokenConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	panic("no streams")
}

// benchAccessToken is the size of an ES256 access token chave mints.
var benchAccessToken = strings.Repeat("eyJhbGciOiJFUzI1NiJ9", 20)

// benchWriter is a minimal http.ResponseWriter: what
// httptest.ResponseRecorder does without its copies.
type benchWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }
func (w *benchWriter) Write(b []byte) (int, error) { return w.body.Write(b) }

// BenchmarkTokenEndpoint is one token request through the gateway's whole
// handler (request id, metrics, access log, client address, routing,
// parsing, the call, the JSON answer) in front of an auth service that
// answers at once: what the gateway adds to every grant.
func BenchmarkTokenEndpoint(b *testing.B) {
	h, err := gateway.New(context.Background(), gateway.Config{Registry: tokenConn{}, Auth: tokenConn{}})
	if err != nil {
		b.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	for _, ep := range []struct {
		name, path, ctype, body, authz string
	}{
		{"oauth2-token", "/oauth2/token", "application/x-www-form-urlencoded", form, "Basic Y2hhdmVfY2xpZW50X2lkOmNoYXZlX3NlY3JldF92YWx1ZQ=="},
		{"tss", "/rest/WSTSSAUTH", "application/json", `{"grantType":1,"clientId":"chave_client_id","clientSecret":"chave_secret_value"}`, ""},
	} {
		b.Run(ep.name, func(b *testing.B) {
			w := &benchWriter{h: http.Header{}}
			b.ReportAllocs()
			reportCPU(b)
			for b.Loop() {
				clear(w.h)
				w.status = http.StatusOK
				w.body.Reset()
				r, _ := http.NewRequest(http.MethodPost, ep.path, strings.NewReader(ep.body))
				r.RemoteAddr = "127.0.0.1:40000"
				r.Header.Set("Content-Type", ep.ctype)
				if ep.authz != "" {
					r.Header.Set("Authorization", ep.authz)
				}
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("%s: status %d: %s", ep.path, w.status, w.body.String())
				}
			}
		})
	}
}

// reportCPU reports the process's CPU time (user and system) per
// operation from when it is called to the end of the benchmark: on a
// shared machine it moves less than the wall time ns/op is.
func reportCPU(b *testing.B) {
	start := processCPU(b)
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
		}
	})
}

func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
