package attack

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// verdict is what a verifier said of a token.
type verdict string

const (
	accepted    verdict = "accepted"
	refused     verdict = "refused"
	unavailable verdict = "unavailable" // 503, gRPC Unavailable: it could not tell, and said so
)

// verifier is one place that decides whether an access token is good.
type verifier struct {
	name  string
	check func(t *testing.T, token string) verdict
}

// verifiers are every verifier of chave's tokens: the registry's Bearer
// check over REST, introspection, the auth service's gRPC VerifyToken,
// and, where the revocation set is in Redis (which a resource server can
// share), the Go package a resource server imports, with the JWKS over
// HTTP.
func (tg *target) verifiers(t *testing.T) []verifier {
	t.Helper()
	vs := []verifier{
		{"REST registry Bearer check", func(t *testing.T, token string) verdict {
			switch a := tg.on(t).do("GET", "/v1/tokens?pageSize=1", token, nil); a.status {
			case 200, 403: // 403: the token verified but lacks registry.admin
				return accepted
			case 401:
				return refused
			case 503:
				return unavailable
			default:
				t.Fatalf("GET /v1/tokens answered %d %s", a.status, a.body)
				return ""
			}
		}},
		{"/oauth2/introspect", func(t *testing.T, token string) verdict {
			a := tg.on(t).form("/oauth2/introspect", url.Values{"token": {token}}, tg.opID, tg.opSecret)
			if a.status == 503 {
				return unavailable
			}
			if a.status != 200 {
				t.Fatalf("introspect answered %d %s", a.status, a.body)
			}
			if a.json(t)["active"] == true {
				return accepted
			}
			return refused
		}},
		{"gRPC VerifyToken", func(t *testing.T, token string) verdict {
			_, err := tg.auth.VerifyToken(context.Background(), &authv1.VerifyTokenRequest{Token: token})
			switch status.Code(err) {
			case codes.OK:
				return accepted
			case codes.Unauthenticated:
				return refused
			case codes.Unavailable:
				return unavailable
			default:
				t.Fatalf("VerifyToken: %v", err)
				return ""
			}
		}},
	}
	if tg.redis == nil {
		return vs
	}
	client, err := revocation.ParseURL(tg.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	set, err := revocation.NewRedis(client, revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	v, err := verify.New(verify.Config{
		Issuer: tg.srv.Issuer(), Audience: tg.srv.Issuer(),
		Keys:        verify.NewRemoteKeys(tg.base+"/.well-known/jwks.json", verify.RemoteKeysOptions{}),
		Revocations: revocation.Checker(set),
	})
	if err != nil {
		t.Fatal(err)
	}
	quiet := verify.WithLogger(slog.New(slog.DiscardHandler))
	resource := verify.HTTPMiddleware(v, quiet)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return append(vs, verifier{"services/verify with the JWKS", func(t *testing.T, token string) verdict {
		req := httptest.NewRequest("GET", "/resource", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		resource.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusNoContent:
			return accepted
		case http.StatusUnauthorized, http.StatusBadRequest: // 400: not even a Bearer token (RFC 6750 invalid_request)
			return refused
		case http.StatusServiceUnavailable:
			return unavailable
		default:
			t.Fatalf("verify.HTTPMiddleware answered %d", rec.Code)
			return ""
		}
	}})
}

// forger makes tokens: with chave's own signing key (read from the key
// file, as an attacker who stole nothing could not), so that a refusal
// proves the verifier checks what the row changes and not merely the
// signature; and with an attacker's key.
type forger struct {
	kid        string
	key        *ecdsa.PrivateKey // chave's active signing key
	publicPEM  []byte            // its public key, as an attacker finds it
	publicJWK  []byte            // its public JWK, as the JWKS publishes it
	attacker   *ecdsa.PrivateKey
	attackerID string
	jwksURL    string // where the attacker serves its own JWKS
	claims     map[string]any
}

func newForger(t *testing.T, tg *target, sample string) *forger {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tg.dir, "signing-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatalf("signing-keys.json: %v", err)
	}
	f := &forger{kid: header(t, sample)["kid"].(string)}
	for _, k := range keys.Keys {
		if k.KeyID == f.kid {
			f.key, _ = k.Key.(*ecdsa.PrivateKey)
		}
	}
	if f.key == nil {
		t.Fatalf("no ES256 key %q in signing-keys.json", f.kid)
	}
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	f.publicPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	f.publicJWK, _ = json.Marshal(jose.JSONWebKey{Key: &f.key.PublicKey, KeyID: f.kid, Algorithm: "ES256", Use: "sig"})
	if f.attacker, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	f.attackerID = "attacker-key"
	attackerJWKS, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.attacker.PublicKey, KeyID: f.attackerID, Algorithm: "ES256", Use: "sig"}}})
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(attackerJWKS)
	}))
	t.Cleanup(evil.Close)
	f.jwksURL = evil.URL + "/jwks.json"
	f.claims = payload(t, sample)
	return f
}

