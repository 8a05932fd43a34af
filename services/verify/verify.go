// Package verify checks chave access tokens (RFC 9068 JWTs) locally: a
// resource server, or chave's own registry, builds one Verifier at start-up
// and calls Verify on every request's Bearer token.
//
// Verify is strict by design. It accepts only the compact serialization,
// looks keys up by kid in the configured KeySource (never from the token's
// own jwk, jku, x5u or x5c headers), requires the header's alg to be on a
// pinned allow-list and equal to the key's alg, requires typ at+jwt, rejects
// any crit header, and checks iss, aud, exp, nbf and iat. Only then does it
// ask the configured RevocationChecker, once, whether the token was revoked
// (package revocation's Checker adapts the shared revocation set: one Redis
// round trip).
//
// Verify has two kinds of failure. A rejected token matches ErrInvalidToken
// (answer 401, codes.Unauthenticated). A verifier that cannot decide, because
// the keys or the revocation set cannot be reached in time, matches
// ErrUnavailable (answer 503, codes.Unavailable): it never lets a token
// through that it could not check.
//
// A resource server fetches chave's published JWK Set with NewRemoteKeys and
// protects its handlers with HTTPMiddleware, or its gRPC services with
// UnaryServerInterceptor and StreamServerInterceptor.
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
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/chave/chave/services/internal/chave"
)

// Limits and defaults.
const (
	// DefaultLeeway is the clock skew tolerated when Config.Leeway is zero.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest Config.Leeway New accepts: the clock skew
	// the registry allows for when it keeps revocations and bounds the
	// expiries it is told of (chave.MaxClockSkew, the one definition).
	MaxLeeway = chave.MaxClockSkew
	// MaxTokenSize bounds the work spent on a token: longer ones are
	// rejected before any decoding. chave's tokens are well under 2 KiB.
	MaxTokenSize = 16 << 10
	// MinRSABits is the smallest RSA modulus a key may have.
	MinRSABits = 2048
	// DefaultRevocationTimeout bounds a revocation check when
	// Config.RevocationTimeout is zero.
	DefaultRevocationTimeout = time.Second
)

// Outcomes passed to Config.Observe besides the Reason values.
const (
	ObserveOK          = "ok"          // the token was accepted
	ObserveUnavailable = "unavailable" // Verify could not decide: the error matches ErrUnavailable
)

// KeySource yields the keys that verify tokens. The set must not be
// modified by the caller. Keys are found by kid; each needs alg and, if
// present, use "sig". signing.KeySet satisfies it for the all-in-one server;
// a resource server uses RemoteKeys, which fetches the published JWKS, and
// tests NewStaticKeys. Any error from Keys makes Verify fail with
// ErrUnavailable.
type KeySource interface {
	Keys(ctx context.Context) (jwk.Set, error)
}

// KeyRefresher is a KeySource that can look again when a token names a kid
// its current set lacks, because the issuer may have published a new key
// since the set was fetched. Verify calls RefreshKeys only after Keys
// yielded a set without the kid, and then looks the kid up in the set it
// returns. Implementations must bound the cost: anyone can send a token
// with a made-up kid. RemoteKeys refreshes at most once per
// MissRefreshInterval and otherwise returns the set it holds.
type KeyRefresher interface {
	KeySource
	RefreshKeys(ctx context.Context, kid string) (jwk.Set, error)
}

// RevocationChecker reports whether a token that passed every other check
// has been revoked. An error means it cannot tell: Verify then refuses the
// token with an error matching ErrUnavailable. revocation.Checker adapts a
// revocation set.
//
// A checker that answers from memory without ever waiting (an in-process
// set) may also have a method Local() bool that returns true: Verify then
// calls it without arming RevocationTimeout's timer, which would cost more
// than the check itself.
type RevocationChecker interface {
	IsRevoked(ctx context.Context, c Claims) (bool, error)
}

