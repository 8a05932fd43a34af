package verify_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// BenchmarkVerifyNeverSeen verifies ES256 tokens that differ from each
// other (their jti), each once: the cost of a token the verifier has
// never seen before.
func BenchmarkVerifyNeverSeen(b *testing.B) {
	k := newTestKey(b, jwa.ES256, "k1")
	v := newVerifier(b, keySet(b, k.pub), jwa.ES256)
	ctx := context.Background()
	const pool = 4096
	tokens := make([]string, pool)
	round := 0
	mint := func() {
		round++
		for i := range tokens {
			tokens[i] = signRaw(b, validHeader(k), with(validClaims(), "jti", fmt.Sprintf("jti-%d-%d", round, i)), jwa.ES256, k.priv)
		}
	}
	mint()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%pool == 0 {
			b.StopTimer()
			mint()
			b.StartTimer()
		}
		if _, err := v.Verify(ctx, tokens[i%pool]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareES256 is the reference BenchmarkVerifyNeverSeen is held
// to: one ES256 signature check with the same library, nothing else.
func BenchmarkBareES256(b *testing.B) {
	k := newTestKey(b, jwa.ES256, "k1")
	tok := signRaw(b, validHeader(k), validClaims(), jwa.ES256, k.priv)
	i := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:i])
	sig, err := decodeB64(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	jv, err := jws.NewVerifier(jwa.ES256)
	if err != nil {
		b.Fatal(err)
	}
	var raw any
	if err := k.pub.Raw(&raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := jv.Verify(input, sig, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func decodeB64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
