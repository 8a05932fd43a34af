package auth_test

import (
	"context"
	"strings"
	"testing"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/internal/secrets"
)

// TestSwappedCredentialsNeverLogged: a client that sends its secret as the
// client id (and its id as the secret) is refused everywhere it
// authenticates, and no log line, even without the redacting handler,
// holds the secret it sent.
func TestSwappedCredentialsNeverLogged(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sk, err := secrets.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	leaked := sk.Reveal()
	access := h.grant(t, "client-1", secret, "").GetAccessToken()

	_, err = h.rpc.Token(ctx, &authv1.TokenRequest{GrantType: "client_credentials", ClientId: leaked, ClientSecret: "client-1"})
	if err == nil {
		t.Error("a grant with swapped credentials succeeded")
	}
	_, err = h.rpc.Token(ctx, &authv1.TokenRequest{GrantType: "refresh_token", ClientId: leaked, ClientSecret: "client-1", RefreshToken: "chave_rt_x.y"})
	if err == nil {
		t.Error("a refresh with swapped credentials succeeded")
	}
	_, _ = h.rpc.RevokeToken(ctx, &authv1.RevokeTokenRequest{ClientId: leaked, ClientSecret: "client-1", Token: access})
	_, _ = h.rpc.IntrospectToken(ctx, &authv1.IntrospectTokenRequest{ClientId: leaked, ClientSecret: "client-1", Token: access})

	logs := h.logs.String()
	if !strings.Contains(logs, "client authentication failed") {
		t.Fatalf("the failures were not logged:\n%s", logs)
	}
	if strings.Contains(logs, leaked[len(secrets.SecretPrefix):]) {
		t.Errorf("logs hold the secret sent as a client id:\n%s", logs)
	}
}
