package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/throttle"
)

func newLeakServer(t *testing.T, f *fixture, perMinute int64) (*LeakServer, *countingStore) {
	t.Helper()
	counting := &countingStore{Store: f.svc.store}
	f.svc.store = counting
	rate, err := throttle.NewRate(throttle.NewMemory(0), "", perMinute, time.Minute, func() time.Time { return f.now })
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewLeakServer(f.svc, rate, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, counting
}

// TestNewLeakReportBounds: every bound of a report is checked before the
// database is read, and the error names the field.
func TestNewLeakReportBounds(t *testing.T) {
	f := newFixture(t)
	s, counting := newLeakServer(t, f, 1000)
	secret, _ := secrets.NewClientSecret()
	ok := secret.Reveal()
	many := make([]string, MaxLeakSecrets+1)
	for i := range many {
		many[i] = ok
	}
	for name, c := range map[string]struct {
		req   *registryv1.ReportLeaksRequest
		field string
	}{
		"no secrets":          {&registryv1.ReportLeaksRequest{Source: "github"}, "secrets"},
		"101 secrets":         {&registryv1.ReportLeaksRequest{Secrets: many, Source: "github"}, "secrets"},
		"a string too long":   {&registryv1.ReportLeaksRequest{Secrets: []string{ok, ok + "x"}, Source: "github"}, "secrets[1]"},
		"no source":           {&registryv1.ReportLeaksRequest{Secrets: []string{ok}}, "source"},
		"source too long":     {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: strings.Repeat("a", 65)}, "source"},
		"source with a space": {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "git hub"}, "source"},
		"source with a NUL":   {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "gh\x00"}, "source"},
		"source non-ASCII":    {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "gíthub"}, "source"},
		"url javascript":      {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "github", Url: "javascript:alert(1)"}, "url"},
		"url file":            {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "github", Url: "file:///etc/passwd"}, "url"},
		"url without host":    {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "github", Url: "https:///x"}, "url"},
		"url with a newline":  {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "github", Url: "https://a.example/\nx"}, "url"},
		"url too long":        {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "github", Url: "https://a.example/" + strings.Repeat("a", 2048)}, "url"},
		"url relative":        {&registryv1.ReportLeaksRequest{Secrets: []string{ok}, Source: "github", Url: "/a/b"}, "url"},
	} {
		_, err := s.ReportLeaks(context.Background(), c.req)
		if status.Code(err) != codes.InvalidArgument || fieldOf(err) != c.field {
			t.Errorf("%s: %v, want InvalidArgument naming %s", name, err, c.field)
		}
	}
	if n := counting.lookups.Load(); n != 0 {
		t.Errorf("refused reports read the database %d times", n)
	}
	resp, err := s.ReportLeaks(context.Background(), &registryv1.ReportLeaksRequest{Secrets: many[:MaxLeakSecrets], Source: "Git_Hub.-1", Url: "http://a.example/x?y=1#z"})
	if err != nil || len(resp.GetResults()) != MaxLeakSecrets {
		t.Fatalf("a report at every bound: %v, %v", resp, err)
	}
}

func fieldOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// TestNewLeakReportRateLimit: a source over its limit is refused with
// ResourceExhausted and a RetryInfo, costing no database read; another
// source is not affected.
func TestNewLeakReportRateLimit(t *testing.T) {
	f := newFixture(t)
	s, counting := newLeakServer(t, f, 2)
	secret, _ := secrets.NewClientSecret()
	req := func(source string) *registryv1.ReportLeaksRequest {
		return &registryv1.ReportLeaksRequest{Secrets: []string{secret.Reveal()}, Source: source}
	}
	for range 2 {
		if _, err := s.ReportLeaks(context.Background(), req("scanner")); err != nil {
			t.Fatal(err)
		}
	}
	before := counting.lookups.Load()
	_, err := s.ReportLeaks(context.Background(), req("scanner"))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third report in a minute: %v, want ResourceExhausted", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != time.Minute {
		t.Errorf("RetryInfo = %v, want 60s", retry)
	}
	if counting.lookups.Load() != before {
		t.Error("a refused report read the database")
	}
	if _, err := s.ReportLeaks(context.Background(), req("other")); err != nil {
		t.Errorf("another source: %v", err)
	}
	for result, want := range map[string]float64{leakNotSecret: 3, leakLimited: 1, leakRevoked: 0} {
		if got := testutil.ToFloat64(f.svc.metrics.leaks.WithLabelValues(result)); got != want {
			t.Errorf("chave_leaked_secrets_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// TestNewLeakServiceIsPublicByRule: ReportLeaks needs no credential; any
// other LeakService method is refused, not passed through.
func TestNewLeakServiceIsPublicByRule(t *testing.T) {
	f := newFixture(t)
	verify := func(context.Context, string) (string, []string, string, error) {
		t.Fatal("a leak report was authenticated")
		return "", nil, "", nil
	}
	ic := AuthInterceptor(f.svc, verify, nil, f.svc.log)
	called := false
	handler := func(ctx context.Context, req any) (any, error) {
		called = true
		if _, ok := CallerFrom(ctx); ok {
			t.Error("a leak report carries a caller")
		}
		return nil, nil
	}
	if _, err := ic(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: registryv1.LeakService_ReportLeaks_FullMethodName}, handler); err != nil || !called {
		t.Fatalf("ReportLeaks without a credential: %v, called %v", err, called)
	}
	called = false
	_, err := ic(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/" + registryv1.LeakService_ServiceDesc.ServiceName + "/Other"}, handler)
	if status.Code(err) != codes.PermissionDenied || called {
		t.Fatalf("another LeakService method: %v, called %v; want PermissionDenied", err, called)
	}
}
