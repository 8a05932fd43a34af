package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/auth"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/signing"
)

func (h *harness) revoke(clientID, clientSecret, token, hint string) error {
	_, err := h.rpc.RevokeToken(context.Background(), &authv1.RevokeTokenRequest{
		ClientId: clientID, ClientSecret: clientSecret, Token: token, TokenTypeHint: hint,
	})
	return err
}

func TestRevokeAccessToken(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	resp := h.grant(t, "rt-client", secret, "")
	at := resp.GetAccessToken()
	claims := accessClaims(t, at)

	if active := h.introspect(t, "rt-client", secret, at); !active.GetActive() {
		t.Fatal("a fresh access token is inactive")
	}
	// The hint is only a hint.
	if err := h.revoke("rt-client", secret, at, "refresh_token"); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	got := h.reg.revocations()
	if len(got) != 1 || got[0].TokenID != claims["jti"] || got[0].FamilyID != "" || got[0].ExpireTime.Unix() != unix(claims, "exp") {
		t.Errorf("registry recorded %+v, want the jti %v expiring at %v", got, claims["jti"], claims["exp"])
	}
	if h.introspect(t, "rt-client", secret, at).GetActive() {
		t.Error("a revoked access token is active")
	}
	// Only that token: the family's refresh token still works.
	h.mustRefresh(t, "rt-client", secret, resp.GetRefreshToken(), "")
	// Revoking again succeeds.
	if err := h.revoke("rt-client", secret, at, ""); err != nil {
		t.Errorf("second RevokeToken: %v", err)
	}
}

func TestRevokeRefreshToken(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	resp := h.grant(t, "rt-client", secret, "")
	rt := resp.GetRefreshToken()
	p := refreshPayload(t, rt)
	if err := h.revoke("rt-client", secret, rt, "access_token"); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	got := h.reg.revocations()
	if len(got) != 1 || got[0].FamilyID != p["f"] || got[0].TokenID != "" || got[0].ExpireTime.Unix() != unix(p, "x") {
		t.Errorf("registry recorded %+v, want the family %v expiring at %v", got, p["f"], p["x"])
	}
	_, err := h.refresh("rt-client", secret, rt, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	// The family's access token carries it as sid: it goes too.
	if h.introspect(t, "rt-client", secret, resp.GetAccessToken()).GetActive() {
		t.Error("the access token of a revoked family is active")
	}
	if h.introspect(t, "rt-client", secret, rt).GetActive() {
		t.Error("the refresh token of a revoked family is active")
	}

	// A spent refresh token revokes the family its successors belong to.
	rt0 := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	rt1 := h.mustRefresh(t, "rt-client", secret, rt0, "").GetRefreshToken()
	h.clock.Advance(24 * time.Hour) // rt0 has expired; its family has not
	if err := h.revoke("rt-client", secret, rt0, ""); err != nil {
		t.Fatalf("RevokeToken of an expired refresh token: %v", err)
	}
	_, err = h.refresh("rt-client", secret, rt1, "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
}

// TestRevokeNothingToRecord: garbage, another issuer's tokens and expired
// ones succeed without a registry write, once the client authenticates.
func TestRevokeNothingToRecord(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	other := newHarness(t, func(c *auth.Config) { c.RefreshTokenKey = []byte("another key, another key, another key") })
	other.addRefreshClients()
	stranger, err := signing.Generate(jwa.ES256, now)
	if err != nil {
		t.Fatal(err)
	}
	strangerToken, err := stranger.Sign(signing.Claims{
		Issuer: issuer, Subject: "rt-client", ClientID: "rt-client", Audience: []string{audience},
		IssuedAt: now, Expiry: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Set(now.Add(-time.Hour))
	expired := h.grant(t, "rt-client", secret, "").GetAccessToken()
	expiredForeign := h.grant(t, "rt-other", otherSecret, "").GetAccessToken()
	h.clock.Set(now)

	for name, tok := range map[string]string{
		"garbage":                      "garbage",
		"refresh prefix, garbage":      "chave_rt_garbage.garbage",
		"refresh token of another key": other.grant(t, "rt-client", secret, "").GetRefreshToken(),
		"JWT of another key":           strangerToken,
		"huge":                         strings.Repeat("A", 1<<16),
		"expired access token":         expired,
		"another's expired token":      expiredForeign,
	} {
		t.Run(name, func(t *testing.T) {
			if err := h.revoke("rt-client", secret, tok, ""); err != nil {
				t.Errorf("RevokeToken: %v, want success", err)
			}
			// The client must still authenticate.
			err := h.revoke("rt-client", "wrong", tok, "")
			wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
		})
	}
	if got := h.reg.revocations(); len(got) != 0 {
		t.Errorf("registry recorded %+v, want nothing", got)
	}
	err = h.revoke("rt-client", secret, "", "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_request")
	err = h.revoke("", "", "garbage", "")
	wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
}

func TestRevokeForeignToken(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	resp := h.grant(t, "rt-client", secret, "")
	for name, tok := range map[string]string{
		"access token":  resp.GetAccessToken(),
		"refresh token": resp.GetRefreshToken(),
	} {
		t.Run(name, func(t *testing.T) {
			err := h.revoke("rt-other", otherSecret, tok, "")
			wantOAuthError(t, err, codes.InvalidArgument, "unauthorized_client")
			// An unauthenticated caller learns nothing about the token.
			err = h.revoke("rt-other", "wrong", tok, "")
			wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
		})
	}
	if got := h.reg.revocations(); len(got) != 0 {
		t.Errorf("registry recorded %+v, want nothing", got)
	}
	// The owner's tokens still work.
	h.mustRefresh(t, "rt-client", secret, resp.GetRefreshToken(), "")
}

// TestRevokeRegistryFailure: a revocation the registry did not record is
// never a success.
func TestRevokeRegistryFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"unavailable", chave.Errorf(chave.Unavailable, "db down"), codes.Unavailable, "temporarily_unavailable"},
		{"internal", errors.New("pq: disk full"), codes.Unavailable, "temporarily_unavailable"},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad expire time"), codes.Unavailable, "temporarily_unavailable"},
		{"deadline", status.Error(codes.DeadlineExceeded, "slow"), codes.Unavailable, "temporarily_unavailable"},
		{"unauthenticated", chave.Errorf(chave.Unauthenticated, "credential revoked"), codes.Unauthenticated, "invalid_client"},
		{"another client's family", chave.Errorf(chave.PermissionDenied, "not yours"), codes.InvalidArgument, "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addRefreshClients()
			resp := h.grant(t, "rt-client", secret, "")
			h.reg.setErr(&h.reg.revokeErr, tt.err)
			for _, tok := range []string{resp.GetAccessToken(), resp.GetRefreshToken()} {
				st := wantOAuthError(t, h.revoke("rt-client", secret, tok, ""), tt.code, tt.reason)
				if strings.Contains(st.Message(), "pq:") || strings.Contains(st.Message(), "db down") {
					t.Errorf("description %q leaks the cause", st.Message())
				}
			}
		})
	}
}

func TestRevokeCanceled(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	at := h.grant(t, "rt-client", secret, "").GetAccessToken()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := call(ctx, h.server, h.server.RevokeToken, &authv1.RevokeTokenRequest{ClientId: "rt-client", ClientSecret: secret, Token: at})
	if status.Code(err) != codes.Canceled {
		t.Errorf("RevokeToken with a canceled context: %v, want Canceled", err)
	}
}
