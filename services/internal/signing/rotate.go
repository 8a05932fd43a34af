package signing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/chave/chave/services/internal/filelock"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Rotation defaults, for commands and configuration.
const (
	// DefaultPrePublish is how long a new key is published before it
	// signs. It must exceed how long verifiers cache the JWKS (the gateway
	// caches it for a minute), or they would meet tokens whose kid they do
	// not know yet.
	DefaultPrePublish = 10 * time.Minute
	// DefaultRetention is how long a retired key stays published. It must
	// be at least the longest lifetime of a token the key signed, plus the
	// verifiers' clock leeway.
	DefaultRetention = 24 * time.Hour
	// DefaultWatchInterval is how often Watch looks at the key file when
	// given no interval.
	DefaultWatchInterval = 10 * time.Second
)

// Rotate adds a new key for alg (DefaultAlgorithm if empty), published at
// once and signing from now+prePublish (rounded up to the second), and
// retires the keys that sign until then at that same instant, so that
// exactly one key signs at any time. It also prunes the keys retired at
// least retention ago: retention is the longest lifetime of any token a
// key may have signed (the access-token lifetime plus the verifiers' clock
// leeway), and must be positive.
//
// The algorithm may change from one key to the next: the JWKS and
// Algorithms then hold both until the old key is pruned.
//
// Rotate changes this KeySet only; RotateFile rotates a key file.
func (s *KeySet) Rotate(alg jwa.SignatureAlgorithm, now time.Time, prePublish, retention time.Duration) (*Key, error) {
	key, err := newRotationKey(alg, now, prePublish, retention)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := rotateSchedule(s.state.p.Load(), key, now, retention)
	if err != nil {
		return nil, fmt.Errorf("signing: rotating: %w", err)
	}
	s.state.p.Store(sc)
	return key, nil
}

