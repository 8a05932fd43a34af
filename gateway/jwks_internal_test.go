package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// stubAuth is an in-process AuthServiceClient; the methods it does not
// define panic through the nil embedded interface.
type stubAuth struct {
	authv1.AuthServiceClient

	mu        sync.Mutex
	jwks      []byte
	jwksErr   error
	jwksCalls int
	token     func(*authv1.TokenRequest) (*authv1.TokenResponse, error)
}

func (s *stubAuth) Token(_ context.Context, req *authv1.TokenRequest, _ ...grpc.CallOption) (*authv1.TokenResponse, error) {
	return s.token(req)
}

func (s *stubAuth) GetJwks(context.Context, *authv1.GetJwksRequest, ...grpc.CallOption) (*authv1.GetJwksResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwksCalls++
	if s.jwksErr != nil {
		return nil, s.jwksErr
	}
	return &authv1.GetJwksResponse{JwksJson: s.jwks}, nil
}

func TestJWKSCacheExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	auth := &stubAuth{jwks: []byte(`{"keys":[1]}`)}
	c := &docCache{fetch: jwksFetcher(auth), ttl: time.Minute, now: func() time.Time { return now }}
	ctx := t.Context()

	get := func(wantDoc string, wantErr bool, wantCalls int) {
		t.Helper()
		doc, err := c.get(ctx)
		if string(doc) != wantDoc || (err != nil) != wantErr || auth.jwksCalls != wantCalls {
			t.Errorf("get = %s, %v after %d calls; want %s, error %v, %d calls", doc, err, auth.jwksCalls, wantDoc, wantErr, wantCalls)
		}
	}
	get(`{"keys":[1]}`, false, 1)
	now = now.Add(59 * time.Second)
	get(`{"keys":[1]}`, false, 1)

	now = now.Add(2 * time.Second) // expired: refreshed
	auth.jwks = []byte(`{"keys":[2]}`)
	get(`{"keys":[2]}`, false, 2)

	now = now.Add(2 * time.Minute) // refresh fails: the old document comes with the error
	auth.jwksErr = status.Error(codes.Unavailable, "down")
	get(`{"keys":[2]}`, true, 3)
	// The stale document is served without another fetch for a while.
	get(`{"keys":[2]}`, false, 3)

	now = now.Add(wellKnownRetry)
	auth.jwksErr = nil
	auth.jwks = []byte(`not json`)
	get(`{"keys":[2]}`, true, 4)

	empty := &docCache{fetch: jwksFetcher(&stubAuth{jwksErr: errors.New("boom")}), ttl: time.Minute, now: time.Now}
	if doc, err := empty.get(ctx); doc != nil || err == nil {
		t.Errorf("get with nothing cached = %s, %v; want nil and an error", doc, err)
	}
}
