package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Supported signing algorithms.
const (
	// DefaultAlgorithm signs when none is configured.
	DefaultAlgorithm = jwa.ES256
	// RSABits is the modulus size of generated RS256 keys.
	RSABits = 2048
	// HMACKeySize is the size in bytes of generated HS512 keys.
	HMACKeySize = 64
)

// Algorithms lists the algorithms a KeySet can sign with.
func Algorithms() []jwa.SignatureAlgorithm {
	return []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.RS256, jwa.HS512}
}

// Members of a key in the key file besides the standard JWK ones.
const (
	createdMember   = "created"   // RFC 3339 creation time
	activatesMember = "activates" // RFC 3339 time the key starts signing; absent means created
	retiredMember   = "retired"   // RFC 3339 time the key stops (or stopped) signing; absent until it is rotated out
)

// TokenType is the typ header of every access token (RFC 9068 §2.1).
const TokenType = "at+jwt"

// Key is one signing key. Its private part signs through crypto.Signer (or
// HMAC for HS512) and is never printed: String, GoString and LogValue show
// only the kid, alg and lifecycle times.
//
// A key's life: it is published from its creation; it signs from its
// activation (which a rotation sets after a pre-publication delay, so that
// verifiers caching the JWKS learn the key before any token carries it)
// until its retirement (the activation of the key that replaces it); it
// stays published until every token it signed has expired, and is then
// pruned. A Key is immutable: rotation replaces it with a retired copy.
type Key struct {
	id        string
	alg       jwa.SignatureAlgorithm
	created   time.Time
	activates time.Time // when the key starts signing; never zero
	retired   time.Time // when the key stops signing; zero until a rotation sets it

	signer crypto.Signer // ES256, EdDSA, RS256
	secret []byte        // HS512

	// header is the base64url protected header, ready to prefix payloads.
	header string
	// private is the key as stored in the key file.
	private jwk.Key
	// verification is what verifies the key's signatures: the public key
	// with kid, alg and use, or for HS512 the symmetric key itself.
	verification jwk.Key
}

// ID returns the key's kid.
func (k Key) ID() string { return k.id }

// Algorithm returns the key's signature algorithm.
func (k Key) Algorithm() jwa.SignatureAlgorithm { return k.alg }

// Created returns when the key was generated.
func (k Key) Created() time.Time { return k.created }

// Activates returns when the key starts (or started) signing. A key is
// published before it activates.
func (k Key) Activates() time.Time { return k.activates }

// Retired returns when the key stops (or stopped) signing; zero if no
// rotation has replaced it yet.
func (k Key) Retired() time.Time { return k.retired }

// signsAt reports whether t lies in the key's signing period.
func (k Key) signsAt(t time.Time) bool {
	return !t.Before(k.activates) && !k.retiredAt(t)
}

// retiredAt reports whether the key has stopped signing at t.
func (k Key) retiredAt(t time.Time) bool {
	return !k.retired.IsZero() && !t.Before(k.retired)
}

// pending reports whether the key is still to sign after t: it activates
// later and is not retired before it activates.
func (k Key) pending(t time.Time) bool {
	return k.activates.After(t) && (k.retired.IsZero() || k.retired.After(k.activates))
}

// Public returns the public key; nil for a symmetric (HS512) key.
func (k Key) Public() crypto.PublicKey {
	if k.signer == nil {
		return nil
	}
	return k.signer.Public()
}

// String describes the key without its private material.
func (k Key) String() string {
	s := fmt.Sprintf("signing key %s (%s, created %s", k.id, k.alg, k.created.Format(time.RFC3339))
	if !k.activates.Equal(k.created) {
		s += ", activates " + k.activates.Format(time.RFC3339)
	}
	if !k.retired.IsZero() {
		s += ", retired " + k.retired.Format(time.RFC3339)
	}
	return s + ")"
}

// GoString keeps %#v from printing private material.
func (k Key) GoString() string { return k.String() }

// LogValue logs the key's kid, alg and lifecycle times only.
func (k Key) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("kid", k.id),
		slog.String("alg", k.alg.String()),
		slog.Time("created", k.created),
		slog.Time("activates", k.activates),
	}
	if !k.retired.IsZero() {
		attrs = append(attrs, slog.Time("retired", k.retired))
	}
	return slog.GroupValue(attrs...)
}