// Prune removes the keys retired at least retention ago (see Rotate) and
// returns them. Keys that sign now or later are never pruned.
func (s *KeySet) Prune(now time.Time, retention time.Duration) ([]*Key, error) {
	if retention <= 0 {
		return nil, fmt.Errorf("signing: retention %v must be positive", retention)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept, pruned := pruneKeys(s.state.p.Load().keys(), now, retention)
	if len(pruned) == 0 {
		return nil, nil
	}
	sc, err := newSchedule(kept)
	if err != nil {
		return nil, fmt.Errorf("signing: pruning: %w", err)
	}
	s.state.p.Store(sc)
	return pruned, nil
}

// RotateFile rotates the key file at path as Rotate does and returns the
// new key. It holds an exclusive lock (flock on path + ".lock") while it
// reads, rotates and writes, so that concurrent rotations, from this
// process or others, each add their key and none is lost; the file is
// replaced atomically, mode 0600. Running servers learn the new key
// through Reload or Watch; the file must exist.
func RotateFile(path string, alg jwa.SignatureAlgorithm, now time.Time, prePublish, retention time.Duration) (*Key, error) {
	key, err := newRotationKey(alg, now, prePublish, retention)
	if err != nil {
		return nil, err
	}
	_, err = updateFile(path, func(sc *schedule) (*schedule, error) {
		return rotateSchedule(sc, key, now, retention)
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// Reload replaces the set's keys with those of the key file at path. The
// swap is atomic: signing never sees a partial set.
func (s *KeySet) Reload(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("signing: reading key file: %w", err)
	}
	sc, err := parseSchedule(data)
	if err != nil {
		return fmt.Errorf("signing: key file %s: %w", path, err)
	}
	s.mu.Lock()
	s.state.p.Store(sc)
	s.mu.Unlock()
	return nil
}

// Watch reloads the key file at path whenever its identity, size or
// modification time changes, looking every interval (DefaultWatchInterval
// if not positive), so that a server picks up a rotation or a pruning
// done by another process. It reloads once at the start, closing the gap
// since the set was loaded. Errors are logged (log may be nil) and the
// set keeps its keys. Watch returns when ctx ends.
func (s *KeySet) Watch(ctx context.Context, path string, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last os.FileInfo
	for {
		// Stat before reading: a change between the two is seen at the
		// next look.
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			if last != nil {
				log.Error("signing keys: watching the key file", "path", path, "err", err)
			}
			last = nil
		case last == nil || !sameVersion(last, fi):
			if err := s.Reload(path); err != nil {
				log.Error("signing keys: reloading the key file", "path", path, "err", err)
			} else if last != nil {
				log.Info("signing keys: reloaded the key file", "path", path, "keys", s)
			}
			// Even after an error: the next change gets the next try,
			// without an error logged every interval meanwhile.
			last = fi
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// RunSchedule rotates the key file at path when the key signing now
// activated at least every ago and no rotation is pending, as RotateFile
// does with alg, prePublish and retention, and prunes the keys retired at
// least retention ago. It keeps this KeySet in step with the file it
// writes. Several processes may run it on one file: each decision is made
// again on the file under its lock, so a rotation due is done once.
//
// It looks at the set every tenth of every, at most every minute, and
// returns nil when ctx ends; an error at once if the arguments are
// invalid. Failures are logged (log may be nil) and retried.
func (s *KeySet) RunSchedule(ctx context.Context, path string, every time.Duration, alg jwa.SignatureAlgorithm, prePublish, retention time.Duration, log *slog.Logger) error {
	if every <= 0 {
		return fmt.Errorf("signing: rotation interval %v must be positive", every)
	}
	if err := checkRotation(alg, prePublish, retention); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	look := min(every/10, time.Minute)
	ticker := time.NewTicker(max(look, time.Millisecond))
	defer ticker.Stop()
	for {
		if err := s.maintain(path, s.state.clock(), every, alg, prePublish, retention, log); err != nil {
			log.Error("signing keys: scheduled rotation", "path", path, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// maintain is one look of RunSchedule at time now.
func (s *KeySet) maintain(path string, now time.Time, every time.Duration, alg jwa.SignatureAlgorithm, prePublish, retention time.Duration, log *slog.Logger) error {
	keys := s.state.p.Load().keys()
	rotate := rotationDue(keys, now, every)
	if !rotate && !pruneDue(keys, now, retention) {
		return nil // the common case: no lock, no file access
	}
	var key *Key
	if rotate {
		// Generated before taking the lock, which other processes wait
		// for; unused if another process rotated first.
		var err error
		if key, err = newRotationKey(alg, now, prePublish, retention); err != nil {
			return err
		}
	}
	var rotated *Key
	var pruned []*Key
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := updateFile(path, func(sc *schedule) (*schedule, error) {
		keys := sc.keys()
		if rotationDue(keys, now, every) {
			if key == nil {
				var err error
				if key, err = newRotationKey(alg, now, prePublish, retention); err != nil {
					return nil, err
				}
			}
			rotated = key
			_, pruned = pruneKeys(keys, now, retention)
			return rotateSchedule(sc, key, now, retention)
		}
		kept, p := pruneKeys(keys, now, retention)
		if len(p) == 0 {
			return nil, nil
		}
		pruned = p
		return newSchedule(kept)
	})
	if err != nil {
		return err
	}
	// The file as it is now, whoever changed it.
	s.state.p.Store(sc)
	if rotated != nil {
		log.Info("signing keys: rotated", "path", path, "key", rotated)
	}
	for _, k := range pruned {
		log.Info("signing keys: pruned a retired key", "path", path, "key", k)
	}
	return nil
}

// rotationDue reports whether a scheduled rotation is due at now: no
// rotation is pending, and the key signing now activated at least every
// ago.
func rotationDue(keys []*Key, now time.Time, every time.Duration) bool {
	for _, k := range keys {
		if k.pending(now) {
			return false
		}
	}
	return !now.Before(activeAt(keys, now).activates.Add(every))
}

func pruneDue(keys []*Key, now time.Time, retention time.Duration) bool {
	_, pruned := pruneKeys(keys, now, retention)
	return len(pruned) > 0
}

// pruneKeys splits keys into those kept and those retired at least
// retention ago. The order is kept.
func pruneKeys(keys []*Key, now time.Time, retention time.Duration) (kept, pruned []*Key) {
	kept = make([]*Key, 0, len(keys))
	for _, k := range keys {
		if !k.retired.IsZero() && !now.Before(k.retired.Add(retention)) {
			pruned = append(pruned, k)
		} else {
			kept = append(kept, k)
		}
	}
	return kept, pruned
}

func checkRotation(alg jwa.SignatureAlgorithm, prePublish, retention time.Duration) error {
	switch {
	case prePublish < 0:
		return fmt.Errorf("signing: pre-publication delay %v is negative", prePublish)
	case retention <= 0:
		return fmt.Errorf("signing: retention %v must be positive", retention)
	case alg != "" && !slices.Contains(Algorithms(), alg):
		return fmt.Errorf("signing: algorithm %q is not supported (use one of %v)", alg, Algorithms())
	}
	return nil
}

// newRotationKey generates the key a rotation at now adds: published from
// now, signing from now+prePublish rounded up to the second (the key file
// keeps whole seconds; rounding down could let it sign early).
func newRotationKey(alg jwa.SignatureAlgorithm, now time.Time, prePublish, retention time.Duration) (*Key, error) {
	if err := checkRotation(alg, prePublish, retention); err != nil {
		return nil, err
	}
	if alg == "" {
		alg = DefaultAlgorithm
	}
	at := now.Add(prePublish)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	key, err := generateKey(alg, now, at)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return key, nil
}

// rotateSchedule returns sc with key added, the keys that would sign at or
// after the key's activation retired at that instant, and the keys retired
// at least retention before now pruned.
func rotateSchedule(sc *schedule, key *Key, now time.Time, retention time.Duration) (*schedule, error) {
	at := key.activates
	kept, _ := pruneKeys(sc.keys(), now, retention)
	keys := make([]*Key, 0, len(kept)+1)
	keys = append(keys, key)
	for _, k := range kept {
		if k.retired.IsZero() || k.retired.After(at) {
			var err error
			if k, err = k.withRetired(at); err != nil {
				return nil, err
			}
		}
		keys = append(keys, k)
	}
	return newSchedule(keys)
}

// updateFile locks the key file at path (see lockFile), reads it, and
// passes its schedule to change; if change returns a schedule, it replaces
// the file. It returns the file's schedule as it is when the lock is
// released.
func updateFile(path string, change func(*schedule) (*schedule, error)) (_ *schedule, err error) {
	// Checked first so that a mistyped path leaves no lock file behind.
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("signing: key file: %w", err)
	}
	unlock, err := filelock.Lock(path)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("signing: unlocking the key file: %w", uerr))
		}
	}()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing: reading key file: %w", err)
	}
	sc, err := parseSchedule(data)
	if err != nil {
		return nil, fmt.Errorf("signing: key file %s: %w", path, err)
	}
	next, err := change(sc)
	if err != nil {
		return nil, fmt.Errorf("signing: key file %s: %w", path, err)
	}
	if next == nil {
		return sc, nil
	}
	if data, err = next.marshal(); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return nil, fmt.Errorf("signing: writing key file: %w", err)
	}
	return next, nil
}
