package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
)

// Refresh tokens are stateless: everything the grant needs travels in the
// token, authenticated by an HMAC-SHA-256 under Config.RefreshTokenKey, and
// nothing is stored when one is issued. The registry keeps only, per
// family, the generation counter it advances when a token is used, which
// is what detects reuse.
//
// The format is
//
//	chave_rt_ + base64url(payload) + "." + base64url(HMAC-SHA-256(key, "chave_rt_" + base64url(payload)))
//
// under version 1 of the refresh-token key (the only form before key
// versions), and under version N ≥ 2
//
//	chave_rt_ + base64url(payload) + "." + N + "." + base64url(HMAC-SHA-256(key N, "chave_rt_" + base64url(payload) + "." + N))
//
// with N in decimal, unpadded base64url and the full 32-byte MAC. Tokens
// are made under the active version; a token made under another version
// the key ring still holds verifies, until that version is retired (which
// chave keys refuses until the longest refresh-token lifetime has passed
// since it stopped being active). The payload is a JSON
// object with exactly these members:
//
//	f  family id: 128 random bits, base64url
//	g  generation: 0 for the family's first token, +1 on every refresh
//	c  client id
//	s  scopes, space-separated, sorted, without duplicates
//	i  issued at, Unix seconds
//	e  expiry, Unix seconds
//	x  the family's absolute expiry, Unix seconds
//	v  the credential's secret version when the family started
//
// The payload is readable by whoever holds the token; it holds nothing the
// holder may not know.
const (
	refreshTokenPrefix = "chave_rt_"
	// maxRefreshTokenSize bounds the work spent on a presented token.
	maxRefreshTokenSize = 4 << 10
	// MinRefreshTokenKeySize is the least Config.RefreshTokenKey size: the
	// MAC's own strength.
	MinRefreshTokenKeySize = 32
)

var (
	b64             = base64.RawURLEncoding
	b64Strict       = base64.RawURLEncoding.Strict()
	errRefreshToken = errors.New("malformed refresh token")
)

// refreshToken is a refresh token's content.
type refreshToken struct {
	family        string
	generation    int64
	clientID      string
	scopes        []string // sorted, without duplicates, not empty
	issuedAt      time.Time
	expiry        time.Time
	familyExpiry  time.Time
	secretVersion string
}

// expired reports whether the token has expired at now.
func (t refreshToken) expired(now time.Time) bool { return !now.Before(t.expiry) }

// familyExpired reports whether every token of the family has expired at
// now.
func (t refreshToken) familyExpired(now time.Time) bool { return !now.Before(t.familyExpiry) }

// refreshPayload is the token's JSON payload. Pointers tell an absent
// member from a zero one; every member is required.
type refreshPayload struct {
	Family        *string `json:"f"`
	Generation    *int64  `json:"g"`
	ClientID      *string `json:"c"`
	Scope         *string `json:"s"`
	IssuedAt      *int64  `json:"i"`
	Expiry        *int64  `json:"e"`
	FamilyExpiry  *int64  `json:"x"`
	SecretVersion *string `json:"v"`
}

// refreshCodec encodes and parses refresh tokens under the versions of the
// refresh-token key.
type refreshCodec struct {
	keys secrets.KeyProvider
	macs *macStates // nil: a new HMAC state per MAC
}

// maxKeyVersion bounds the version a token may name.
const maxKeyVersion = 1 << 20

func newRefreshCodec(key []byte) (refreshCodec, error) {
	if len(key) < MinRefreshTokenKeySize {
		return refreshCodec{}, fmt.Errorf("refresh-token key of %d bytes is shorter than %d", len(key), MinRefreshTokenKeySize)
	}
	return refreshCodec{keys: secrets.NewStaticProvider(secrets.Keys{RefreshToken: secrets.SingleVersion(key)}), macs: newMACStates()}, nil
}

// newVersionedRefreshCodec returns a codec over the refresh-token keys of
// p, whose active version must be there now.
func newVersionedRefreshCodec(ctx context.Context, p secrets.KeyProvider) (refreshCodec, error) {
	k, err := p.Keys(ctx)
	if err != nil {
		return refreshCodec{}, err
	}
	if _, key := k.RefreshToken.ActiveKey(); len(key) < MinRefreshTokenKeySize {
		return refreshCodec{}, fmt.Errorf("active refresh-token key is absent or shorter than %d bytes", MinRefreshTokenKeySize)
	}
	return refreshCodec{keys: p, macs: newMACStates()}, nil
}