// generateKey makes a new key for alg, created now and signing from
// activates (now if zero).
func generateKey(alg jwa.SignatureAlgorithm, now, activates time.Time) (*Key, error) {
	var raw any
	switch alg {
	case jwa.ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating ES256 key: %w", err)
		}
		raw = priv
	case jwa.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating EdDSA key: %w", err)
		}
		raw = priv
	case jwa.RS256:
		priv, err := rsa.GenerateKey(rand.Reader, RSABits)
		if err != nil {
			return nil, fmt.Errorf("generating RS256 key: %w", err)
		}
		raw = priv
	case jwa.HS512:
		secret := make([]byte, HMACKeySize)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("generating HS512 key: %w", err)
		}
		raw = secret
	default:
		return nil, fmt.Errorf("algorithm %q is not supported (use one of %v)", alg, Algorithms())
	}
	return newKey(alg, "", now, activates, time.Time{}, raw)
}

// keyFromJWK rebuilds a key read from the key file.
func keyFromJWK(k jwk.Key) (*Key, error) {
	kid := k.KeyID()
	if kid == "" {
		return nil, errors.New("key without kid")
	}
	alg := jwa.SignatureAlgorithm(k.Algorithm().String())
	if use := k.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, fmt.Errorf("key %s: use %q is not sig", kid, use)
	}
	created, err := timeMember(k, createdMember)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, err)
	}
	if created.IsZero() {
		return nil, fmt.Errorf("key %s: %q is missing", kid, createdMember)
	}
	activates, err := timeMember(k, activatesMember)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, err)
	}
	retired, err := timeMember(k, retiredMember)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, err)
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, err)
	}
	key, err := newKey(alg, kid, created, activates, retired, raw)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, err)
	}
	return key, nil
}

func timeMember(k jwk.Key, name string) (time.Time, error) {
	v, ok := k.Get(name)
	if !ok {
		return time.Time{}, nil
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not a string", name)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %w", name, err)
	}
	return t.UTC(), nil
}

// newKey checks that raw is a private key fit for alg and prepares
// everything signing needs. An empty kid is derived: the RFC 7638
// thumbprint of an asymmetric key, random for a symmetric one (whose
// thumbprint would be a hash of the secret). Times are kept to the second,
// as the key file holds them; a zero activates means created.
func newKey(alg jwa.SignatureAlgorithm, kid string, created, activates, retired time.Time, raw any) (*Key, error) {
	k := &Key{
		id:      kid,
		alg:     alg,
		created: created.UTC().Truncate(time.Second),
	}
	k.activates = k.created
	if !activates.IsZero() {
		k.activates = activates.UTC().Truncate(time.Second)
	}
	if !retired.IsZero() {
		k.retired = retired.UTC().Truncate(time.Second)
	}
	switch alg {
	case jwa.ES256:
		priv, ok := raw.(*ecdsa.PrivateKey)
		if !ok || priv.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ES256 needs a P-256 ECDSA private key, got %T", raw)
		}
		k.signer = priv
	case jwa.EdDSA:
		priv, ok := raw.(ed25519.PrivateKey)
		if !ok || len(priv) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("EdDSA needs an Ed25519 private key, got %T", raw)
		}
		k.signer = priv
	case jwa.RS256:
		priv, ok := raw.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("RS256 needs an RSA private key, got %T", raw)
		}
		if priv.N.BitLen() < RSABits {
			return nil, fmt.Errorf("RS256 needs at least %d bits, the key has %d", RSABits, priv.N.BitLen())
		}
		if err := priv.Validate(); err != nil {
			return nil, fmt.Errorf("invalid RSA key: %w", err)
		}
		priv.Precompute()
		k.signer = priv
	case jwa.HS512:
		secret, ok := raw.([]byte)
		if !ok || len(secret) < HMACKeySize {
			return nil, fmt.Errorf("HS512 needs a symmetric key of at least %d bytes", HMACKeySize)
		}
		k.secret = secret
	default:
		return nil, fmt.Errorf("algorithm %q is not supported (use one of %v)", alg, Algorithms())
	}

	private, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	verification := private
	if k.signer != nil {
		if verification, err = jwk.FromRaw(k.signer.Public()); err != nil {
			return nil, fmt.Errorf("encoding public key: %w", err)
		}
	}
	if k.id == "" {
		if k.id, err = newKeyID(verification, k.secret != nil); err != nil {
			return nil, err
		}
	}
	for _, jk := range []jwk.Key{private, verification} {
		if err := setMembers(jk, map[string]any{
			jwk.KeyIDKey:     k.id,
			jwk.AlgorithmKey: alg,
			jwk.KeyUsageKey:  jwk.ForSignature,
		}); err != nil {
			return nil, err
		}
	}
	if k.secret != nil {
		// The verification key of HS512 is the secret: give it its own
		// copy so that the file-only members stay off it.
		if verification, err = private.Clone(); err != nil {
			return nil, fmt.Errorf("copying symmetric key: %w", err)
		}
	}
	fileMembers := map[string]any{
		createdMember:   k.created.Format(time.RFC3339),
		activatesMember: k.activates.Format(time.RFC3339),
	}
	if !k.retired.IsZero() {
		fileMembers[retiredMember] = k.retired.Format(time.RFC3339)
	}
	if err := setMembers(private, fileMembers); err != nil {
		return nil, err
	}
	k.private, k.verification = private, verification

	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg.String(), k.id, TokenType})
	if err != nil {
		return nil, fmt.Errorf("encoding header: %w", err)
	}
	k.header = base64.RawURLEncoding.EncodeToString(hdr)
	return k, nil
}

