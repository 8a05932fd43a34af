package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Kind names one of the three server keys.
type Kind string

// The server keys.
const (
	// KindHMAC hashes client secrets (Hasher).
	KindHMAC Kind = "hmac"
	// KindSeal seals secret parameters at rest (Sealer).
	KindSeal Kind = "seal"
	// KindRefresh authenticates refresh tokens.
	KindRefresh Kind = "refresh"
)

// Kinds lists every server key, in the order chave prints them.
var Kinds = []Kind{KindHMAC, KindSeal, KindRefresh}

// ParseKind reads a kind's name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown key kind %q: want hmac, seal or refresh", s)
}

// checkKey checks a key's size for its kind.
func (k Kind) checkKey(key []byte) error {
	if k == KindSeal {
		if len(key) != 32 {
			return fmt.Errorf("%s key must be 32 bytes", k)
		}
		return nil
	}
	if len(key) < MinKeyLen {
		return fmt.Errorf("%s key must be at least %d bytes", k, MinKeyLen)
	}
	return nil
}

// ErrUnknownKeyVersion reports a value made under a key version the ring
// does not hold (never added here, or retired).
var ErrUnknownKeyVersion = errors.New("unknown server key version")

// KeyVersion is one version of a server key.
type KeyVersion struct {
	Version int
	// Key is the key material; nil once the version is retired.
	Key          []byte
	CreateTime   time.Time
	ActivateTime time.Time // last activation; zero: never active
	// DeactivateTime is when the version stopped being the active one;
	// zero while it is, or if it never was.
	DeactivateTime time.Time
	RetireTime     time.Time // zero: not retired
}

// Retired reports whether the version's key is gone.
func (v KeyVersion) Retired() bool { return v.Key == nil }

// State names the version's state for people: active, inactive or retired.
func (v KeyVersion) State(active int) string {
	switch {
	case v.Retired():
		return "retired"
	case v.Version == active:
		return "active"
	}
	return "inactive"
}

// KeyRing is every version of one server key, one of them active: new
// values are made under the active version, and values made under any
// version the ring still holds are accepted.
type KeyRing struct {
	Active   int
	Versions []KeyVersion // ascending by version
}

// SingleVersion is a ring of one key, version 1, active: what a secrets
// file or configuration from before key versions holds.
func SingleVersion(key []byte) KeyRing {
	return KeyRing{Active: 1, Versions: []KeyVersion{{Version: 1, Key: bytes.Clone(key)}}}
}

// Key returns the key of version v, unless v is absent or retired.
func (r KeyRing) Key(v int) ([]byte, bool) {
	i, ok := r.find(v)
	if !ok || r.Versions[i].Retired() {
		return nil, false
	}
	return r.Versions[i].Key, true
}

// ActiveKey returns the active version and its key.
func (r KeyRing) ActiveKey() (int, []byte) {
	k, _ := r.Key(r.Active)
	return r.Active, k
}

// Usable returns the versions whose keys the ring holds, the active one
// first, then newest first.
func (r KeyRing) Usable() []KeyVersion {
	var out []KeyVersion
	for i := len(r.Versions) - 1; i >= 0; i-- {
		v := r.Versions[i]
		if v.Retired() {
			continue
		}
		if v.Version == r.Active {
			out = append([]KeyVersion{v}, out...)
		} else {
			out = append(out, v)
		}
	}
	return out
}

func (r KeyRing) find(v int) (int, bool) {
	return slices.BinarySearchFunc(r.Versions, v, func(kv KeyVersion, v int) int { return kv.Version - v })
}

// Validate checks the ring of kind k: versions ascending from 1, keys of
// the right size, the active version present and not retired.
func (r KeyRing) Validate(k Kind) error {
	if len(r.Versions) == 0 {
		return fmt.Errorf("%s: no key versions", k)
	}
	for i, v := range r.Versions {
		if v.Version < 1 || (i > 0 && v.Version <= r.Versions[i-1].Version) {
			return fmt.Errorf("%s: key versions must be positive and ascending (version %d)", k, v.Version)
		}
		if v.Retired() {
			continue
		}
		if err := k.checkKey(v.Key); err != nil {
			return fmt.Errorf("%s version %d: %w", k, v.Version, err)
		}
	}
	if _, ok := r.Key(r.Active); !ok {
		return fmt.Errorf("%s: the active version %d is absent or retired", k, r.Active)
	}
	return nil
}

// clone returns a deep copy.
func (r KeyRing) clone() KeyRing {
	out := KeyRing{Active: r.Active, Versions: slices.Clone(r.Versions)}
	for i := range out.Versions {
		out.Versions[i].Key = bytes.Clone(out.Versions[i].Key)
	}
	return out
}

// Add appends a new version with a fresh random key, inactive, and
// returns its number. Version numbers are never reused, retired ones
// included.
func (r *KeyRing) Add(now time.Time) (int, error) {
	key, err := randomKey()
	if err != nil {
		return 0, err
	}
	next := 1
	if n := len(r.Versions); n > 0 {
		next = r.Versions[n-1].Version + 1
	}
	r.Versions = append(r.Versions, KeyVersion{Version: next, Key: key, CreateTime: now.UTC()})
	return next, nil
}

// Activate makes version v the active one; the version it replaces keeps
// verifying (until retired) and records when it stopped being active.
func (r *KeyRing) Activate(v int, now time.Time) error {
	i, ok := r.find(v)
	if !ok {
		return fmt.Errorf("no key version %d", v)
	}
	if r.Versions[i].Retired() {
		return fmt.Errorf("key version %d is retired", v)
	}
	if v == r.Active {
		return nil
	}
	if j, ok := r.find(r.Active); ok {
		r.Versions[j].DeactivateTime = now.UTC()
	}
	r.Versions[i].ActivateTime, r.Versions[i].DeactivateTime = now.UTC(), time.Time{}
	r.Active = v
	return nil
}

// Retire destroys version v's key: whatever it made no longer verifies or
// opens. The active version cannot be retired; the caller checks first
// that nothing still needs v.
func (r *KeyRing) Retire(v int, now time.Time) error {
	i, ok := r.find(v)
	if !ok {
		return fmt.Errorf("no key version %d", v)
	}
	if v == r.Active {
		return fmt.Errorf("key version %d is the active one: activate another first", v)
	}
	if r.Versions[i].Retired() {
		return nil
	}
	r.Versions[i].Key, r.Versions[i].RetireTime = nil, now.UTC()
	return nil
}

// Version returns version v's record.
func (r KeyRing) Version(v int) (KeyVersion, bool) {
	i, ok := r.find(v)
	if !ok {
		return KeyVersion{}, false
	}
	return r.Versions[i], true
}

// Keys are the server keys that protect credentials at rest.
type Keys struct {
	Hash         KeyRing // HMAC key for client secrets
	Encryption   KeyRing // AES-256 key for secret parameters
	RefreshToken KeyRing // HMAC key that authenticates refresh tokens
}

// Ring returns the ring of kind k.
func (k *Keys) Ring(kind Kind) *KeyRing {
	switch kind {
	case KindHMAC:
		return &k.Hash
	case KindSeal:
		return &k.Encryption
	case KindRefresh:
		return &k.RefreshToken
	}
	return nil
}

// Clone returns a deep copy.
func (k Keys) Clone() Keys {
	return Keys{Hash: k.Hash.clone(), Encryption: k.Encryption.clone(), RefreshToken: k.RefreshToken.clone()}
}

// Validate checks every ring.
func (k *Keys) Validate() error {
	for _, kind := range Kinds {
		if err := k.Ring(kind).Validate(kind); err != nil {
			return err
		}
	}
	return nil
}
