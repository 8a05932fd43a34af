package signing

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/chave/chave/services/verify"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Compile-time check: a KeySet is a key source for verify.
var _ verify.KeySource = (*KeySet)(nil)

// keySets caches one generated set per algorithm: RSA generation is slow
// under the race detector.
var keySets = struct {
	sync.Mutex
	m map[jwa.SignatureAlgorithm]*KeySet
}{m: map[jwa.SignatureAlgorithm]*KeySet{}}

func keySetFor(t testing.TB, alg jwa.SignatureAlgorithm) *KeySet {
	t.Helper()
	keySets.Lock()
	defer keySets.Unlock()
	if s, ok := keySets.m[alg]; ok {
		return s
	}
	s, err := Generate(alg, t0)
	if err != nil {
		t.Fatalf("Generate(%s): %v", alg, err)
	}
	keySets.m[alg] = s
	return s
}

func testClaims() Claims {
	return Claims{
		Issuer:   "https://auth.example",
		Subject:  "client-1",
		ClientID: "client-1",
		Audience: []string{"chave"},
		IssuedAt: t0,
		Expiry:   t0.Add(30 * time.Minute),
		Scopes:   []string{"commercial", "inventory"},
		TenantID: "acme",
	}
}

func decodeJSONSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		t.Fatalf("segment %q is not base64url: %v", seg, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("segment %s is not a JSON object: %v", raw, err)
	}
	return m
}