// mac returns the MAC of the token's text up to the (last) dot.
func mac(key []byte, signed string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// macStates keeps HMAC states for reuse, per key: hmac.New pads the key
// and hashes both pads (and allocates three hashes) on every call, where
// Reset of a used state restores the keyed state it saved. A refresh
// grant computes two MACs: the presented token's and the next one's.
type macStates struct {
	mu    sync.RWMutex
	pools map[string]*sync.Pool // by key bytes
}

// maxMACKeys bounds the keys macStates keeps states for (a few versions
// of the refresh-token key are live at a time); past it, it starts over.
const maxMACKeys = 16

func newMACStates() *macStates { return &macStates{pools: map[string]*sync.Pool{}} }

// mac is mac(key, signed), on a reused state when c has them.
func (c refreshCodec) mac(key []byte, signed string) []byte {
	if c.macs == nil {
		return mac(key, signed)
	}
	pool := c.macs.pool(key)
	m := pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(signed))
	sum := m.Sum(make([]byte, 0, sha256.Size))
	pool.Put(m)
	return sum
}

func (s *macStates) pool(key []byte) *sync.Pool {
	s.mu.RLock()
	p := s.pools[string(key)]
	s.mu.RUnlock()
	if p != nil {
		return p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p = s.pools[string(key)]; p == nil {
		if len(s.pools) >= maxMACKeys {
			clear(s.pools)
		}
		k := bytes.Clone(key)
		p = &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}
		s.pools[string(k)] = p
	}
	return p
}

// encode returns the token's text. t must be valid (checkRefreshToken).
func (c refreshCodec) encode(ctx context.Context, t refreshToken) (string, error) {
	if err := checkRefreshToken(t); err != nil {
		return "", fmt.Errorf("encoding refresh token: %w", err)
	}
	payload := appendPayload(make([]byte, 0, 256), t.family, t.generation, t.clientID, strings.Join(t.scopes, " "),
		t.issuedAt.Unix(), t.expiry.Unix(), t.familyExpiry.Unix(), t.secretVersion)
	k, err := c.keys.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("encoding refresh token: %w", err)
	}
	version, key := k.RefreshToken.ActiveKey()
	if key == nil {
		return "", errors.New("encoding refresh token: no active refresh-token key")
	}
	signed := refreshTokenPrefix + b64.EncodeToString(payload)
	if version != 1 {
		signed += "." + strconv.Itoa(version)
	}
	return signed + "." + b64.EncodeToString(c.mac(key, signed)), nil
}

// parse authenticates raw and returns its content. It checks the prefix
// and the size, then the MAC in constant time, and only then decodes the
// payload, strictly: unknown or missing members, trailing data and any
// encoding but the one encode produces are refused. Expiry is the
// caller's to check. Every failure is errRefreshToken (wrapped).
func (c refreshCodec) parse(ctx context.Context, raw string) (refreshToken, error) {
	if len(raw) > maxRefreshTokenSize {
		return refreshToken{}, fmt.Errorf("%w: too large", errRefreshToken)
	}
	rest, ok := strings.CutPrefix(raw, refreshTokenPrefix)
	if !ok {
		return refreshToken{}, fmt.Errorf("%w: no %s prefix", errRefreshToken, refreshTokenPrefix)
	}
	payloadB64, macB64, ok := strings.Cut(rest, ".")
	if !ok || payloadB64 == "" {
		return refreshToken{}, fmt.Errorf("%w: no MAC", errRefreshToken)
	}
	version := 1
	if vs, m, ok := strings.Cut(macB64, "."); ok {
		v, err := strconv.Atoi(vs)
		if err != nil || v < 2 || v > maxKeyVersion || strconv.Itoa(v) != vs {
			return refreshToken{}, fmt.Errorf("%w: bad key version", errRefreshToken)
		}
		version, macB64 = v, m
	}
	gotMAC, err := b64Strict.DecodeString(macB64)
	if err != nil || len(gotMAC) != sha256.Size {
		return refreshToken{}, fmt.Errorf("%w: bad MAC encoding", errRefreshToken)
	}
	key, err := c.key(ctx, version)
	if err != nil {
		return refreshToken{}, err
	}
	if !hmac.Equal(gotMAC, c.mac(key, raw[:len(raw)-len(macB64)-1])) {
		return refreshToken{}, fmt.Errorf("%w: MAC does not verify", errRefreshToken)
	}

	// The MAC is good: the payload is one this server wrote. The checks
	// below guard against a bug or a leaked key, not against the holder.
	payload, err := b64Strict.DecodeString(payloadB64)
	if err != nil {
		return refreshToken{}, fmt.Errorf("%w: payload encoding", errRefreshToken)
	}
	p, ok := parsePayload(payload)
	if !ok {
		if p, err = parsePayloadJSON(payload); err != nil {
			return refreshToken{}, err
		}
	}
	t := refreshToken{
		family:        *p.Family,
		generation:    *p.Generation,
		clientID:      *p.ClientID,
		scopes:        strings.Split(*p.Scope, " "),
		issuedAt:      unixTime(*p.IssuedAt),
		expiry:        unixTime(*p.Expiry),
		familyExpiry:  unixTime(*p.FamilyExpiry),
		secretVersion: *p.SecretVersion,
	}
	if err := checkRefreshToken(t); err != nil {
		return refreshToken{}, fmt.Errorf("%w: %v", errRefreshToken, err)
	}
	return t, nil
}

