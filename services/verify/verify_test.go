package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/chave/chave/services/verify"
)

const (
	issuer   = "https://auth.example"
	audience = "chave"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// staticKeys is a KeySource over a fixed set.
type staticKeys struct{ set jwk.Set }

func (s staticKeys) Keys(context.Context) (jwk.Set, error) { return s.set, nil }

type failingKeys struct{}

var errKeysDown = errors.New("keys down")

func (failingKeys) Keys(context.Context) (jwk.Set, error) { return nil, errKeysDown }

// testKey is a private key with its published JWK.
type testKey struct {
	kid  string
	alg  jwa.SignatureAlgorithm
	priv any
	pub  jwk.Key
}

func newTestKey(t testing.TB, alg jwa.SignatureAlgorithm, kid string) testKey {
	t.Helper()
	var priv, pub any
	switch alg {
	case jwa.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, k.Public()
	case jwa.ES384:
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, k.Public()
	case jwa.EdDSA:
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, p
	case jwa.HS512:
		secret := make([]byte, 64)
		rand.Read(secret)
		priv, pub = secret, secret
	default:
		t.Fatalf("no test key for %s", alg)
	}
	jk, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: "sig"} {
		if err := jk.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	return testKey{kid: kid, alg: alg, priv: priv, pub: jk}
}

func keySet(t testing.TB, keys ...jwk.Key) staticKeys {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	return staticKeys{set}
}

func newVerifier(t testing.TB, keys verify.KeySource, algs ...jwa.SignatureAlgorithm) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{
		Issuer: issuer, Audience: audience, Algorithms: algs, Keys: keys,
		Clock: func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("verify.New: %v", err)
	}
	return v
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// signRaw builds a compact JWS from a header and payload given as JSON
// values, signed with alg and key.
func signRaw(t testing.TB, hdr, claims map[string]any, alg jwa.SignatureAlgorithm, key any) string {
	t.Helper()
	input := b64(mustJSON(t, hdr)) + "." + b64(mustJSON(t, claims))
	signer, err := jws.NewSigner(alg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), key)
	if err != nil {
		t.Fatalf("signing with %s: %v", alg, err)
	}
	return input + "." + b64(sig)
}

func validHeader(k testKey) map[string]any {
	return map[string]any{"alg": k.alg.String(), "kid": k.kid, "typ": "at+jwt"}
}

func validClaims() map[string]any {
	return map[string]any{
		"iss":       issuer,
		"sub":       "client-1",
		"client_id": "client-1",
		"aud":       audience,
		"iat":       now.Add(-time.Minute).Unix(),
		"exp":       now.Add(29 * time.Minute).Unix(),
		"jti":       "jti-1",
		"scope":     "commercial inventory",
		"tenantid":  "acme",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestVerifyValid(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.HS512} {
		t.Run(alg.String(), func(t *testing.T) {
			k := newTestKey(t, alg, "k1")
			v := newVerifier(t, keySet(t, k.pub), alg)
			got, err := v.Verify(context.Background(), signRaw(t, validHeader(k), validClaims(), alg, k.priv))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := verify.Claims{
				Issuer: issuer, Subject: "client-1", ClientID: "client-1", Audience: []string{audience},
				IssuedAt: now.Add(-time.Minute), Expiry: now.Add(29 * time.Minute), ID: "jti-1",
				Scopes: []string{"commercial", "inventory"}, TenantID: "acme", KeyID: "k1",
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("claims = %+v\nwant %+v", got, want)
			}
			if !got.HasScope("inventory") || got.HasScope("labels") {
				t.Errorf("HasScope wrong for %v", got.Scopes)
			}
		})
	}
}

// TestVerifySessionID: sid, the refresh-token family, is optional and read
// as is.
func TestVerifySessionID(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newVerifier(t, keySet(t, k.pub))
	for _, tt := range []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"with sid", with(validClaims(), "sid", "fam-1"), "fam-1"},
		{"without sid", validClaims(), ""},
		{"empty sid", with(validClaims(), "sid", ""), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), signRaw(t, validHeader(k), tt.claims, jwa.ES256, k.priv))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.SessionID != tt.want {
				t.Errorf("SessionID = %q, want %q", got.SessionID, tt.want)
			}
		})
	}
}