func TestSignVerifiesForEveryAlgorithm(t *testing.T) {
	for _, alg := range Algorithms() {
		t.Run(alg.String(), func(t *testing.T) {
			s := keySetFor(t, alg)
			want := testClaims()
			tok, err := s.Sign(want)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d segments, want 3", len(parts))
			}
			hdr := decodeJSONSegment(t, parts[0])
			wantHdr := map[string]any{"alg": alg.String(), "kid": s.Active().ID(), "typ": "at+jwt"}
			if fmt.Sprint(hdr) != fmt.Sprint(wantHdr) {
				t.Errorf("header = %v, want %v", hdr, wantHdr)
			}
			claims := decodeJSONSegment(t, parts[1])
			for name, v := range map[string]any{
				"iss": "https://auth.example", "sub": "client-1", "client_id": "client-1",
				"aud": "chave", "iat": float64(t0.Unix()), "exp": float64(t0.Add(30 * time.Minute).Unix()),
				"scope": "commercial inventory", "tenantid": "acme",
			} {
				if claims[name] != v {
					t.Errorf("claim %s = %#v, want %#v", name, claims[name], v)
				}
			}
			if jti, _ := claims["jti"].(string); len(jti) < 22 {
				t.Errorf("jti = %q, want at least 128 bits of text", jti)
			}

			v, err := verify.New(verify.Config{
				Issuer: "https://auth.example", Audience: "chave",
				Algorithms: []jwa.SignatureAlgorithm{alg}, Keys: s,
				Clock: func() time.Time { return t0.Add(time.Minute) },
			})
			if err != nil {
				t.Fatalf("verify.New: %v", err)
			}
			got, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want.ID, want.KeyID = claims["jti"].(string), s.Active().ID()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("verified claims = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestSignUniqueJTI(t *testing.T) {
	s := keySetFor(t, jwa.ES256)
	seen := map[string]bool{}
	for range 100 {
		tok, err := s.Sign(testClaims())
		if err != nil {
			t.Fatal(err)
		}
		jti := decodeJSONSegment(t, strings.Split(tok, ".")[1])["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %q repeated", jti)
		}
		seen[jti] = true
	}
}

func TestSignKeepsGivenJTIAndAudienceList(t *testing.T) {
	s := keySetFor(t, jwa.ES256)
	c := testClaims()
	c.ID = "my-jti"
	c.Audience = []string{"a", "b"}
	c.Scopes = nil
	c.TenantID = ""
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	claims := decodeJSONSegment(t, strings.Split(tok, ".")[1])
	if claims["jti"] != "my-jti" {
		t.Errorf("jti = %v, want my-jti", claims["jti"])
	}
	if fmt.Sprint(claims["aud"]) != "[a b]" {
		t.Errorf("aud = %v, want [a b]", claims["aud"])
	}
	// docs/spec.md §2.3 lists both claims: present even when empty (an operator
	// token has no tenant; a credential may reach no context).
	for _, empty := range []string{"scope", "tenantid"} {
		if v, ok := claims[empty]; !ok || v != "" {
			t.Errorf("claim %s = %v (present %v), want an empty string", empty, v, ok)
		}
	}
}

func TestSignRejectsBadClaims(t *testing.T) {
	s := keySetFor(t, jwa.ES256)
	tests := []struct {
		name   string
		mutate func(*Claims)
	}{
		{"no issuer", func(c *Claims) { c.Issuer = "" }},
		{"no subject", func(c *Claims) { c.Subject = "" }},
		{"no client id", func(c *Claims) { c.ClientID = "" }},
		{"no audience", func(c *Claims) { c.Audience = nil }},
		{"no iat", func(c *Claims) { c.IssuedAt = time.Time{} }},
		{"exp equals iat", func(c *Claims) { c.Expiry = c.IssuedAt }},
		{"exp within the same second", func(c *Claims) { c.Expiry = c.IssuedAt.Add(500 * time.Millisecond) }},
		{"scope with a space", func(c *Claims) { c.Scopes = []string{"a b"} }},
		{"empty scope", func(c *Claims) { c.Scopes = []string{""} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims()
			tt.mutate(&c)
			if tok, err := s.Sign(c); err == nil {
				t.Errorf("Sign(%+v) = %q, want an error", c, tok)
			}
		})
	}
}

func TestGenerateRejectsUnsupportedAlgorithm(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.NoSignature, jwa.HS256, jwa.ES384, "bogus"} {
		if _, err := Generate(alg, t0); err == nil {
			t.Errorf("Generate(%q) succeeded, want an error", alg)
		}
	}
}

func TestPublicJWKS(t *testing.T) {
	for _, alg := range Algorithms() {
		t.Run(alg.String(), func(t *testing.T) {
			s := keySetFor(t, alg)
			doc, err := s.PublicJWKS()
			if err != nil {
				t.Fatal(err)
			}
			var raw struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(doc, &raw); err != nil {
				t.Fatalf("JWKS %s: %v", doc, err)
			}
			if alg == jwa.HS512 {
				if raw.Keys == nil || len(raw.Keys) != 0 {
					t.Fatalf("HS512 JWKS = %s, want {\"keys\":[]}", doc)
				}
				return
			}
			if len(raw.Keys) != 1 {
				t.Fatalf("JWKS has %d keys, want 1: %s", len(raw.Keys), doc)
			}
			k := raw.Keys[0]
			if k["kid"] != s.Active().ID() || k["alg"] != alg.String() || k["use"] != "sig" {
				t.Errorf("JWK = %v, want kid %s, alg %s, use sig", k, s.Active().ID(), alg)
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", createdMember} {
				if _, ok := k[private]; ok {
					t.Errorf("public JWK holds %q: %s", private, doc)
				}
			}
			// The kid is the RFC 7638 thumbprint of the public key.
			set, err := jwk.Parse(doc)
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := set.Key(0)
			tp, err := pub.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got := base64.RawURLEncoding.EncodeToString(tp); got != s.Active().ID() {
				t.Errorf("kid = %s, want thumbprint %s", s.Active().ID(), got)
			}
			// Callers cannot change the published document.
			doc[0] = 'X'
			again, _ := s.PublicJWKS()
			if again[0] != '{' {
				t.Error("PublicJWKS returned a shared buffer")
			}
		})
	}
}

func TestLoadOrCreate(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.HS512} {
		t.Run(alg.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			s1, err := LoadOrCreate(path, alg, t0)
			if err != nil {
				t.Fatalf("LoadOrCreate (create): %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("key file mode = %v, want 0600", mode)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the key file (no temporary left)", len(entries))
			}

			s2, err := LoadOrCreate(path, alg, t0.Add(time.Hour))
			if err != nil {
				t.Fatalf("LoadOrCreate (load): %v", err)
			}
			k1, k2 := s1.Active(), s2.Active()
			if k1.ID() != k2.ID() || k2.Algorithm() != alg || !k2.Created().Equal(t0) {
				t.Errorf("reloaded key = %v, want %v", k2, k1)
			}
			// A token from the first instance verifies with the second.
			tok, err := s1.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			v, err := verify.New(verify.Config{
				Issuer: "https://auth.example", Audience: "chave",
				Algorithms: []jwa.SignatureAlgorithm{alg}, Keys: s2,
				Clock: func() time.Time { return t0 },
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Errorf("token from the created set does not verify with the loaded set: %v", err)
			}
		})
	}
}