func segment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func header(t *testing.T, token string) map[string]any  { return segment(t, token, 0) }
func payload(t *testing.T, token string) map[string]any { return segment(t, token, 1) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signer signs a JWS signing input.
type signer func(input string) string

func es256(k *ecdsa.PrivateKey) signer {
	return func(input string) string {
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			panic(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return b64(sig)
	}
}

func hs256(key []byte) signer {
	return func(input string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(input))
		return b64(m.Sum(nil))
	}
}

func unsigned(string) string { return "" }

// token assembles a compact JWS from a raw header, claims and a signer.
func token(rawHeader string, claims map[string]any, sign signer) string {
	input := b64([]byte(rawHeader)) + "." + b64([]byte(mustJSON(claims)))
	return input + "." + sign(input)
}

// with returns a copy of the sample claims changed by edit.
func (f *forger) with(edit func(c map[string]any)) map[string]any {
	c := make(map[string]any, len(f.claims))
	for k, v := range f.claims {
		c[k] = v
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// hdr is the header chave writes, with extra members.
func (f *forger) hdr(extra map[string]any) string {
	h := map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": f.kid}
	for k, v := range extra {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return mustJSON(h)
}

func selfSigned(t *testing.T, k *ecdsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, crypto.Signer(k))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// TestHostileJWTs sends forged and altered access tokens to every verifier:
// each row names what it changes in the operator's own token, and every
// verifier must refuse it. Two control rows (the real token and the same
// claims re-signed by chave's key) must be accepted, which shows the
// forger builds tokens the verifiers would otherwise take.
func TestHostileJWTs(t *testing.T) { forEach(t, testHostileJWTs) }

func testHostileJWTs(t *testing.T, tg *target) {
	real := tg.operatorToken()
	f := newForger(t, tg, real)
	now := time.Now().Unix()
	own := es256(f.key)
	theirs := es256(f.attacker)
	parts := strings.Split(real, ".")
	other := strings.Split(tg.operatorToken(), ".") // another genuine token
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tg.tenant(real, "acme")
	id, secret := tg.credential(real, "acme", "client", "inventory")
	refreshToken := tg.grant(id, secret)["refresh_token"].(string)
	attackerJWK, _ := json.Marshal(jose.JSONWebKey{Key: &f.attacker.PublicKey, KeyID: f.kid, Algorithm: "ES256", Use: "sig"})

	rows := []struct {
		name  string
		sends string
		want  verdict
	}{
		{"control: the token chave issued", real, accepted},
		{"control: the same claims re-signed with chave's key", token(f.hdr(nil), f.with(nil), own), accepted},

		{"alg none, no signature", token(f.hdr(map[string]any{"alg": "none"}), f.with(nil), unsigned), refused},
		{"alg none, the real signature kept", token(f.hdr(map[string]any{"alg": "none"}), f.with(nil), func(string) string { return parts[2] }), refused},
		{"alg NoNe", token(f.hdr(map[string]any{"alg": "NoNe"}), f.with(nil), unsigned), refused},
		{"no alg", token(f.hdr(map[string]any{"alg": nil}), f.with(nil), own), refused},
		{"HS256 keyed with the public key's PEM (key confusion)", token(f.hdr(map[string]any{"alg": "HS256"}), f.with(nil), hs256(f.publicPEM)), refused},
		{"HS256 keyed with the public JWK", token(f.hdr(map[string]any{"alg": "HS256"}), f.with(nil), hs256(f.publicJWK)), refused},
		{"HS512 keyed with the public key's PEM", token(f.hdr(map[string]any{"alg": "HS512"}), f.with(nil), hs256(f.publicPEM)), refused},
		{"ES384 header over an ES256 signature", token(f.hdr(map[string]any{"alg": "ES384"}), f.with(nil), own), refused},

		{"unknown kid, signed by chave's key", token(f.hdr(map[string]any{"kid": "no-such-key"}), f.with(nil), own), refused},
		{"no kid, signed by chave's key", token(f.hdr(map[string]any{"kid": nil}), f.with(nil), own), refused},
		{"path-traversal kid, HS256 with an empty key", token(f.hdr(map[string]any{"alg": "HS256", "kid": "../../../../../../dev/null"}), f.with(nil), hs256(nil)), refused},
		{"path-traversal kid, signed by chave's key", token(f.hdr(map[string]any{"kid": "../" + f.kid}), f.with(nil), own), refused},
		{"SQL in kid", token(f.hdr(map[string]any{"kid": "x' OR '1'='1"}), f.with(nil), theirs), refused},
		{"duplicate kid: chave's, then the attacker's", token(fmt.Sprintf(`{"alg":"ES256","typ":"at+jwt","kid":%q,"kid":%q}`, f.kid, f.attackerID), f.with(nil), theirs), refused},
		{"duplicate kid: the attacker's, then chave's", token(fmt.Sprintf(`{"alg":"ES256","typ":"at+jwt","kid":%q,"kid":%q}`, f.attackerID, f.kid), f.with(nil), theirs), refused},

		{"jku naming the attacker's JWKS", token(f.hdr(map[string]any{"kid": f.attackerID, "jku": f.jwksURL}), f.with(nil), theirs), refused},
		{"x5u naming the attacker's JWKS", token(f.hdr(map[string]any{"kid": f.attackerID, "x5u": f.jwksURL}), f.with(nil), theirs), refused},
		{"jwk embedding the attacker's key under chave's kid", token(f.hdr(map[string]any{"jwk": json.RawMessage(attackerJWK)}), f.with(nil), theirs), refused},
		{"x5c carrying the attacker's certificate", token(f.hdr(map[string]any{"kid": f.attackerID, "x5c": []string{selfSigned(t, f.attacker)}}), f.with(nil), theirs), refused},
		{"crit naming an extension, signed by chave's key", token(f.hdr(map[string]any{"crit": []string{"exp"}, "exp": now + 60}), f.with(nil), own), refused},
		{"b64 false with crit, signed by chave's key", token(f.hdr(map[string]any{"crit": []string{"b64"}, "b64": false}), f.with(nil), own), refused},
		{"a token of another issuer's key (the attacker's, kid its own)", token(f.hdr(map[string]any{"kid": f.attackerID}), f.with(nil), theirs), refused},
		{"the attacker's signature under chave's kid", token(f.hdr(nil), f.with(nil), theirs), refused},

		{"JSON serialization of the real token", mustJSON(map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]}), refused},
		{"signature truncated", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-8], refused},
		{"signature removed", parts[0] + "." + parts[1] + ".", refused},
		{"signature altered", parts[0] + "." + parts[1] + "." + flip(parts[2], 10), refused},
		{"another genuine token's signature", parts[0] + "." + parts[1] + "." + other[2], refused},
		{"payload altered, signature kept", parts[0] + "." + b64([]byte(mustJSON(f.with(func(c map[string]any) { c["scope"] = "registry.admin inventory" })))) + "." + parts[2], refused},
		{"four segments", real + "." + parts[2], refused},
		{"padding in the segments", parts[0] + "==." + parts[1] + "." + parts[2], refused},

		{"missing exp, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { delete(c, "exp") }), own), refused},
		{"expired an hour ago, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { c["iat"], c["exp"] = now-7200, now-3600 }), own), refused},
		{"exp as a string, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { c["exp"] = fmt.Sprint(now + 600) }), own), refused},
		{"nbf in an hour, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { c["nbf"] = now + 3600 }), own), refused},
		{"wrong iss, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { c["iss"] = "https://evil.example" }), own), refused},
		{"no iss, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { delete(c, "iss") }), own), refused},
		{"wrong aud, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { c["aud"] = "https://evil.example" }), own), refused},
		{"no aud, signed by chave's key", token(f.hdr(nil), f.with(func(c map[string]any) { delete(c, "aud") }), own), refused},
		{"typ JWT, signed by chave's key", token(f.hdr(map[string]any{"typ": "JWT"}), f.with(nil), own), refused},
		{"no typ, signed by chave's key", token(f.hdr(map[string]any{"typ": nil}), f.with(nil), own), refused},
		{"not a JWT at all", "not-a-jwt", refused},
		{"a refresh token as an access token", refreshToken, refused},
	}
	// Where a verifier rightly answers otherwise: RFC 7662 introspects
	// refresh tokens too.
	but := map[string]map[string]verdict{
		"a refresh token as an access token": {"/oauth2/introspect": accepted},
	}
	verifiers := tg.verifiers(t)
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			for _, v := range verifiers {
				want := row.want
				if w, ok := but[row.name][v.name]; ok {
					want = w
				}
				if got := v.check(t, row.sends); got != want {
					t.Errorf("%s: %s, want %s", v.name, got, want)
				}
			}
		})
	}
}
