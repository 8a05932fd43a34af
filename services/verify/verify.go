// Package verify checks chave access tokens (RFC 9068 JWTs) locally: a
// resource server, or chave's own registry, builds one Verifier at start-up
// and calls Verify on every request's Bearer token.
//
// Verify is strict by design. It accepts only the compact serialization,
// looks keys up by kid in the configured KeySource (never from the token's
// own jwk, jku, x5u or x5c headers), requires the header's alg to be on a
// pinned allow-list and equal to the key's alg, requires typ at+jwt, rejects
// any crit header, and checks iss, aud, exp, nbf and iat. Revocation is not
// checked here: the caller consults the revocation set with Claims.ID.
package verify

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Limits and defaults.
const (
	// DefaultLeeway is the clock skew tolerated when Config.Leeway is zero.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest Config.Leeway New accepts.
	MaxLeeway = 5 * time.Minute
	// MaxTokenSize bounds the work spent on a token: longer ones are
	// rejected before any decoding. chave's tokens are well under 2 KiB.
	MaxTokenSize = 16 << 10
	// MinRSABits is the smallest RSA modulus a key may have.
	MinRSABits = 2048
)

// KeySource yields the keys that verify tokens. The set must not be
// modified by the caller. Keys are found by kid; each needs alg and, if
// present, use "sig". signing.KeySet satisfies it for the all-in-one server;
// a resource server uses a source that fetches the published JWKS.
type KeySource interface {
	Keys(ctx context.Context) (jwk.Set, error)
}

// Config configures a Verifier.
type Config struct {
	// Issuer is the exact iss every token must carry. Required.
	Issuer string
	// Audience must be one of a token's aud values. Required.
	Audience string
	// Algorithms is the pinned allow-list of signature algorithms. Empty
	// means ES256 only. "none" is never allowed.
	Algorithms []jwa.SignatureAlgorithm
	// Keys looks up verification keys by kid. Required.
	Keys KeySource
	// Leeway is the clock skew tolerated on exp, nbf and iat: zero means
	// DefaultLeeway; at most MaxLeeway.
	Leeway time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	algs     map[jwa.SignatureAlgorithm]jws.Verifier
	keys     KeySource
	leeway   time.Duration
	now      func() time.Time
}

// New validates the configuration and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("verify: config: issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("verify: config: audience is required")
	}
	if cfg.Keys == nil {
		return nil, errors.New("verify: config: a key source is required")
	}
	switch {
	case cfg.Leeway < 0:
		return nil, fmt.Errorf("verify: config: leeway %v is negative", cfg.Leeway)
	case cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("verify: config: leeway %v exceeds the maximum %v", cfg.Leeway, MaxLeeway)
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []jwa.SignatureAlgorithm{jwa.ES256}
	}
	v := &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		algs:     make(map[jwa.SignatureAlgorithm]jws.Verifier, len(algs)),
		keys:     cfg.Keys,
		leeway:   cfg.Leeway,
		now:      cfg.Clock,
	}
	for _, alg := range algs {
		if _, ok := keyTypeFor(alg); !ok {
			return nil, fmt.Errorf("verify: config: algorithm %q is not supported", alg)
		}
		jv, err := jws.NewVerifier(alg)
		if err != nil {
			return nil, fmt.Errorf("verify: config: algorithm %q: %w", alg, err)
		}
		v.algs[alg] = jv
	}
	return v, nil
}

// header holds the JOSE header members Verify reads. Members that would
// change how the token is processed (crit, b64) are captured only to reject
// them; key-carrying members (jwk, jku, x5u, x5c) are ignored.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// payload holds the claims. Pointer dates distinguish absent from zero;
// a claim of the wrong JSON type fails decoding.
type payload struct {
	Iss      string       `json:"iss"`
	Sub      string       `json:"sub"`
	ClientID string       `json:"client_id"`
	Aud      audience     `json:"aud"`
	Exp      *numericDate `json:"exp"`
	Nbf      *numericDate `json:"nbf"`
	Iat      *numericDate `json:"iat"`
	Jti      string       `json:"jti"`
	Scope    string       `json:"scope"`
	TenantID string       `json:"tenantid"`
	Sid      string       `json:"sid"`
}

