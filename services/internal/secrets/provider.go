package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// KeyProvider supplies the server keys. It is the seam where a key
// management service plugs in: the file and the environment implement it
// now (FileProvider, StaticProvider); a KMS or Vault transit backend would
// keep the versions' key material wrapped (encrypted under a key that never
// leaves the KMS), unwrap it when Keys first needs it or a version
// changes, and answer Keys from memory afterwards.
//
// Keys is called on every hash, seal and refresh-token operation and must
// be cheap; Refresh is called when a value names a version Keys lacks
// (another replica activated a version this one has not seen yet) and may
// reach the backend, at most a few times a second.
type KeyProvider interface {
	// Keys returns the current keys. The caller must not modify them.
	Keys(ctx context.Context) (*Keys, error)
	// Refresh reads the keys from their source at once and returns them.
	Refresh(ctx context.Context) (*Keys, error)
}

// StaticProvider serves keys fixed at start-up: those of the environment
// (CHAVE_HASH_KEY, CHAVE_ENCRYPTION_KEY, CHAVE_REFRESH_TOKEN_KEY), which
// change only with a restart.
type StaticProvider struct{ keys *Keys }

// NewStaticProvider returns a provider of a copy of k.
func NewStaticProvider(k Keys) *StaticProvider {
	c := k.Clone()
	return &StaticProvider{keys: &c}
}

// Keys returns the keys.
func (p *StaticProvider) Keys(context.Context) (*Keys, error) { return p.keys, nil }

// Refresh returns the keys: they never change.
func (p *StaticProvider) Refresh(context.Context) (*Keys, error) { return p.keys, nil }

// ParseKeyList reads an environment variable's key ring: one base64 key
// (version 1, as before versions), or versions as "N:base64" separated by
// commas, the active one first ("2:…,1:…").
func ParseKeyList(kind Kind, s string) (KeyRing, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, ":") {
		key, err := DecodeKey(s)
		if err != nil {
			return KeyRing{}, fmt.Errorf("%s key: %w", kind, err)
		}
		r := SingleVersion(key)
		return r, r.Validate(kind)
	}
	var r KeyRing
	for i, item := range strings.Split(s, ",") {
		vs, b64, ok := strings.Cut(strings.TrimSpace(item), ":")
		v, err := strconv.Atoi(vs)
		if !ok || err != nil || v < 1 {
			return KeyRing{}, fmt.Errorf("%s key list: item %d is not VERSION:BASE64", kind, i+1)
		}
		key, err := DecodeKey(b64)
		if err != nil {
			return KeyRing{}, fmt.Errorf("%s key version %d: %w", kind, v, err)
		}
		if i == 0 {
			r.Active = v
		}
		r.Versions = append(r.Versions, KeyVersion{Version: v, Key: key})
	}
	sortVersions(r.Versions)
	return r, r.Validate(kind)
}

func sortVersions(vs []KeyVersion) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].Version < vs[j-1].Version; j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

// FileProvider serves the keys of a secrets file and notices when the file
// changes: Keys looks at the file's size and modification time at most once
// per CheckInterval and reads it again when either moved. A file that fails
// to parse keeps the keys last read in service (and Keys reports nothing;
// Refresh returns the error).
type FileProvider struct {
	// OnError, when set before first use, is told why a changed file did
	// not load (the keys read before stay in service).
	OnError func(error)

	path     string
	interval time.Duration
	now      func() time.Time

	cur       atomic.Pointer[Keys]
	nextCheck atomic.Int64 // unix nanoseconds

	mu      sync.Mutex // serialises reads of the file
	stamp   fileStamp
	bad     fileStamp // the last change that did not load, reported once
	lastRef time.Time // last forced refresh
}

// DefaultCheckInterval is how often a FileProvider looks at its file.
const DefaultCheckInterval = 2 * time.Second