// TestVerifySecretVersion: sv, the credential's secret version, is
// optional and read as is.
func TestVerifySecretVersion(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newVerifier(t, keySet(t, k.pub))
	for name, tt := range map[string]struct {
		claims map[string]any
		want   string
	}{
		"with sv":    {with(validClaims(), "sv", "v1"), "v1"},
		"without sv": {validClaims(), ""},
	} {
		got, err := v.Verify(context.Background(), signRaw(t, validHeader(k), tt.claims, jwa.ES256, k.priv))
		if err != nil || got.SecretVersion != tt.want {
			t.Errorf("%s: SecretVersion = %q, %v; want %q", name, got.SecretVersion, err, tt.want)
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newVerifier(t, keySet(t, k.pub))
	tests := []struct {
		name   string
		hdr    map[string]any
		claims map[string]any
	}{
		{"typ application/at+jwt", with(validHeader(k), "typ", "application/at+jwt"), validClaims()},
		{"typ in upper case", with(validHeader(k), "typ", "AT+JWT"), validClaims()},
		{"aud array", validHeader(k), with(validClaims(), "aud", []string{"other", audience})},
		{"expired within the leeway", validHeader(k), with(validClaims(), "exp", now.Add(-29*time.Second).Unix())},
		{"iat in the future within the leeway", validHeader(k), with(validClaims(), "iat", now.Add(29*time.Second).Unix())},
		{"nbf in the past", validHeader(k), with(validClaims(), "nbf", now.Add(-time.Hour).Unix())},
		{"fractional dates", validHeader(k), with(validClaims(), "exp", float64(now.Unix())+600.5)},
		{"no scope, no tenant", validHeader(k), with(validClaims(), "scope", nil, "tenantid", nil)},
		{"ignored jku and x5u", with(validHeader(k), "jku", "https://evil.example/jwks", "x5u", "https://evil.example/cert"), validClaims()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), signRaw(t, tt.hdr, tt.claims, jwa.ES256, k.priv)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	other := newTestKey(t, jwa.ES256, "k1") // same kid, different key
	attacker := newTestKey(t, jwa.ES256, "attacker")
	p384 := newTestKey(t, jwa.ES384, "p384")
	ctx := context.Background()
	valid := signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv)
	parts := strings.Split(valid, ".")

	// The public key's encodings an attacker might try as an HMAC secret.
	pubDER, err := x509.MarshalPKIXPublicKey(k.priv.(*ecdsa.PrivateKey).Public())
	if err != nil {
		t.Fatal(err)
	}
	pubJWK := mustJSON(t, k.pub)

	// A P-384 key published as ES256 under kid "p384".
	p384AsES256, err := p384.pub.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if err := p384AsES256.Set(jwk.AlgorithmKey, jwa.ES256); err != nil {
		t.Fatal(err)
	}
	// A key published for encryption only.
	encPriv := newTestKey(t, jwa.ES256, "enc")
	encKey, err := encPriv.pub.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if err := encKey.Set(jwk.KeyUsageKey, "enc"); err != nil {
		t.Fatal(err)
	}

	keys := keySet(t, k.pub, p384AsES256, encKey)

	// The JSON serialization of a token that is otherwise valid.
	jsonSerialized, err := jws.Sign(mustJSON(t, validClaims()), jws.WithJSON(),
		jws.WithKey(jwa.ES256, k.priv, jws.WithProtectedHeaders(mustHeaders(t, validHeader(k)))))
	if err != nil {
		t.Fatal(err)
	}

	// An inline jwk header carrying the attacker's key, signed by it.
	attackerJWK := map[string]any{}
	if err := json.Unmarshal(mustJSON(t, attacker.pub), &attackerJWK); err != nil {
		t.Fatal(err)
	}
	inlineJWK := signRaw(t, with(validHeader(k), "jwk", attackerJWK), validClaims(), jwa.ES256, attacker.priv)

	tests := []struct {
		name   string
		token  string
		algs   []jwa.SignatureAlgorithm
		reason verify.Reason
	}{
		{"empty", "", nil, verify.ReasonMalformed},
		{"garbage", "not a token", nil, verify.ReasonMalformed},
		{"two segments", parts[0] + "." + parts[1], nil, verify.ReasonMalformed},
		{"four segments", valid + ".x", nil, verify.ReasonMalformed},
		{"empty signature", parts[0] + "." + parts[1] + ".", nil, verify.ReasonMalformed},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2], nil, verify.ReasonMalformed},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]) + "+." + parts[1] + "." + parts[2], nil, verify.ReasonMalformed},
		{"JSON serialization", string(jsonSerialized), nil, verify.ReasonMalformed},
		{"too large", valid + strings.Repeat("A", verify.MaxTokenSize), nil, verify.ReasonMalformed},
		{"header not JSON", b64([]byte("{")) + "." + parts[1] + "." + parts[2], nil, verify.ReasonMalformed},

		{"alg none, no signature", b64(mustJSON(t, with(validHeader(k), "alg", "none"))) + "." + parts[1] + ".", nil, verify.ReasonMalformed},
		{"alg none with a signature", b64(mustJSON(t, with(validHeader(k), "alg", "none"))) + "." + parts[1] + "." + parts[2], nil, verify.ReasonHeader},
		{"alg none even if listed", b64(mustJSON(t, with(validHeader(k), "alg", "none"))) + "." + parts[1] + "." + parts[2], []jwa.SignatureAlgorithm{jwa.ES256, jwa.HS256}, verify.ReasonHeader},
		{"alg confusion: HS256 with the public key (DER)", signRaw(t, with(validHeader(k), "alg", "HS256"), validClaims(), jwa.HS256, pubDER), nil, verify.ReasonHeader},
		{"alg confusion: HS256 with the public key (JWK), HS256 allowed", signRaw(t, with(validHeader(k), "alg", "HS256"), validClaims(), jwa.HS256, pubJWK), []jwa.SignatureAlgorithm{jwa.ES256, jwa.HS256}, verify.ReasonUnknownKey},
		{"alg confusion: HS256 with the public key (DER), HS256 allowed", signRaw(t, with(validHeader(k), "alg", "HS256"), validClaims(), jwa.HS256, pubDER), []jwa.SignatureAlgorithm{jwa.ES256, jwa.HS256}, verify.ReasonUnknownKey},
		{"alg not allowed", signRaw(t, with(validHeader(p384), "alg", "ES384"), validClaims(), jwa.ES384, p384.priv), nil, verify.ReasonHeader},
		{"alg differs from the key's", signRaw(t, with(validHeader(k), "alg", "ES384"), validClaims(), jwa.ES384, p384.priv), []jwa.SignatureAlgorithm{jwa.ES256, jwa.ES384}, verify.ReasonUnknownKey},
		{"key on the wrong curve", signRaw(t, with(validHeader(p384), "alg", "ES256"), validClaims(), jwa.ES384, p384.priv), nil, verify.ReasonUnknownKey},
		{"key for encryption", signRaw(t, validHeader(encPriv), validClaims(), jwa.ES256, encPriv.priv), nil, verify.ReasonUnknownKey},

		{"wrong kid", signRaw(t, with(validHeader(k), "kid", "nope"), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonUnknownKey},
		{"missing kid", signRaw(t, with(validHeader(k), "kid", nil), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonHeader},
		{"kid not a string", signRaw(t, with(validHeader(k), "kid", 1), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonMalformed},
		{"other key, same kid", signRaw(t, validHeader(other), validClaims(), jwa.ES256, other.priv), nil, verify.ReasonSignature},
		{"inline jwk of the signer", inlineJWK, nil, verify.ReasonSignature},
		{"tampered payload", parts[0] + "." + b64(mustJSON(t, with(validClaims(), "scope", "registry.admin"))) + "." + parts[2], nil, verify.ReasonSignature},
		{"tampered header", b64(mustJSON(t, with(validHeader(k), "typ", "application/at+jwt"))) + "." + parts[1] + "." + parts[2], nil, verify.ReasonSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:40], nil, verify.ReasonSignature},

		{"wrong typ", signRaw(t, with(validHeader(k), "typ", "JWT"), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonHeader},
		{"missing typ", signRaw(t, with(validHeader(k), "typ", nil), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonHeader},
		{"crit header", signRaw(t, with(validHeader(k), "crit", []string{"exp"}), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonHeader},
		{"crit null", signRaw(t, with(validHeader(k), "crit", json.RawMessage("null")), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonHeader},
		{"b64 false", signRaw(t, with(validHeader(k), "b64", false), validClaims(), jwa.ES256, k.priv), nil, verify.ReasonHeader},

		{"expired", signRaw(t, validHeader(k), with(validClaims(), "exp", now.Add(-31*time.Second).Unix()), jwa.ES256, k.priv), nil, verify.ReasonExpired},
		{"expired exactly at the leeway", signRaw(t, validHeader(k), with(validClaims(), "exp", now.Add(-30*time.Second).Unix()), jwa.ES256, k.priv), nil, verify.ReasonExpired},
		{"missing exp", signRaw(t, validHeader(k), with(validClaims(), "exp", nil), jwa.ES256, k.priv), nil, verify.ReasonMissingClaim},
		{"null exp", signRaw(t, validHeader(k), with(validClaims(), "exp", json.RawMessage("null")), jwa.ES256, k.priv), nil, verify.ReasonMissingClaim},
		{"exp a string", signRaw(t, validHeader(k), with(validClaims(), "exp", fmt.Sprint(now.Add(time.Hour).Unix())), jwa.ES256, k.priv), nil, verify.ReasonMalformed},
		{"exp negative", signRaw(t, validHeader(k), with(validClaims(), "exp", -1), jwa.ES256, k.priv), nil, verify.ReasonMalformed},
		{"exp huge", signRaw(t, validHeader(k), with(validClaims(), "exp", 1e300), jwa.ES256, k.priv), nil, verify.ReasonMalformed},
		{"nbf in the future", signRaw(t, validHeader(k), with(validClaims(), "nbf", now.Add(time.Minute).Unix()), jwa.ES256, k.priv), nil, verify.ReasonNotYetValid},
		{"iat in the future", signRaw(t, validHeader(k), with(validClaims(), "iat", now.Add(time.Minute).Unix()), jwa.ES256, k.priv), nil, verify.ReasonNotYetValid},
		{"missing iat", signRaw(t, validHeader(k), with(validClaims(), "iat", nil), jwa.ES256, k.priv), nil, verify.ReasonMissingClaim},
		{"missing sub", signRaw(t, validHeader(k), with(validClaims(), "sub", nil), jwa.ES256, k.priv), nil, verify.ReasonMissingClaim},
		{"missing client_id", signRaw(t, validHeader(k), with(validClaims(), "client_id", nil), jwa.ES256, k.priv), nil, verify.ReasonMissingClaim},
		{"missing jti", signRaw(t, validHeader(k), with(validClaims(), "jti", nil), jwa.ES256, k.priv), nil, verify.ReasonMissingClaim},
		{"wrong iss", signRaw(t, validHeader(k), with(validClaims(), "iss", issuer+"/"), jwa.ES256, k.priv), nil, verify.ReasonIssuer},
		{"missing iss", signRaw(t, validHeader(k), with(validClaims(), "iss", nil), jwa.ES256, k.priv), nil, verify.ReasonIssuer},
		{"wrong aud", signRaw(t, validHeader(k), with(validClaims(), "aud", "other"), jwa.ES256, k.priv), nil, verify.ReasonAudience},
		{"aud list without ours", signRaw(t, validHeader(k), with(validClaims(), "aud", []string{"a", "b"}), jwa.ES256, k.priv), nil, verify.ReasonAudience},
		{"missing aud", signRaw(t, validHeader(k), with(validClaims(), "aud", nil), jwa.ES256, k.priv), nil, verify.ReasonAudience},
		{"aud a number", signRaw(t, validHeader(k), with(validClaims(), "aud", 7), jwa.ES256, k.priv), nil, verify.ReasonMalformed},
		{"sid a number", signRaw(t, validHeader(k), with(validClaims(), "sid", 7), jwa.ES256, k.priv), nil, verify.ReasonMalformed},
		{"claims an array", parts[0] + "." + b64([]byte(`[1]`)) + "." + parts[2], nil, verify.ReasonSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, keys, tt.algs...)
			claims, err := v.Verify(ctx, tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", claims)
			}
			if !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("Verify error %v does not match ErrInvalidToken", err)
			}
			var ve *verify.Error
			if !errors.As(err, &ve) || ve.Reason != tt.reason {
				t.Errorf("Verify error = %v, want reason %q", err, tt.reason)
			}
		})
	}
}

func mustHeaders(t testing.TB, m map[string]any) jws.Headers {
	t.Helper()
	h := jws.NewHeaders()
	for k, v := range m {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestVerifyKeySourceFailureIsNotInvalidToken(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	v := newVerifier(t, failingKeys{})
	_, err := v.Verify(context.Background(), signRaw(t, validHeader(k), validClaims(), jwa.ES256, k.priv))
	if !errors.Is(err, errKeysDown) || errors.Is(err, verify.ErrInvalidToken) {
		t.Errorf("Verify error = %v, want the key source's error and not ErrInvalidToken", err)
	}
}

func TestVerifyLeewayAndClock(t *testing.T) {
	k := newTestKey(t, jwa.ES256, "k1")
	tok := signRaw(t, validHeader(k), with(validClaims(), "exp", now.Unix()), jwa.ES256, k.priv)
	for _, tt := range []struct {
		leeway time.Duration
		at     time.Time
		ok     bool
	}{
		{time.Second, now.Add(-time.Nanosecond), true},
		{time.Second, now.Add(time.Second - time.Nanosecond), true},
		{time.Second, now.Add(time.Second), false},
		{0, now.Add(29 * time.Second), true}, // the default 30s
		{0, now.Add(30 * time.Second), false},
		{verify.MaxLeeway, now.Add(4 * time.Minute), true},
	} {
		v, err := verify.New(verify.Config{
			Issuer: issuer, Audience: audience, Keys: keySet(t, k.pub), Leeway: tt.leeway,
			Clock: func() time.Time { return tt.at },
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), tok)
		if (err == nil) != tt.ok {
			t.Errorf("leeway %v at exp%+v: err = %v, want ok=%v", tt.leeway, tt.at.Sub(now), err, tt.ok)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	keys := staticKeys{jwk.NewSet()}
	good := verify.Config{Issuer: issuer, Audience: audience, Keys: keys}
	tests := []struct {
		name   string
		mutate func(*verify.Config)
	}{
		{"no issuer", func(c *verify.Config) { c.Issuer = "" }},
		{"no audience", func(c *verify.Config) { c.Audience = "" }},
		{"no keys", func(c *verify.Config) { c.Keys = nil }},
		{"negative leeway", func(c *verify.Config) { c.Leeway = -time.Second }},
		{"leeway too large", func(c *verify.Config) { c.Leeway = verify.MaxLeeway + time.Second }},
		{"alg none", func(c *verify.Config) { c.Algorithms = []jwa.SignatureAlgorithm{jwa.NoSignature} }},
		{"unknown alg", func(c *verify.Config) { c.Algorithms = []jwa.SignatureAlgorithm{"ES999"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			if _, err := verify.New(cfg); err == nil {
				t.Errorf("New(%+v) succeeded, want an error", cfg)
			}
		})
	}
	if _, err := verify.New(good); err != nil {
		t.Errorf("New(good config): %v", err)
	}
}

// FuzzVerify feeds Verify mutations of valid tokens: it must never panic,
// must reject with ErrInvalidToken, and whatever it accepts must carry the
// configured issuer and audience and be unexpired.
func FuzzVerify(f *testing.F) {
	k := newTestKey(f, jwa.ES256, "k1")
	hk := newTestKey(f, jwa.HS512, "h1")
	f.Add(signRaw(f, validHeader(k), validClaims(), jwa.ES256, k.priv))
	f.Add(signRaw(f, validHeader(hk), validClaims(), jwa.HS512, hk.priv))
	f.Add(signRaw(f, validHeader(k), with(validClaims(), "aud", []string{"x", audience}, "nbf", 1), jwa.ES256, k.priv))
	f.Add(signRaw(f, with(validHeader(k), "alg", "none"), validClaims(), jwa.HS512, hk.priv))
	f.Add("e30.e30.e30")
	f.Add(`{"payload":"e30","signatures":[]}`)
	v := newVerifier(f, keySet(f, k.pub, hk.pub), jwa.ES256, jwa.HS512)
	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := v.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("Verify(%q) error %v does not match ErrInvalidToken", raw, err)
			}
			return
		}
		if claims.Issuer != issuer || !contains(claims.Audience, audience) || !now.Before(claims.Expiry.Add(verify.DefaultLeeway)) ||
			claims.Subject == "" || claims.ClientID == "" || claims.ID == "" {
			t.Fatalf("Verify(%q) accepted bad claims %+v", raw, claims)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.HS512} {
		b.Run(alg.String(), func(b *testing.B) {
			k := newTestKey(b, alg, "k1")
			v := newVerifier(b, keySet(b, k.pub), alg)
			tok := signRaw(b, validHeader(k), validClaims(), alg, k.priv)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