// Verify checks raw (the Bearer token) and returns its claims. A token that
// fails any check yields an error matching ErrInvalidToken (an *Error with
// the reason); a failure of the key source is returned wrapped as is.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	if len(raw) > MaxTokenSize {
		return Claims{}, invalid(ReasonMalformed, "token too large")
	}
	// Compact serialization: exactly three base64url segments. The JSON
	// serialization (which starts with '{') fails here.
	h, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return Claims{}, invalid(ReasonMalformed, "not a compact JWS")
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return Claims{}, invalid(ReasonMalformed, "not a compact JWS")
	}
	if h == "" || p == "" || s == "" {
		return Claims{}, invalid(ReasonMalformed, "empty JWS segment")
	}

	hdrJSON, err := decodeSegment(h)
	if err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "header", err)
	}
	var hdr header
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "header", err)
	}
	if hdr.Crit != nil {
		return Claims{}, invalid(ReasonHeader, "crit is not supported")
	}
	if hdr.B64 != nil {
		return Claims{}, invalid(ReasonHeader, "b64 is not supported")
	}
	if !isAccessTokenType(hdr.Typ) {
		return Claims{}, invalid(ReasonHeader, "typ is not at+jwt")
	}
	alg := jwa.SignatureAlgorithm(hdr.Alg)
	verifier, ok := v.algs[alg]
	if !ok {
		return Claims{}, invalid(ReasonHeader, "alg "+strconv.Quote(hdr.Alg)+" is not allowed")
	}
	if hdr.Kid == "" {
		return Claims{}, invalid(ReasonHeader, "kid is missing")
	}

	sig, err := decodeSegment(s)
	if err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "signature", err)
	}
	set, err := v.keys.Keys(ctx)
	if err != nil {
		return Claims{}, fmt.Errorf("verify: getting keys: %w", err)
	}
	if set == nil {
		return Claims{}, invalid(ReasonUnknownKey, "no keys")
	}
	key, ok := set.LookupKeyID(hdr.Kid)
	if !ok {
		return Claims{}, invalid(ReasonUnknownKey, "no key with the token's kid")
	}
	rawKey, err := verificationKey(key, alg)
	if err != nil {
		return Claims{}, invalidErr(ReasonUnknownKey, "key "+strconv.Quote(hdr.Kid), err)
	}
	signingInput := raw[:len(h)+1+len(p)]
	if err := verifier.Verify([]byte(signingInput), sig, rawKey); err != nil {
		return Claims{}, invalid(ReasonSignature, "signature does not verify")
	}

	// The signature is good: the claims come from the key's holder.
	payloadJSON, err := decodeSegment(p)
	if err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "payload", err)
	}
	var pl payload
	if err := json.Unmarshal(payloadJSON, &pl); err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "claims", err)
	}
	return v.checkClaims(&pl)
}

func (v *Verifier) checkClaims(pl *payload) (Claims, error) {
	switch {
	case pl.Exp == nil:
		return Claims{}, invalid(ReasonMissingClaim, "exp")
	case pl.Iat == nil:
		return Claims{}, invalid(ReasonMissingClaim, "iat")
	case pl.Sub == "":
		return Claims{}, invalid(ReasonMissingClaim, "sub")
	case pl.ClientID == "":
		return Claims{}, invalid(ReasonMissingClaim, "client_id")
	case pl.Jti == "":
		return Claims{}, invalid(ReasonMissingClaim, "jti")
	}
	if pl.Iss != v.issuer {
		return Claims{}, invalid(ReasonIssuer, "unexpected iss")
	}
	if !pl.Aud.contains(v.audience) {
		return Claims{}, invalid(ReasonAudience, "aud does not name this audience")
	}
	now := v.now()
	exp := pl.Exp.time()
	if !now.Before(exp.Add(v.leeway)) {
		return Claims{}, invalid(ReasonExpired, "token expired")
	}
	if pl.Nbf != nil && pl.Nbf.time().After(now.Add(v.leeway)) {
		return Claims{}, invalid(ReasonNotYetValid, "nbf is in the future")
	}
	iat := pl.Iat.time()
	if iat.After(now.Add(v.leeway)) {
		return Claims{}, invalid(ReasonNotYetValid, "iat is in the future")
	}
	return Claims{
		Issuer:    pl.Iss,
		Subject:   pl.Sub,
		ClientID:  pl.ClientID,
		Audience:  []string(pl.Aud),
		IssuedAt:  iat,
		Expiry:    exp,
		ID:        pl.Jti,
		Scopes:    strings.Fields(pl.Scope),
		TenantID:  pl.TenantID,
		SessionID: pl.Sid,
	}, nil
}

