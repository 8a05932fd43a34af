package signing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// BenchmarkSign measures minting one access token, the hot path of every
// grant.
func BenchmarkSign(b *testing.B) {
	for _, alg := range Algorithms() {
		b.Run(alg.String(), func(b *testing.B) {
			s := keySetFor(b, alg)
			c := testClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignAlternatives measures what Sign was chosen over, with the
// same ES256 key and claims: jwx's jwt builder with jwt.Sign, and jws.Sign
// over a pre-serialized payload. Both go through jwx's key conversion on
// every call, which defeats crypto/ecdsa's per-key cache.
func BenchmarkSignAlternatives(b *testing.B) {
	s := keySetFor(b, jwa.ES256)
	key := s.Active()
	c := testClaims()
	hdr := jws.NewHeaders()
	for name, v := range map[string]any{jws.TypeKey: TokenType, jws.KeyIDKey: key.id} {
		if err := hdr.Set(name, v); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("chave", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Sign(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwt.Builder+jwt.Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tok, err := jwt.NewBuilder().
				Issuer(c.Issuer).Subject(c.Subject).Audience(c.Audience).
				IssuedAt(c.IssuedAt).Expiration(c.Expiry).JwtID(NewTokenID()).
				Claim("client_id", c.ClientID).Claim("scope", strings.Join(c.Scopes, " ")).
				Claim("tenantid", c.TenantID).Build()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, key.private, jws.WithProtectedHeaders(hdr))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json+jws.Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			payload, err := json.Marshal(wireClaims{
				Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience[0], Exp: c.Expiry.Unix(),
				Iat: c.IssuedAt.Unix(), Jti: NewTokenID(), ClientID: c.ClientID,
				Scope: strings.Join(c.Scopes, " "), TenantID: c.TenantID,
			})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := jws.Sign(payload, jws.WithKey(jwa.ES256, key.signer, jws.WithProtectedHeaders(hdr))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimsJSON compares the claims' hand-written encoding with
// encoding/json's, which Sign used before.
func BenchmarkClaimsJSON(b *testing.B) {
	c := testClaims()
	w := wireClaims{Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience[0], Exp: c.Expiry.Unix(), Iat: c.IssuedAt.Unix(),
		Jti: NewTokenID(), ClientID: c.ClientID, Scope: strings.Join(c.Scopes, " "), TenantID: c.TenantID, Sv: "1"}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = w.appendJSON(make([]byte, 0, 256))
		}
	})
}