// withRetired returns a copy of the key that stops signing at t (kept to
// the second). The key material, header and verification key are shared:
// only the key-file form changes.
func (k Key) withRetired(t time.Time) (*Key, error) {
	c := k
	c.retired = t.UTC().Truncate(time.Second)
	private, err := k.private.Clone()
	if err != nil {
		return nil, fmt.Errorf("key %s: copying: %w", k.id, err)
	}
	if err := setMembers(private, map[string]any{retiredMember: c.retired.Format(time.RFC3339)}); err != nil {
		return nil, fmt.Errorf("key %s: %w", k.id, err)
	}
	c.private = private
	return &c, nil
}

func setMembers(k jwk.Key, members map[string]any) error {
	for name, v := range members {
		if err := k.Set(name, v); err != nil {
			return fmt.Errorf("setting %q: %w", name, err)
		}
	}
	return nil
}

func newKeyID(public jwk.Key, symmetric bool) (string, error) {
	if symmetric {
		return rand.Text(), nil
	}
	tp, err := public.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("computing thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// sign returns the JWS signature (RFC 7515/7518 encoding) of input.
func (k Key) sign(input []byte) ([]byte, error) {
	switch k.alg {
	case jwa.ES256:
		digest := sha256.Sum256(input)
		der, err := k.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("ES256: %w", err)
		}
		return ecdsaDERToJOSE(der, 32)
	case jwa.EdDSA:
		sig, err := k.signer.Sign(nil, input, crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("EdDSA: %w", err)
		}
		return sig, nil
	case jwa.RS256:
		digest := sha256.Sum256(input)
		sig, err := k.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("RS256: %w", err)
		}
		return sig, nil
	case jwa.HS512:
		mac := hmac.New(sha512.New, k.secret)
		mac.Write(input)
		return mac.Sum(nil), nil
	default:
		return nil, fmt.Errorf("algorithm %q is not supported", k.alg)
	}
}

// ecdsaDERToJOSE converts an ASN.1 DER ECDSA signature, SEQUENCE { INTEGER
// r, INTEGER s }, to the fixed-size r || s that JWS uses (RFC 7518 §3.4).
// size is the curve's byte size; only short-form DER lengths occur for the
// curves chave signs with.
var errMalformedECDSA = errors.New("malformed ECDSA signature")

func ecdsaDERToJOSE(der []byte, size int) ([]byte, error) {
	errBad := errMalformedECDSA
	if len(der) < 2 || der[0] != 0x30 || der[1] >= 0x80 || int(der[1]) != len(der)-2 {
		return nil, errBad
	}
	rest := der[2:]
	out := make([]byte, 2*size)
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || rest[1] >= 0x80 || int(rest[1]) > len(rest)-2 {
			return nil, errBad
		}
		n := int(rest[1])
		v := rest[2 : 2+n]
		rest = rest[2+n:]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > size {
			return nil, errBad
		}
		copy(out[(i+1)*size-len(v):], v)
	}
	if len(rest) != 0 {
		return nil, errBad
	}
	return out, nil
}