// key returns version v of the refresh-token key. A version newer than
// any known makes the provider look again (another replica may have
// activated it first); an older one that is gone was retired. Both fail
// as errRefreshToken.
func (c refreshCodec) key(ctx context.Context, v int) ([]byte, error) {
	k, err := c.keys.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("refresh-token keys: %w", err)
	}
	if key, ok := k.RefreshToken.Key(v); ok {
		return key, nil
	}
	if vs := k.RefreshToken.Versions; len(vs) > 0 && v > vs[len(vs)-1].Version {
		if k, err = c.keys.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("refresh-token keys: %w", err)
		}
		if key, ok := k.RefreshToken.Key(v); ok {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: key version %d is unknown or retired", errRefreshToken, v)
}

// parsePayloadJSON decodes the payload with encoding/json, for what
// parsePayload leaves (escaped strings, and anything it refuses): the same
// strictness, more slowly.
func parsePayloadJSON(payload []byte) (refreshPayload, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var p refreshPayload
	if err := dec.Decode(&p); err != nil {
		return refreshPayload{}, fmt.Errorf("%w: payload: %v", errRefreshToken, err)
	}
	if p.Family == nil || p.Generation == nil || p.ClientID == nil || p.Scope == nil ||
		p.IssuedAt == nil || p.Expiry == nil || p.FamilyExpiry == nil || p.SecretVersion == nil {
		return refreshPayload{}, fmt.Errorf("%w: payload member missing", errRefreshToken)
	}
	// Exactly the bytes encode writes: no trailing data, no other spacing,
	// order or number syntax.
	if canonical, err := json.Marshal(p); err != nil || !bytes.Equal(canonical, payload) {
		return refreshPayload{}, fmt.Errorf("%w: payload is not canonical", errRefreshToken)
	}
	return p, nil
}

// appendPayload appends the payload JSON of a token to b: byte for byte
// what json.Marshal makes of its refreshPayload, without reflection.
func appendPayload(b []byte, family string, gen int64, clientID, scope string, iat, exp, fexp int64, secretVersion string) []byte {
	b = appendJSONString(append(b, `{"f":`...), family)
	b = strconv.AppendInt(append(b, `,"g":`...), gen, 10)
	b = appendJSONString(append(b, `,"c":`...), clientID)
	b = appendJSONString(append(b, `,"s":`...), scope)
	b = strconv.AppendInt(append(b, `,"i":`...), iat, 10)
	b = strconv.AppendInt(append(b, `,"e":`...), exp, 10)
	b = strconv.AppendInt(append(b, `,"x":`...), fexp, 10)
	b = appendJSONString(append(b, `,"v":`...), secretVersion)
	return append(b, '}')
}