func TestLoadOrCreateRejectsAlgorithmChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if _, err := LoadOrCreate(path, jwa.ES256, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path, jwa.EdDSA, t0); err == nil || !strings.Contains(err.Error(), "ES256") {
		t.Errorf("LoadOrCreate with another algorithm: err = %v, want an error naming the file's ES256", err)
	}
}

func TestLoadOrCreateDefaultsToES256(t *testing.T) {
	s, err := LoadOrCreate(filepath.Join(t.TempDir(), "keys.json"), "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Active().Algorithm(); got != jwa.ES256 {
		t.Errorf("default algorithm = %s, want ES256", got)
	}
}

func TestLoadOrCreateRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := LoadOrCreate(path, jwa.ES256, t0)
			errs[i] = err
			if err == nil {
				kids[i] = s.Active().ID()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate #%d: %v", i, errs[i])
		}
		if kids[i] != kids[0] {
			t.Errorf("LoadOrCreate #%d has kid %s, #0 has %s: concurrent creators must agree", i, kids[i], kids[0])
		}
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Active().ID() != kids[0] {
		t.Errorf("file holds kid %s, the creators use %s", loaded.Active().ID(), kids[0])
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	good, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := good.marshalKeyFile()
	if err != nil {
		t.Fatal(err)
	}
	publicOnly, _ := good.PublicJWKS()
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"not JSON", "keys"},
		{"no keys", `{"keys":[]}`},
		{"public keys only", string(publicOnly)},
		{"no created", strings.Replace(string(data), `"created"`, `"x-created"`, 1)},
		{"bad created", strings.Replace(string(data), `"2030-01-02T03:04:05Z"`, `"yesterday"`, 1)},
		{"no kid", strings.Replace(string(data), `"kid"`, `"x-kid"`, 1)},
		{"wrong alg for the key", strings.Replace(string(data), `"ES256"`, `"EdDSA"`, 1)},
		{"encryption key", strings.Replace(string(data), `"use": "sig"`, `"use": "enc"`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Load(path)
			t.Logf("Load: %v", err)
			if err == nil {
				t.Errorf("Load(%s) = %v, want an error", tt.data, s)
			}
		})
	}
}

