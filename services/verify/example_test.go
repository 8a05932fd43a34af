package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// A resource server verifies chave's access tokens locally: against the
// JWK Set that chave publishes at /.well-known/jwks.json, cached, and
// against the shared revocation set. Here an httptest server plays chave's
// JWKS endpoint, and an in-memory set stands in for the Redis one.
func ExampleHTTPMiddleware() {
	// chave's signing key and its published JWK Set. (A stand-in for the
	// auth service; a resource server only ever sees the JWKS.)
	signingKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks := publishJWKS(&signingKey.PublicKey, "key-1")
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=300")
		w.Write(jwks)
	}))
	defer auth.Close()

	// In production: revocation.ParseURL and revocation.NewRedis on the
	// Redis that chave writes revocations to.
	revoked := revocation.NewMemory(nil)
	defer revoked.Close()

	verifier, err := verify.New(verify.Config{
		Issuer:      "https://auth.example",
		Audience:    "inventory-api",
		Keys:        verify.NewRemoteKeys(auth.URL+"/.well-known/jwks.json", verify.RemoteKeysOptions{}),
		Revocations: revocation.Checker(revoked),
	})
	if err != nil {
		log.Fatal(err)
	}

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "stock for %s of tenant %s", claims.ClientID, claims.TenantID)
	})
	srv := httptest.NewServer(verify.HTTPMiddleware(verifier, verify.WithRequiredScopes("inventory"))(api))
	defer srv.Close()

	get := func(token string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/stock", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			fmt.Printf("%d %s\n", resp.StatusCode, body)
		} else {
			fmt.Printf("%d %s\n", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}

	token := mintToken(signingKey, "key-1", "jti-1", "inventory")
	get(token)
	get("")
	get(mintToken(signingKey, "key-1", "jti-2", "labels"))

	// Revoking the token (chave does this when asked to) makes it fail
	// at once.
	revoked.Revoke(context.Background(), revocation.Entry{
		Kind: revocation.AccessToken, ID: "jti-1", At: time.Now(), Until: time.Now().Add(time.Hour),
	})
	get(token)

	// Output:
	// 200 stock for client-1 of tenant acme
	// 401 Bearer realm="chave"
	// 403 Bearer realm="chave", error="insufficient_scope", scope="inventory"
	// 401 Bearer realm="chave", error="invalid_token", error_description="revoked"
}

// publishJWKS returns the JWK Set document of one ES256 public key.
func publishJWKS(pub *ecdsa.PublicKey, kid string) []byte {
	key, err := jwk.FromRaw(pub)
	if err != nil {
		log.Fatal(err)
	}
	key.Set(jwk.KeyIDKey, kid)
	key.Set(jwk.AlgorithmKey, jwa.ES256)
	key.Set(jwk.KeyUsageKey, "sig")
	set := jwk.NewSet()
	set.AddKey(key)
	doc, err := json.Marshal(set)
	if err != nil {
		log.Fatal(err)
	}
	return doc
}

// mintToken signs an RFC 9068 access token as chave would.
func mintToken(key *ecdsa.PrivateKey, kid, jti, scope string) string {
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{
		"iss": "https://auth.example", "aud": "inventory-api",
		"sub": "client-1", "client_id": "client-1", "tenantid": "acme",
		"iat": now.Unix(), "exp": now.Add(30 * time.Minute).Unix(),
		"jti": jti, "scope": scope,
	})
	hdr := jws.NewHeaders()
	hdr.Set(jws.KeyIDKey, kid)
	hdr.Set(jws.TypeKey, "at+jwt")
	tok, err := jws.Sign(payload, jws.WithKey(jwa.ES256, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		log.Fatal(err)
	}
	return string(tok)
}