// appendJSONString appends s as json.Marshal quotes it: as is when it is
// printable ASCII that needs no escape (ids, scopes, versions always are),
// through json.Marshal otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// parsePayload reads the payload in the one layout encode writes, members
// in order, strings without escapes, and reports false for anything else
// (parsePayloadJSON decides those). What it reads it accepts only if
// appendPayload writes exactly the same bytes back: the payload is
// canonical, as parsePayloadJSON requires.
func parsePayload(payload []byte) (refreshPayload, bool) {
	rest := payload
	str := func(key string) (string, bool) {
		var ok bool
		if rest, ok = bytes.CutPrefix(rest, []byte(key)); !ok || len(rest) == 0 || rest[0] != '"' {
			return "", false
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 || bytes.IndexByte(rest[1:1+end], '\\') >= 0 {
			return "", false
		}
		v := string(rest[1 : 1+end])
		rest = rest[2+end:]
		return v, true
	}
	num := func(key string) (int64, bool) {
		var ok bool
		if rest, ok = bytes.CutPrefix(rest, []byte(key)); !ok {
			return 0, false
		}
		end := 0
		for end < len(rest) && (rest[end] == '-' || rest[end] >= '0' && rest[end] <= '9') {
			end++
		}
		v, err := strconv.ParseInt(string(rest[:end]), 10, 64)
		rest = rest[end:]
		return v, err == nil
	}
	var (
		p                              refreshPayload
		family, client, scope, version string
		gen, iat, exp, fexp            int64
		ok                             bool
	)
	if family, ok = str(`{"f":`); !ok {
		return p, false
	}
	if gen, ok = num(`,"g":`); !ok {
		return p, false
	}
	if client, ok = str(`,"c":`); !ok {
		return p, false
	}
	if scope, ok = str(`,"s":`); !ok {
		return p, false
	}
	if iat, ok = num(`,"i":`); !ok {
		return p, false
	}
	if exp, ok = num(`,"e":`); !ok {
		return p, false
	}
	if fexp, ok = num(`,"x":`); !ok {
		return p, false
	}
	if version, ok = str(`,"v":`); !ok || string(rest) != "}" {
		return p, false
	}
	if !bytes.Equal(appendPayload(make([]byte, 0, len(payload)), family, gen, client, scope, iat, exp, fexp, version), payload) {
		return p, false
	}
	return refreshPayload{Family: &family, Generation: &gen, ClientID: &client, Scope: &scope,
		IssuedAt: &iat, Expiry: &exp, FamilyExpiry: &fexp, SecretVersion: &version}, true
}

// maxUnix is the start of year 10000: later times are garbage.
const maxUnix = 253402300800

func unixTime(sec int64) time.Time {
	if sec <= 0 || sec >= maxUnix {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// checkRefreshToken checks what encode writes and parse accepts.
func checkRefreshToken(t refreshToken) error {
	switch {
	case !chave.ValidFamilyID(t.family):
		return errors.New("bad family id")
	case t.generation < 0:
		return errors.New("negative generation")
	case t.clientID == "" || len(t.clientID) > maxClientCredentialSize:
		return errors.New("bad client id")
	case len(t.scopes) == 0:
		return errors.New("no scopes")
	case t.secretVersion == "":
		return errors.New("no secret version")
	case t.issuedAt.IsZero() || t.expiry.IsZero() || t.familyExpiry.IsZero():
		return errors.New("a time is missing or out of range")
	case t.issuedAt.Unix() >= t.expiry.Unix():
		return errors.New("expiry not after issue")
	case t.expiry.Unix() > t.familyExpiry.Unix():
		return errors.New("expiry after the family's")
	}
	for i, s := range t.scopes {
		if s == "" || strings.ContainsFunc(s, unicode.IsSpace) {
			return errors.New("empty scope or scope with white space")
		}
		if i > 0 && t.scopes[i-1] >= s {
			return errors.New("scopes not sorted or repeated")
		}
	}
	return nil
}

// newFamilyID returns a new family id: 128 bits from crypto/rand,
// base64url.
func newFamilyID() string {
	b := make([]byte, chave.FamilyIDBytes)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return b64.EncodeToString(b)
}

// intersectSorted returns the strings in both sorted sets, sorted.
func intersectSorted(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, found := slices.BinarySearch(b, s); found {
			out = append(out, s)
		}
	}
	return out
}
