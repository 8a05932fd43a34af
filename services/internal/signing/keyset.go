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
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// KeySet holds the signing keys: the key that signs now, the keys that
// will sign after a pending rotation, and the retired keys still published
// for the tokens they signed. It is safe for concurrent use.
//
// Its state is an immutable schedule swapped atomically: every change
// (Rotate, Prune, Reload) builds a new one, so that the signing path never
// takes a lock. The schedule precomputes which key signs in each period
// between activation and retirement instants, so that a pending key starts
// signing at its activation instant without any reload: Sign only compares
// the clock with those instants.
type KeySet struct {
	state states
	// mu serializes the writers, so that two rotations in one process
	// do not lose each other's key.
	mu sync.Mutex
}

// states holds a KeySet's schedule. Its Load returns the state in force
// now.
type states struct {
	p atomic.Pointer[schedule]
	// now is the clock; nil means time.Now. Tests set it before any
	// concurrent use.
	now func() time.Time
}

func (h *states) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// Load returns the state in force now. Sign (token.go) reads
// s.state.Load().active: that is how it follows activations as time passes.
func (h *states) Load() *keyState {
	sc := h.p.Load()
	if len(sc.phases) == 1 {
		return sc.phases[0] // no activation or retirement to come or past: no clock read
	}
	return sc.at(h.clock())
}

// schedule is a key set over time: phases[i] is in force from starts[i]
// (inclusive) until starts[i+1], and phases[0] from the beginning of time.
// Consecutive phases differ in their active key; all share the keys, the
// verification set and the JWKS.
type schedule struct {
	starts []time.Time
	phases []*keyState
}

func (sc *schedule) at(t time.Time) *keyState {
	for i := len(sc.phases) - 1; i > 0; i-- {
		if !t.Before(sc.starts[i]) {
			return sc.phases[i]
		}
	}
	return sc.phases[0]
}

// keys returns the keys, newest first; the caller must not modify them.
func (sc *schedule) keys() []*Key { return sc.phases[0].keys }

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
	key, err := generateKey(alg, now, time.Time{})
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
// both end up with the winner's keys. An existing file whose latest key
// (the one that signs once pending rotations are done) uses another
// algorithm is an error, not a silent switch: changing the algorithm is a
// key rotation (Rotate, RotateFile), after which the configuration must
// name the new algorithm.
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
	// The key that signs last, not the one signing now: after a rotation
	// to another algorithm, the configuration must name the new one.
	if got := latest(s.state.p.Load().keys()).Algorithm(); got != alg {
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
	sc, err := parseSchedule(data)
	if err != nil {
		return nil, err
	}
	s := &KeySet{}
	s.state.p.Store(sc)
	return s, nil
}

func parseSchedule(data []byte) (*schedule, error) {
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
	return newSchedule(keys)
}

// newKeySet builds a KeySet from keys, in any order.
func newKeySet(keys []*Key) (*KeySet, error) {
	sc, err := newSchedule(keys)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	s := &KeySet{}
	s.state.p.Store(sc)
	return s, nil
}

// errEmptySet is newSchedule's error for a set without keys.
var errEmptySet = errors.New("no keys")

// newSchedule checks keys (in any order) and precomputes which of them
// signs when.
func newSchedule(keys []*Key) (*schedule, error) {
	if len(keys) == 0 {
		return nil, errEmptySet
	}
	keys = slices.Clone(keys)
	// Newest first; the kid breaks ties so that the order is stable.
	slices.SortFunc(keys, func(a, b *Key) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	base := keyState{keys: keys, verification: jwk.NewSet()}
	public := jwk.NewSet()
	seen := make(map[string]bool, len(keys))
	var instants []time.Time
	signer := false
	for _, k := range keys {
		if seen[k.id] {
			return nil, fmt.Errorf("duplicate kid %q", k.id)
		}
		seen[k.id] = true
		if k.retired.IsZero() {
			signer = true
		} else {
			instants = append(instants, k.retired)
		}
		instants = append(instants, k.activates)
		if err := base.verification.AddKey(k.verification); err != nil {
			return nil, fmt.Errorf("adding key %s: %w", k.id, err)
		}
		if k.secret == nil {
			if err := public.AddKey(k.verification); err != nil {
				return nil, fmt.Errorf("adding key %s: %w", k.id, err)
			}
		}
	}
	if !signer {
		return nil, errors.New("no key may sign: every key is retired")
	}
	jwks, err := json.Marshal(public)
	if err != nil {
		return nil, fmt.Errorf("encoding JWKS: %w", err)
	}
	base.jwks = jwks

	slices.SortFunc(instants, time.Time.Compare)
	instants = slices.CompactFunc(instants, time.Time.Equal)
	sc := &schedule{}
	add := func(start time.Time, active *Key) {
		if n := len(sc.phases); n > 0 && sc.phases[n-1].active == active {
			return
		}
		st := base
		st.active = active
		sc.starts = append(sc.starts, start)
		sc.phases = append(sc.phases, &st)
	}
	add(time.Time{}, activeAt(keys, instants[0].Add(-time.Nanosecond)))
	for _, t := range instants {
		add(t, activeAt(keys, t))
	}
	return sc, nil
}

// activeAt returns the key that signs at t: the most recently activated of
// the keys whose signing period holds t. If there is none (a clock behind
// the key file, or a hand-edited file with a gap between a retirement and
// the next activation), it is the key that activates next, never a
// retired one: a key must not sign after its retirement, or its tokens
// could outlive its publication. keys is newest first and holds a key that
// is never retired.
func activeAt(keys []*Key, t time.Time) *Key {
	var best *Key
	for _, k := range keys {
		if k.signsAt(t) && (best == nil || k.activates.After(best.activates)) {
			best = k
		}
	}
	if best != nil {
		return best
	}
	for _, k := range keys {
		if !k.retiredAt(t) && (best == nil || k.activates.Before(best.activates)) {
			best = k
		}
	}
	return best
}

// latest returns the key that signs last: of the keys never retired, the
// one that activates last.
func latest(keys []*Key) *Key {
	var last *Key
	for _, k := range keys {
		if k.retired.IsZero() && (last == nil || k.activates.After(last.activates)) {
			last = k
		}
	}
	return last
}

// marshalKeyFile encodes every key, private parts included, as a JWK Set.
func (s *KeySet) marshalKeyFile() ([]byte, error) {
	return s.state.p.Load().marshal()
}

func (sc *schedule) marshal() ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range sc.keys() {
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

// Active returns the key that signs now.
func (s *KeySet) Active() *Key { return s.state.Load().active }

// ActiveAt returns the key that signs at t, as far as the set knows now.
func (s *KeySet) ActiveAt(t time.Time) *Key { return s.state.p.Load().at(t).active }

// All returns every key (pending, signing and retired), newest first.
func (s *KeySet) All() []*Key { return slices.Clone(s.state.Load().keys) }

// Algorithms returns the algorithms of the published keys (pending,
// signing and retired), for a verifier's allow-list: after a rotation that
// changes the algorithm it holds both until the old key is pruned.
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