func TestSeveralKeys(t *testing.T) {
	// An older key that was retired, the active key, and nothing else:
	// the active one signs, both are published.
	old, err := generateKey(jwa.ES256, t0.Add(-24*time.Hour), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := old.private.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	retired, err := newKey(jwa.ES256, old.id, old.created, time.Time{}, t0.Add(-time.Hour), raw)
	if err != nil {
		t.Fatal(err)
	}
	current, err := generateKey(jwa.ES256, t0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newKeySet([]*Key{retired, current})
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.marshalKeyFile()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	loaded.state.now = func() time.Time { return t0 }
	if got := loaded.Active().ID(); got != current.id {
		t.Errorf("active kid = %s, want the non-retired %s", got, current.id)
	}
	// Before its retirement, the old key signed; in the gap between its
	// retirement and the next activation, the next key signs, never the
	// retired one.
	if got := loaded.ActiveAt(t0.Add(-2 * time.Hour)).ID(); got != old.id {
		t.Errorf("active kid before the retirement = %s, want the old %s", got, old.id)
	}
	if got := loaded.ActiveAt(t0.Add(-30 * time.Minute)).ID(); got != current.id {
		t.Errorf("active kid in the gap = %s, want the next %s", got, current.id)
	}
	all := loaded.All()
	if len(all) != 2 || all[1].ID() != old.id || !all[1].Retired().Equal(t0.Add(-time.Hour)) {
		t.Errorf("All() = %v, want [%s, retired %s]", all, current.id, old.id)
	}
	doc, _ := loaded.PublicJWKS()
	for _, kid := range []string{current.id, old.id} {
		if !bytes.Contains(doc, []byte(kid)) {
			t.Errorf("JWKS lacks kid %s: %s", kid, doc)
		}
	}

	onlyRetired, err := newKeySet([]*Key{retired})
	if err == nil {
		t.Errorf("a set whose keys are all retired = %v, want an error", onlyRetired)
	}
	if _, err := newKeySet([]*Key{current, current}); err == nil {
		t.Error("a set with a duplicate kid was accepted")
	}
}

func TestKeysNeverPrintPrivateMaterial(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.HS512} {
		t.Run(alg.String(), func(t *testing.T) {
			s := keySetFor(t, alg)
			k := s.Active()
			file, err := s.marshalKeyFile()
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(file, &doc); err != nil {
				t.Fatal(err)
			}
			secret, _ := doc.Keys[0]["d"].(string)
			if alg == jwa.HS512 {
				secret, _ = doc.Keys[0]["k"].(string)
			}
			if secret == "" {
				t.Fatalf("key file lacks the private part: %s", file)
			}

			var logged bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logged, nil))
			logger.Info("key", "key", k, "set", s)
			logger.Info("key value", "key", *k)
			outputs := []string{
				fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k),
				fmt.Sprint(*k), fmt.Sprintf("%+v", *k), fmt.Sprintf("%#v", *k),
				fmt.Sprint(s), fmt.Sprintf("%+v", s),
				logged.String(),
			}
			secretBytes, _ := base64.RawURLEncoding.DecodeString(secret)
			for _, out := range outputs {
				if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprint(secretBytes)) ||
					strings.Contains(out, fmt.Sprintf("%x", secretBytes)) {
					t.Errorf("output leaks the private key: %s", out)
				}
				if !strings.Contains(out, k.ID()) {
					t.Errorf("output %q does not name the kid %s", out, k.ID())
				}
			}
		})
	}
}

func TestECDSADERToJOSE(t *testing.T) {
	s := keySetFor(t, jwa.ES256)
	v, err := verify.New(verify.Config{
		Issuer: "https://auth.example", Audience: "chave", Keys: s,
		Clock: func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Enough signatures that short r and s (leading zero bytes) occur.
	for i := range 300 {
		tok, err := s.Sign(testClaims())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("signature #%d does not verify: %v", i, err)
		}
	}

	for _, der := range [][]byte{
		nil,
		{0x30},
		{0x30, 0x00},
		{0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01},                             // truncated
		{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},                 // trailing byte
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x03, 0x01, 0x01},                       // not an INTEGER
		{0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},                 // long form
		append([]byte{0x30, 0x25, 0x02, 0x21}, bytes.Repeat([]byte{1}, 33)...), // r too large
	} {
		if out, err := ecdsaDERToJOSE(der, 32); err == nil {
			t.Errorf("ecdsaDERToJOSE(%x) = %x, want an error", der, out)
		}
	}
	got, err := ecdsaDERToJOSE([]byte{0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x05}, 2)
	if err != nil || !bytes.Equal(got, []byte{0x00, 0x80, 0x00, 0x05}) {
		t.Errorf("ecdsaDERToJOSE = %x, %v; want 00800005", got, err)
	}
}

func TestWriteFileExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := writeFileExclusive(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	err := writeFileExclusive(path, []byte("two"))
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("second write: err = %v, want os.ErrExist", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Errorf("file = %q, want it untouched (one)", data)
	}
	if err := writeFileExclusive(filepath.Join(t.TempDir(), "missing", "f"), nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