// localChecker is a RevocationChecker that may say it never waits.
type localChecker interface{ Local() bool }

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
	// Revocations is asked, once per Verify and only about tokens that
	// passed every other check, whether the token was revoked. nil skips
	// the check: revoked tokens are then accepted until they expire, which
	// suits only tests and offline tools. Every server that accepts tokens
	// must set it (revocation.Checker of the shared revocation set).
	Revocations RevocationChecker
	// RevocationTimeout bounds a revocation check: zero means
	// DefaultRevocationTimeout. A check that does not answer in time fails
	// the verification with ErrUnavailable.
	RevocationTimeout time.Duration
	// Observe, if set, is called once per Verify with its outcome:
	// ObserveOK, the Reason of a rejection as a string, or
	// ObserveUnavailable. It lets the server count outcomes (a Prometheus
	// counter by reason, say) without this package depending on a metrics
	// library. It runs on the request's goroutine and must be fast.
	Observe func(outcome string)
	// CacheSize bounds how many verified tokens the Verifier remembers,
	// each until it expires: zero means DefaultCacheSize, negative turns
	// the cache off. A token seen before skips the signature check (it is
	// the same string, and its key is still the key source's under its
	// kid); its dates and the revocation check are checked every time.
	CacheSize int
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	algs     map[jwa.SignatureAlgorithm]jws.Verifier
	keys     KeySource
	leeway   time.Duration
	now      func() time.Time

	revocations       RevocationChecker
	revocationTimeout time.Duration
	revocationLocal   bool // no timeout: the checker never waits
	observe           func(string)

	tokens  *tokenCache // nil: no cache
	derived keyCache
	headers headerCache
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
	switch {
	case cfg.RevocationTimeout < 0:
		return nil, fmt.Errorf("verify: config: revocation timeout %v is negative", cfg.RevocationTimeout)
	case cfg.RevocationTimeout == 0:
		cfg.RevocationTimeout = DefaultRevocationTimeout
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

		revocations:       cfg.Revocations,
		revocationTimeout: cfg.RevocationTimeout,
		observe:           cfg.Observe,
	}
	if lc, ok := cfg.Revocations.(localChecker); ok {
		v.revocationLocal = lc.Local()
	}
	switch {
	case cfg.CacheSize == 0:
		v.tokens = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.tokens = newTokenCache(cfg.CacheSize)
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
	Sv       string       `json:"sv"`
}

// Verify checks raw (the Bearer token) and returns its claims. A token that
// fails any check, or was revoked, yields an error matching ErrInvalidToken
// (an *Error with the reason). When the key source or the revocation check
// fails, the error matches ErrUnavailable and wraps their error: the token
// is refused, but not for its own fault.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	c, err := v.verify(ctx, raw)
	if v.observe != nil {
		v.observe(outcome(err))
	}
	return c, err
}

// outcome names a Verify result for Config.Observe.
func outcome(err error) string {
	if err == nil {
		return ObserveOK
	}
	var ve *Error
	if errors.As(err, &ve) {
		return string(ve.Reason)
	}
	return ObserveUnavailable
}

func (v *Verifier) verify(ctx context.Context, raw string) (Claims, error) {
	if len(raw) > MaxTokenSize {
		return Claims{}, invalid(ReasonMalformed, "token too large")
	}
	if c, ok := v.cached(ctx, raw); ok {
		if err := v.checkRevoked(ctx, c); err != nil {
			return Claims{}, err
		}
		return c, nil
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

	hdr, known := v.headers.get(h)
	if !known {
		var err error
		if hdr, err = v.checkHeader(h); err != nil {
			return Claims{}, err
		}
	}
	alg, verifier := hdr.alg, hdr.verifier

	sig, err := decodeSegment(s)
	if err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "signature", err)
	}
	key, err := v.lookupKey(ctx, hdr.kid)
	if err != nil {
		return Claims{}, err
	}
	rawKey, err := v.derived.verificationKey(key, alg)
	if err != nil {
		return Claims{}, invalidErr(ReasonUnknownKey, "key "+strconv.Quote(hdr.kid), err)
	}
	signingInput := raw[:len(h)+1+len(p)]
	if err := verifier.Verify([]byte(signingInput), sig, rawKey); err != nil {
		return Claims{}, invalid(ReasonSignature, "signature does not verify")
	}
	if !known {
		// Signed by a key of the source: a header worth remembering.
		v.headers.put(h, hdr)
	}

	// The signature is good: the claims come from the key's holder.
	payloadJSON, err := decodeSegment(p)
	if err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "payload", err)
	}
	var pl payload
	if err := decodePayload(payloadJSON, &pl); err != nil {
		return Claims{}, invalidErr(ReasonMalformed, "claims", err)
	}
	claims, err := v.checkClaims(&pl)
	if err != nil {
		return Claims{}, err
	}
	claims.KeyID = hdr.kid
	if err := v.checkRevoked(ctx, claims); err != nil {
		return Claims{}, err
	}
	if v.tokens != nil && comparableKey(key) {
		e := &cachedToken{raw: raw, kid: hdr.kid, key: key, claims: claims.clone()}
		if pl.Nbf != nil {
			e.nbf = pl.Nbf.time()
		}
		v.tokens.put(s, e, v.now())
	}
	return claims, nil
}

