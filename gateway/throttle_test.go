package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chave/chave/gateway"
	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// throttlingAuth answers every call as the auth service answers a
// throttled client, and records the client address each call carried.
type throttlingAuth struct {
	authv1.UnimplementedAuthServiceServer
	err error

	mu    sync.Mutex
	addrs []string
}

func (f *throttlingAuth) record(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs = append(f.addrs, strings.Join(md.Get("x-chave-client-address"), ","))
	return f.err
}

func (f *throttlingAuth) lastAddr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addrs[len(f.addrs)-1]
}

func (f *throttlingAuth) Token(ctx context.Context, _ *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	return nil, f.record(ctx)
}

func (f *throttlingAuth) RevokeToken(ctx context.Context, _ *authv1.RevokeTokenRequest) (*authv1.RevokeTokenResponse, error) {
	return nil, f.record(ctx)
}

func (f *throttlingAuth) IntrospectToken(ctx context.Context, _ *authv1.IntrospectTokenRequest) (*authv1.IntrospectTokenResponse, error) {
	return nil, f.record(ctx)
}

// throttledStatus is what the auth service answers a throttled client.
func throttledStatus(t *testing.T, retry time.Duration) error {
	st, err := status.New(codes.ResourceExhausted, "too many failed client authentications; retry after 42 seconds").WithDetails(
		&errdetails.ErrorInfo{Reason: "slow_down", Domain: "oauth2.chave"},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)},
	)
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func newThrottleGateway(t *testing.T, fake *throttlingAuth, trusted string) string {
	t.Helper()
	conn := startGRPC(t, fake, &fakeRegistry{})
	proxies, err := gateway.ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	h, err := gateway.New(t.Context(), gateway.Config{Registry: conn, Auth: conn, TrustedProxies: proxies})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func post(t *testing.T, url, contentType, body string, header http.Header) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("body: %v", err)
	}
	return resp, m
}

// A throttled client hears 429 and Retry-After at every endpoint that
// authenticates clients, in each endpoint's error shape.
func TestThrottledAnswers(t *testing.T) {
	t.Parallel()
	fake := &throttlingAuth{err: throttledStatus(t, 41500*time.Millisecond)}
	base := newThrottleGateway(t, fake, "")
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		path, contentType, body, codeField string
	}{
		{"/oauth2/token", form, "grant_type=client_credentials&client_id=chave_ci_x&client_secret=s", "error"},
		{"/oauth2/token", form, "grant_type=refresh_token&refresh_token=r&client_id=chave_ci_x&client_secret=s", "error"},
		{"/oauth2/revoke", form, "token=t&client_id=chave_ci_x&client_secret=s", "error"},
		{"/oauth2/introspect", form, "token=t&client_id=chave_ci_x&client_secret=s", "error"},
		{"/rest/WSTSSAUTH", "application/json", `{"grantType": 1, "clientId": "chave_ci_x", "clientSecret": "s"}`, "code"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := post(t, base+tc.path, tc.contentType, tc.body, nil)
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "42" {
				t.Fatalf("status %d, Retry-After %q; want 429 and 42", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if body[tc.codeField] != "slow_down" {
				t.Fatalf("body %v: want %s slow_down", body, tc.codeField)
			}
			if resp.Header.Get("WWW-Authenticate") != "" {
				t.Fatalf("a throttled answer challenges for credentials: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// The auth service hears the client's address: the peer's, or, behind a
// trusted proxy, the rightmost X-Forwarded-For hop that is not a trusted
// proxy.
func TestClientAddressForwarded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, trusted string
		xff           []string
		want          string
	}{
		{"no proxy trusted: the peer, whatever the header says", "", []string{"203.0.113.9"}, "127.0.0.1"},
		{"an untrusted peer's header is ignored", "10.0.0.0/8", []string{"203.0.113.9"}, "127.0.0.1"},
		{"a trusted proxy names the client", "127.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"the rightmost untrusted hop", "127.0.0.0/8, 10.0.0.0/8", []string{"198.51.100.1, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"over several headers", "127.0.0.0/8,10.0.0.0/8", []string{"198.51.100.1", "203.0.113.9", "10.1.2.3"}, "203.0.113.9"},
		{"garbage stops the walk at the last trusted hop", "127.0.0.0/8,10.0.0.0/8", []string{"evil, 10.1.2.3"}, "10.1.2.3"},
		{"only trusted hops: the leftmost", "127.0.0.0/8,10.0.0.0/8", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"IPv6 and mapped IPv4", "127.0.0.1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"no header from a trusted proxy: the proxy", "127.0.0.1", nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &throttlingAuth{err: status.Error(codes.Unauthenticated, "no")}
			base := newThrottleGateway(t, fake, tc.trusted)
			post(t, base+"/oauth2/token", "application/x-www-form-urlencoded",
				"grant_type=client_credentials&client_id=chave_ci_x&client_secret=s", http.Header{"X-Forwarded-For": tc.xff})
			if got := fake.lastAddr(); got != tc.want {
				t.Fatalf("the auth service heard %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := gateway.ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7,2001:db8::/32 ,")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if p, err := gateway.ParseTrustedProxies(""); err != nil || len(p) != 0 {
		t.Fatalf("empty: %v, %v", p, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1/8/8"} {
		if _, err := gateway.ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v, want one naming it", bad, err)
		}
	}
}