// minRefreshInterval bounds forced refreshes: a value naming an unknown
// version (which a client can forge in a refresh token) costs at most this
// many file reads.
const minRefreshInterval = 200 * time.Millisecond

type fileStamp struct {
	size int64
	mod  time.Time
}

// NewFileProvider reads the secrets file at path, creating it with fresh
// keys when it does not exist (LoadOrCreateKeyFile). interval zero means
// DefaultCheckInterval.
func NewFileProvider(path string, interval time.Duration) (*FileProvider, error) {
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	p := &FileProvider{path: path, interval: interval, now: time.Now}
	k, err := LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, err
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	st, err := stampOf(path)
	if err != nil {
		return nil, err
	}
	p.stamp = st
	p.cur.Store(&k)
	p.nextCheck.Store(p.now().Add(interval).UnixNano())
	return p, nil
}

// Path returns the file's path.
func (p *FileProvider) Path() string { return p.path }

func stampOf(path string) (fileStamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, fmt.Errorf("key file: %w", err)
	}
	return fileStamp{size: info.Size(), mod: info.ModTime()}, nil
}

// Keys returns the keys, reading the file again if it changed since the
// last look (at most once per interval).
func (p *FileProvider) Keys(ctx context.Context) (*Keys, error) {
	now := p.now()
	if next := p.nextCheck.Load(); now.UnixNano() < next || !p.nextCheck.CompareAndSwap(next, now.Add(p.interval).UnixNano()) {
		return p.cur.Load(), nil
	}
	// This caller won the look; the others keep the current keys.
	if _, err := p.reload(false); err != nil && p.OnError != nil {
		p.OnError(err)
	}
	return p.cur.Load(), nil
}

// Refresh reads the file at once if it changed (at most every
// minRefreshInterval) and returns the keys.
func (p *FileProvider) Refresh(ctx context.Context) (*Keys, error) {
	return p.reload(true)
}

func (p *FileProvider) reload(forced bool) (*Keys, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if forced {
		now := p.now()
		if now.Sub(p.lastRef) < minRefreshInterval {
			return p.cur.Load(), nil
		}
		p.lastRef = now
	}
	st, err := stampOf(p.path)
	if err != nil {
		return p.cur.Load(), err
	}
	if st == p.stamp || (!forced && st == p.bad) {
		return p.cur.Load(), nil
	}
	k, err := ReadKeyFile(p.path)
	if err == nil {
		err = k.Validate()
	}
	if err != nil {
		p.bad = st
		return p.cur.Load(), fmt.Errorf("key file %s changed but does not load (the keys read before stay in use): %w", p.path, err)
	}
	p.stamp = st
	p.cur.Store(&k)
	return &k, nil
}

// keysOf returns the current ring of kind from p.
func keysOf(ctx context.Context, p KeyProvider, kind Kind) (KeyRing, error) {
	k, err := p.Keys(ctx)
	if err != nil {
		return KeyRing{}, err
	}
	if k == nil {
		return KeyRing{}, errors.New("secrets: the key provider has no keys")
	}
	return *k.Ring(kind), nil
}

// keyOf returns version v of kind from p, refreshing p once when it lacks
// v; ErrUnknownKeyVersion if it still does.
func keyOf(ctx context.Context, p KeyProvider, kind Kind, v int) ([]byte, error) {
	r, err := keysOf(ctx, p, kind)
	if err != nil {
		return nil, err
	}
	if key, ok := r.Key(v); ok {
		return key, nil
	}
	if latest := r.Versions; len(latest) > 0 && v < latest[len(latest)-1].Version {
		// An older version this ring no longer holds: retired, not news.
		return nil, fmt.Errorf("%w: %s version %d", ErrUnknownKeyVersion, kind, v)
	}
	k, err := p.Refresh(ctx)
	if err != nil {
		return nil, err
	}
	if key, ok := k.Ring(kind).Key(v); ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w: %s version %d", ErrUnknownKeyVersion, kind, v)
}