// checkHeader decodes and checks a token's header segment h.
func (v *Verifier) checkHeader(h string) (checkedHeader, error) {
	hdrJSON, err := decodeSegment(h)
	if err != nil {
		return checkedHeader{}, invalidErr(ReasonMalformed, "header", err)
	}
	var hdr header
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return checkedHeader{}, invalidErr(ReasonMalformed, "header", err)
	}
	if hdr.Crit != nil {
		return checkedHeader{}, invalid(ReasonHeader, "crit is not supported")
	}
	if hdr.B64 != nil {
		return checkedHeader{}, invalid(ReasonHeader, "b64 is not supported")
	}
	if !isAccessTokenType(hdr.Typ) {
		return checkedHeader{}, invalid(ReasonHeader, "typ is not at+jwt")
	}
	alg := jwa.SignatureAlgorithm(hdr.Alg)
	verifier, ok := v.algs[alg]
	if !ok {
		return checkedHeader{}, invalid(ReasonHeader, "alg "+strconv.Quote(hdr.Alg)+" is not allowed")
	}
	if hdr.Kid == "" {
		return checkedHeader{}, invalid(ReasonHeader, "kid is missing")
	}
	return checkedHeader{kid: hdr.Kid, alg: alg, verifier: verifier}, nil
}

// cached answers the claims of raw when it is the very token a previous
// Verify accepted, it is still within its dates, and the key source still
// yields the key it verified under by its kid (a retired key fails the
// next Verify, as without the cache). Anything else goes the whole way.
func (v *Verifier) cached(ctx context.Context, raw string) (Claims, bool) {
	if v.tokens == nil {
		return Claims{}, false
	}
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return Claims{}, false
	}
	sig := raw[i+1:]
	e := v.tokens.get(sig)
	if e == nil || e.raw != raw {
		return Claims{}, false
	}
	now := v.now()
	if !now.Before(e.claims.Expiry.Add(v.leeway)) {
		v.tokens.remove(sig, e)
		return Claims{}, false
	}
	if e.claims.IssuedAt.After(now.Add(v.leeway)) || (!e.nbf.IsZero() && e.nbf.After(now.Add(v.leeway))) {
		return Claims{}, false
	}
	set, err := v.keys.Keys(ctx)
	if err != nil || set == nil {
		return Claims{}, false
	}
	if key, ok := set.LookupKeyID(e.kid); !ok || !comparableKey(key) || key != e.key {
		return Claims{}, false
	}
	return e.claims.clone(), true
}

// comparableKey reports whether a JWK can be compared by identity (==
// does not panic on it): jwk's own key types are pointers.
func comparableKey(key jwk.Key) bool {
	t := reflect.TypeOf(key)
	return t != nil && t.Kind() == reflect.Pointer
}

// lookupKey finds the key named kid in the key source, asking a
// KeyRefresher to look again when its set lacks the kid.
func (v *Verifier) lookupKey(ctx context.Context, kid string) (jwk.Key, error) {
	set, err := v.keys.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: getting keys: %w: %w", ErrUnavailable, err)
	}
	if set != nil {
		if key, ok := set.LookupKeyID(kid); ok {
			return key, nil
		}
	}
	if r, ok := v.keys.(KeyRefresher); ok {
		set, err = r.RefreshKeys(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("verify: refreshing keys: %w: %w", ErrUnavailable, err)
		}
		if set != nil {
			if key, ok := set.LookupKeyID(kid); ok {
				return key, nil
			}
		}
	}
	if set == nil {
		return nil, invalid(ReasonUnknownKey, "no keys")
	}
	return nil, invalid(ReasonUnknownKey, "no key with the token's kid")
}

// checkRevoked asks the revocation checker, if any, about a token that
// passed every other check.
func (v *Verifier) checkRevoked(ctx context.Context, c Claims) error {
	if v.revocations == nil {
		return nil
	}
	if !v.revocationLocal {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.revocationTimeout)
		defer cancel()
	}
	revoked, err := v.revocations.IsRevoked(ctx, c)
	if err != nil {
		return fmt.Errorf("verify: revocation check: %w: %w", ErrUnavailable, err)
	}
	if revoked {
		return invalid(ReasonRevoked, "token has been revoked")
	}
	return nil
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
		Issuer:        pl.Iss,
		Subject:       pl.Sub,
		ClientID:      pl.ClientID,
		Audience:      []string(pl.Aud),
		IssuedAt:      iat,
		Expiry:        exp,
		ID:            pl.Jti,
		Scopes:        strings.Fields(pl.Scope),
		TenantID:      pl.TenantID,
		SessionID:     pl.Sid,
		SecretVersion: pl.Sv,
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
