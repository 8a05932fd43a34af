package auth_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/auth"
)

// refreshAlone runs the refresh grant as the TSS endpoint asks for it: the
// refresh token authenticates by itself.
func (h *harness) refreshAlone(clientID, clientSecret, refreshToken string) (*authv1.TokenResponse, error) {
	return h.rpc.Token(context.Background(), &authv1.TokenRequest{
		GrantType: "refresh_token", ClientId: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken,
		RefreshTokenAuthenticates: true,
	})
}

// TestRefreshByTheRefreshTokenAlone: with refresh_token_authenticates the
// refresh token is the client's proof; a client id, if sent, must be the
// token's, a secret, if sent, is checked; rotation of the secret and reuse
// of a spent token end it as they end any refresh.
func TestRefreshByTheRefreshTokenAlone(t *testing.T) {
	h := newHarness(t)
	h.addRefreshClients()
	rt0 := h.grant(t, "rt-client", secret, "").GetRefreshToken()

	// Without the flag, as at /oauth2/token: client authentication first.
	_, err := h.refresh("", "", rt0, "")
	wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")

	resp, err := h.refreshAlone("", "", rt0)
	if err != nil {
		t.Fatalf("refresh by the refresh token alone: %v", err)
	}
	if sub := accessClaims(t, resp.GetAccessToken())["client_id"]; sub != "rt-client" {
		t.Fatalf("access token of client %v, want rt-client", sub)
	}
	rt1 := resp.GetRefreshToken()

	// Another client's id, or its credentials, are refused and spend nothing.
	_, err = h.refreshAlone("rt-other", "", rt1)
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	_, err = h.refreshAlone("rt-other", otherSecret, rt1)
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	// A secret sent is a secret checked.
	_, err = h.refreshAlone("rt-client", "wrong", rt1)
	wantOAuthError(t, err, codes.Unauthenticated, "invalid_client")
	// The token's own client id, with or without its secret.
	rt2 := h.mustRefreshAlone(t, "rt-client", "", rt1)
	rt3 := h.mustRefreshAlone(t, "rt-client", secret, rt2)

	// Reuse: a spent token revokes the family, the newest token too.
	_, err = h.refreshAlone("", "", rt1)
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	_, err = h.refreshAlone("", "", rt3)
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")

	// Rotation: a token of the old secret version is refused.
	fresh := h.grant(t, "rt-client", secret, "").GetRefreshToken()
	h.reg.add(auth.Client{
		ID: "rt-client", Tenant: "acme", Scopes: []string{"commercial", "inventory", "labels"},
		IssueRefreshTokens: true, SecretVersion: "v2",
	}, "chave_r0tated_s3cr3t")
	_, err = h.refreshAlone("", "", fresh)
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")

	// Garbage is invalid_grant; nothing is invalid_request.
	_, err = h.refreshAlone("", "", "chave_rt_garbage.AAAA")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_grant")
	_, err = h.refreshAlone("", "", "")
	wantOAuthError(t, err, codes.InvalidArgument, "invalid_request")
}

func (h *harness) mustRefreshAlone(t *testing.T, clientID, clientSecret, refreshToken string) string {
	t.Helper()
	resp, err := h.refreshAlone(clientID, clientSecret, refreshToken)
	if err != nil {
		t.Fatalf("refresh alone (client %q): %v", clientID, err)
	}
	return resp.GetRefreshToken()
}
