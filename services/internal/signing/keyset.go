package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// KeySet holds the signing keys: one active key that signs, and every key
// (active or retired) published for verification. It is safe for
// concurrent use; its state is an immutable snapshot swapped atomically,
// so that rotation can replace it without locking the signing path.
type KeySet struct {
	state atomic.Pointer[keyState]
}

type keyState struct {
	active *Key
	keys   []*Key // newest first
	// verification holds each key's verification JWK (public, or the
	// secret for HS512); Keys hands it out.
	verification jwk.Set
	// jwks is the public JWK Set document.
	jwks []byte
}

// Generate returns a KeySet held only in memory, with one new key for alg
// (DefaultAlgorithm if empty). It suits tests and ephemeral servers: tokens
// it signs stop verifying when the process ends.
func Generate(alg jwa.SignatureAlgorithm, now time.Time) (*KeySet, error) {
	if alg == "" {
		alg = DefaultAlgorithm
	}
	key, err := generateKey(alg, now)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return newKeySet([]*Key{key})
}

// Load reads a key file written by LoadOrCreate.
func Load(path string) (*KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing: reading key file: %w", err)
	}
	s, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("signing: key file %s: %w", path, err)
	}
	return s, nil
}

// LoadOrCreate loads the key file at path or, if there is none, creates it
// with one new key for alg (DefaultAlgorithm if empty). The file is created
// atomically, with mode 0600, and never overwritten: if two processes race,
// both end up with the winner's keys. An existing file whose active key
// uses another algorithm is an error, not a silent switch: changing the
// algorithm is a key rotation.
func LoadOrCreate(path string, alg jwa.SignatureAlgorithm, now time.Time) (*KeySet, error) {
	if alg == "" {
		alg = DefaultAlgorithm
	}
	s, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		s, err = create(path, alg, now)
	}
	if err != nil {
		return nil, err
	}
	if got := s.Active().Algorithm(); got != alg {
		return nil, fmt.Errorf("signing: key file %s signs with %s, but %s is configured", path, got, alg)
	}
	return s, nil
}

func create(path string, alg jwa.SignatureAlgorithm, now time.Time) (*KeySet, error) {
	s, err := Generate(alg, now)
	if err != nil {
		return nil, err
	}
	data, err := s.marshalKeyFile()
	if err != nil {
		return nil, err
	}
	err = writeFileExclusive(path, data)
	if errors.Is(err, fs.ErrExist) {
		// Another process created the file first: use its keys.
		return Load(path)
	}
	if err != nil {
		return nil, fmt.Errorf("signing: writing key file: %w", err)
	}
	return s, nil
}

func parseKeyFile(data []byte) (*KeySet, error) {
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parsing JWK set: %w", err)
	}
	keys := make([]*Key, 0, set.Len())
	for i := range set.Len() {
		jk, _ := set.Key(i)
		k, err := keyFromJWK(jk)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	st, err := newKeyState(keys)
	if err != nil {
		return nil, err
	}
	s := &KeySet{}
	s.state.Store(st)
	return s, nil
}

// newKeySet builds a KeySet from keys, in any order.
func newKeySet(keys []*Key) (*KeySet, error) {
	st, err := newKeyState(keys)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	s := &KeySet{}
	s.state.Store(st)
	return s, nil
}

func newKeyState(keys []*Key) (*keyState, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	keys = slices.Clone(keys)
	// Newest first; the kid breaks ties so that the order is stable.
	slices.SortFunc(keys, func(a, b *Key) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	st := &keyState{keys: keys, verification: jwk.NewSet()}
	public := jwk.NewSet()
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k.id] {
			return nil, fmt.Errorf("duplicate kid %q", k.id)
		}
		seen[k.id] = true
		if st.active == nil && k.retired.IsZero() {
			st.active = k
		}
		if err := st.verification.AddKey(k.verification); err != nil {
			return nil, fmt.Errorf("adding key %s: %w", k.id, err)
		}
		if k.secret == nil {
			if err := public.AddKey(k.verification); err != nil {
				return nil, fmt.Errorf("adding key %s: %w", k.id, err)
			}
		}
	}
	if st.active == nil {
		return nil, errors.New("no key may sign: every key is retired")
	}
	jwks, err := json.Marshal(public)
	if err != nil {
		return nil, fmt.Errorf("encoding JWKS: %w", err)
	}
	st.jwks = jwks
	return st, nil
}

// marshalKeyFile encodes every key, private parts included, as a JWK Set.
func (s *KeySet) marshalKeyFile() ([]byte, error) {
	st := s.state.Load()
	set := jwk.NewSet()
	for _, k := range st.keys {
		if err := set.AddKey(k.private); err != nil {
			return nil, fmt.Errorf("signing: adding key %s: %w", k.id, err)
		}
	}
	data, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("signing: encoding key file: %w", err)
	}
	return append(data, '\n'), nil
}

// Active returns the key that signs.
func (s *KeySet) Active() *Key { return s.state.Load().active }

// All returns every key, newest first.
func (s *KeySet) All() []*Key { return slices.Clone(s.state.Load().keys) }

// Algorithms returns the algorithms of the published keys, for a verifier's
// allow-list.
func (s *KeySet) Algorithms() []jwa.SignatureAlgorithm {
	var algs []jwa.SignatureAlgorithm
	for _, k := range s.state.Load().keys {
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs
}

// Keys returns the keys that verify the set's tokens, so that a KeySet is a
// verify.KeySource for the all-in-one server. For HS512 these are the
// secret keys themselves: the set must not be modified, printed or served.
// PublicJWKS is what may be published.
func (s *KeySet) Keys(context.Context) (jwk.Set, error) {
	return s.state.Load().verification, nil
}

// PublicJWKS returns the JWK Set document (RFC 7517) of the public keys,
// each with kid, alg and use "sig". A symmetric (HS512) key is never
// published: its set is empty.
func (s *KeySet) PublicJWKS() ([]byte, error) {
	return bytes.Clone(s.state.Load().jwks), nil
}

// String describes the set without private material.
func (s *KeySet) String() string {
	st := s.state.Load()
	ids := make([]string, len(st.keys))
	for i, k := range st.keys {
		ids[i] = k.id
	}
	return fmt.Sprintf("signing key set (active %s %s; kids %s)", st.active.id, st.active.alg, strings.Join(ids, ", "))
}

// LogValue logs the active key and the number of keys.
func (s *KeySet) LogValue() slog.Value {
	st := s.state.Load()
	return slog.GroupValue(
		slog.Any("active", st.active),
		slog.Int("keys", len(st.keys)),
	)
}