// isAccessTokenType reports whether typ names an RFC 9068 access token:
// "at+jwt" or "application/at+jwt", compared case-insensitively.
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}

// decodeSegment decodes unpadded base64url, rejecting padding, other
// alphabets and non-canonical trailing bits.
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// keyTypeFor returns the key type an algorithm needs, and whether Verify
// supports the algorithm at all.
func keyTypeFor(alg jwa.SignatureAlgorithm) (jwa.KeyType, bool) {
	switch alg {
	case jwa.ES256, jwa.ES384, jwa.ES512:
		return jwa.EC, true
	case jwa.EdDSA:
		return jwa.OKP, true
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		return jwa.RSA, true
	case jwa.HS256, jwa.HS384, jwa.HS512:
		return jwa.OctetSeq, true
	default:
		return "", false
	}
}

// verificationKey checks that key may verify a token signed with alg and
// returns the raw key for jws.Verifier: the public part of an asymmetric
// key, the bytes of a symmetric one.
func verificationKey(key jwk.Key, alg jwa.SignatureAlgorithm) (any, error) {
	if key.Algorithm().String() != alg.String() {
		return nil, fmt.Errorf("key alg %q does not match the token's", key.Algorithm())
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, fmt.Errorf("key use %q is not sig", use)
	}
	kty, _ := keyTypeFor(alg)
	if key.KeyType() != kty {
		return nil, fmt.Errorf("key type %q cannot verify %s", key.KeyType(), alg)
	}
	if kty == jwa.OctetSeq {
		var secret []byte
		if err := key.Raw(&secret); err != nil {
			return nil, fmt.Errorf("symmetric key: %w", err)
		}
		if len(secret) < minHMACKeySize(alg) {
			return nil, fmt.Errorf("symmetric key of %d bytes is too short for %s", len(secret), alg)
		}
		return secret, nil
	}
	pub, err := jwk.PublicRawKeyOf(key)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too small", pub.N.BitLen())
		}
	}
	if kty == jwa.EC {
		if err := checkCurve(key, alg); err != nil {
			return nil, err
		}
	}
	return pub, nil
}

// minHMACKeySize is the hash's output size, the least key size RFC 7518
// §3.2 allows.
func minHMACKeySize(alg jwa.SignatureAlgorithm) int {
	switch alg {
	case jwa.HS256:
		return 32
	case jwa.HS384:
		return 48
	default:
		return 64
	}
}

// checkCurve ties each ECDSA algorithm to its curve (RFC 7518 §3.4).
func checkCurve(key jwk.Key, alg jwa.SignatureAlgorithm) error {
	ec, ok := key.(interface {
		Crv() jwa.EllipticCurveAlgorithm
	})
	if !ok {
		return errors.New("EC key without a curve")
	}
	var want jwa.EllipticCurveAlgorithm
	switch alg {
	case jwa.ES256:
		want = jwa.P256
	case jwa.ES384:
		want = jwa.P384
	case jwa.ES512:
		want = jwa.P521
	}
	if ec.Crv() != want {
		return fmt.Errorf("curve %q cannot verify %s", ec.Crv(), alg)
	}
	return nil
}

// audience is the aud claim: a single string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = list
	return nil
}

func (a audience) contains(s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional.
type numericDate struct {
	sec, nsec int64
}

// maxNumericDate is the start of year 10000: later dates are garbage.
const maxNumericDate = 253402300800

func (d *numericDate) UnmarshalJSON(data []byte) error {
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(data)), 64)
	if err != nil {
		return errors.New("a date claim is not a number")
	}
	if math.IsNaN(f) || f < 0 || f >= maxNumericDate {
		return errors.New("a date claim is out of range")
	}
	sec, frac := math.Modf(f)
	d.sec = int64(sec)
	d.nsec = int64(frac * 1e9)
	return nil
}

func (d *numericDate) time() time.Time { return time.Unix(d.sec, d.nsec).UTC() }
