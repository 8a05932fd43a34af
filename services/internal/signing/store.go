package signing

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage"
)

// Keys kept in the database.
const (
	// DefaultPollInterval is how often a KeySet kept in the database reads
	// the set's version to notice a change made elsewhere: another
	// replica's scheduled rotation, `chave keys rotate --db`.
	DefaultPollInterval = 2 * time.Second
	// RotationLease is the name of the lease the scheduled rotation holds:
	// one process of the fleet rotates and prunes.
	RotationLease = "signing-key-rotation"
)

// DB is the signing keys of a fleet kept in its database: each private key
// sealed (secrets.Sealer: AES-256-GCM) under the key-encryption key (KEK),
// bound to its kid, so that the database alone signs nothing and a sealed
// key moved to another row fails to open.
type DB struct {
	store  storage.SigningKeyStore
	sealer *secrets.Sealer // under the KEK
}

// NewDB returns the keys of store, sealed under kek (secrets.KEKSize bytes).
func NewDB(store storage.SigningKeyStore, kek []byte) (*DB, error) {
	if len(kek) != secrets.KEKSize {
		return nil, fmt.Errorf("signing: the key-encryption key must be %d bytes", secrets.KEKSize)
	}
	sealer, err := secrets.NewSealer(kek)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return &DB{store: store, sealer: sealer}, nil
}

func sealAAD(kid string) string { return "chave signing key\x00" + kid }

// seal returns the row that stores k.
func (db *DB) seal(ctx context.Context, k *Key, revoked time.Time) (chave.SigningKey, error) {
	data, err := json.Marshal(k.private)
	if err != nil {
		return chave.SigningKey{}, fmt.Errorf("signing: encoding key %s: %w", k.id, err)
	}
	sealed, err := db.sealer.Seal(ctx, string(data), sealAAD(k.id))
	if err != nil {
		return chave.SigningKey{}, fmt.Errorf("signing: sealing key %s: %w", k.id, err)
	}
	return chave.SigningKey{
		ID: k.id, Algorithm: k.alg.String(), Sealed: []byte(sealed),
		CreateTime: k.created, ActivateTime: k.activates, RetireTime: k.retired, RevokeTime: revoked,
	}, nil
}

// open rebuilds the key a row stores; its lifecycle is the row's.
func (db *DB) open(ctx context.Context, row chave.SigningKey) (*Key, error) {
	plain, err := db.sealer.Open(ctx, string(row.Sealed), sealAAD(row.ID))
	if err != nil {
		return nil, fmt.Errorf("signing: key %s does not open under the key-encryption key (is it the one that sealed it?): %w", row.ID, err)
	}
	jk, err := jwk.ParseKey([]byte(plain))
	if err != nil {
		return nil, fmt.Errorf("signing: key %s: %w", row.ID, err)
	}
	if jk.KeyID() != row.ID {
		return nil, fmt.Errorf("signing: key %s: sealed kid is %q", row.ID, jk.KeyID())
	}
	var raw any
	if err := jk.Raw(&raw); err != nil {
		return nil, fmt.Errorf("signing: key %s: %w", row.ID, err)
	}
	k, err := newKey(jwa.SignatureAlgorithm(row.Algorithm), row.ID, row.CreateTime, row.ActivateTime, row.RetireTime, raw)
	if err != nil {
		return nil, fmt.Errorf("signing: key %s: %w", row.ID, err)
	}
	return k, nil
}

// rows is the stored set opened: the keys in force (never revoked) and
// the rows of every key, revoked ones included.
type rows struct {
	keys []*Key
	byID map[string]chave.SigningKey
}

func (db *DB) openRows(ctx context.Context, set storage.SigningKeySet) (rows, error) {
	r := rows{byID: make(map[string]chave.SigningKey, len(set.Keys))}
	for _, row := range set.Keys {
		r.byID[row.ID] = row
		if !row.RevokeTime.IsZero() {
			continue
		}
		k, err := db.open(ctx, row)
		if err != nil {
			return rows{}, err
		}
		r.keys = append(r.keys, k)
	}
	return r, nil
}

// write returns the rows that store keys (sealing the new ones, keeping
// the sealed part of the others) and the revoked rows kept, those revoked
// less than retention before now.
func (db *DB) write(ctx context.Context, r rows, keys []*Key, now time.Time, retention time.Duration) ([]chave.SigningKey, error) {
	out := make([]chave.SigningKey, 0, len(keys))
	for _, k := range keys {
		row, ok := r.byID[k.id]
		if !ok {
			var err error
			if row, err = db.seal(ctx, k, time.Time{}); err != nil {
				return nil, err
			}
		}
		row.RetireTime = k.retired
		out = append(out, row)
	}
	for _, row := range r.byID {
		if !row.RevokeTime.IsZero() && now.Before(row.RevokeTime.Add(retention)) {
			out = append(out, row)
		}
	}
	slices.SortFunc(out, func(a, b chave.SigningKey) int { return compareStrings(a.ID, b.ID) })
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// update runs change on the stored keys in force inside one
// UpdateSigningKeys; change returns the new keys, or nil to write
// nothing. It returns the schedule as stored afterwards.
func (db *DB) update(ctx context.Context, now time.Time, retention time.Duration, change func([]*Key) ([]*Key, error)) (*schedule, error) {
	set, err := db.store.UpdateSigningKeys(ctx, func(set storage.SigningKeySet) ([]chave.SigningKey, error) {
		r, err := db.openRows(ctx, set)
		if err != nil {
			return nil, err
		}
		keys, err := change(r.keys)
		if err != nil || keys == nil {
			return nil, err
		}
		return db.write(ctx, r, keys, now, retention)
	})
	if err != nil {
		return nil, err
	}
	return db.schedule(ctx, set)
}

func (db *DB) schedule(ctx context.Context, set storage.SigningKeySet) (*schedule, error) {
	r, err := db.openRows(ctx, set)
	if err != nil {
		return nil, err
	}
	sc, err := newSchedule(r.keys)
	if err != nil {
		return nil, fmt.Errorf("signing: the database's signing keys: %w", err)
	}
	return sc, nil
}

// Load returns the set as stored, with the version it was read at.
func (db *DB) Load(ctx context.Context) (*KeySet, int64, error) {
	set, err := db.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("signing: reading the signing keys: %w", err)
	}
	sc, err := db.schedule(ctx, set)
	if err != nil {
		return nil, 0, err
	}
	s := &KeySet{}
	s.state.p.Store(sc)
	return s, set.Version, nil
}

// Rows returns the stored rows: the lifecycle of every key, revoked ones
// included, without opening any.
func (db *DB) Rows(ctx context.Context) ([]chave.SigningKey, error) {
	set, err := db.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing: reading the signing keys: %w", err)
	}
	return set.Keys, nil
}

// LoadOrCreate returns the stored set, first storing one new key for alg
// (DefaultAlgorithm if empty) if the database holds none in force: the
// first start of a fleet. Replicas that start together store one key,
// since the update is serialised.
func (db *DB) LoadOrCreate(ctx context.Context, alg jwa.SignatureAlgorithm, now time.Time) (*KeySet, int64, error) {
	if alg == "" {
		alg = DefaultAlgorithm
	}
	if s, v, err := db.Load(ctx); err == nil {
		return s, v, nil
	} else if !errors.Is(err, errNoKeys) {
		return nil, 0, err
	}
	_, err := db.update(ctx, now, DefaultRetention, func(keys []*Key) ([]*Key, error) {
		if len(keys) > 0 {
			return nil, nil // another replica was first
		}
		k, err := generateKey(alg, now, time.Time{})
		if err != nil {
			return nil, err
		}
		return []*Key{k}, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("signing: storing the first signing key: %w", err)
	}
	return db.Load(ctx)
}

// Rotate adds a new key to the stored set as KeySet.Rotate does (published
// now, signing from now+prePublish, the key it replaces retiring then, the
// keys retired retention ago pruned) and returns it, with the key signing
// until then.
func (db *DB) Rotate(ctx context.Context, alg jwa.SignatureAlgorithm, now time.Time, prePublish, retention time.Duration) (key, prev *Key, err error) {
	key, err = newRotationKey(alg, now, prePublish, retention)
	if err != nil {
		return nil, nil, err
	}
	_, err = db.update(ctx, now, retention, func(keys []*Key) ([]*Key, error) {
		if len(keys) == 0 {
			return nil, errNoStoredKeys
		}
		sc, err := newSchedule(keys)
		if err != nil {
			return nil, err
		}
		prev = sc.at(key.activates).active
		next, err := rotateSchedule(sc, key, now, retention)
		if err != nil {
			return nil, err
		}
		return next.keys(), nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("signing: rotating: %w", err)
	}
	return key, prev, nil
}

// EmergencyRotate replaces every stored key at once: a new key for alg
// signs from now, and every other key is revoked: unpublished, and kept
// unopened until retention has passed so that a revocation set rebuilt
// from the database still refuses the tokens it signed. It returns the new
// key and the revoked rows. Running replicas drop the revoked keys at
// their next poll; callers also write the kids into the revocation set so
// that verifiers refuse their tokens at once.
func (db *DB) EmergencyRotate(ctx context.Context, alg jwa.SignatureAlgorithm, now time.Time, retention time.Duration) (*Key, []chave.SigningKey, error) {
	if err := checkRotation(alg, 0, retention); err != nil {
		return nil, nil, err
	}
	if alg == "" {
		alg = DefaultAlgorithm
	}
	key, err := generateKey(alg, now, time.Time{})
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	var revoked []chave.SigningKey
	_, err = db.store.UpdateSigningKeys(ctx, func(set storage.SigningKeySet) ([]chave.SigningKey, error) {
		revoked = nil
		row, err := db.seal(ctx, key, time.Time{})
		if err != nil {
			return nil, err
		}
		out := []chave.SigningKey{row}
		for _, r := range set.Keys {
			if r.RevokeTime.IsZero() {
				r.RevokeTime = now
				if r.RetireTime.IsZero() || r.RetireTime.After(now) {
					r.RetireTime = now
				}
				revoked = append(revoked, r)
			}
			if now.Before(r.RevokeTime.Add(retention)) {
				out = append(out, r)
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("signing: emergency rotation: %w", err)
	}
	return key, revoked, nil
}

// Retire removes a key that no longer signs (retired, or superseded
// before it signed) from the stored set before its retention ends: the
// tokens it signed stop verifying once verifiers drop it. A key that signs
// now or will sign is refused: rotate first, or rotate --emergency.
func (db *DB) Retire(ctx context.Context, kid string, now time.Time) (*Key, error) {
	var retired *Key
	_, err := db.update(ctx, now, DefaultRetention, func(keys []*Key) ([]*Key, error) {
		i := slices.IndexFunc(keys, func(k *Key) bool { return k.id == kid })
		if i < 0 {
			return nil, chave.Errorf(chave.NotFound, "no signing key %q in force", kid)
		}
		k := keys[i]
		if k.retired.IsZero() || k.retired.After(now) {
			return nil, chave.Errorf(chave.FailedPrecondition,
				"signing key %s signs now or later: rotate first (chave keys rotate), or rotate --emergency if it leaked", kid)
		}
		retired = k
		return slices.Delete(slices.Clone(keys), i, i+1), nil
	})
	if err != nil {
		return nil, err
	}
	return retired, nil
}

// Import stores the keys of a key file's set that the database lacks;
// the set's schedule must stay sound (one key signing at any time).
func (db *DB) Import(ctx context.Context, file *KeySet, now time.Time) (added int, err error) {
	_, err = db.update(ctx, now, DefaultRetention, func(keys []*Key) ([]*Key, error) {
		added = 0
		out := slices.Clone(keys)
		for _, k := range file.state.p.Load().keys() {
			if !slices.ContainsFunc(keys, func(o *Key) bool { return o.id == k.id }) {
				out = append(out, k)
				added++
			}
		}
		if added == 0 {
			return nil, nil
		}
		if _, err := newSchedule(out); err != nil {
			return nil, err
		}
		return out, nil
	})
	return added, err
}

// Export returns the stored keys in force as a key file (a private JWK
// Set), for Load and LoadOrCreate.
func (db *DB) Export(ctx context.Context) ([]byte, error) {
	s, _, err := db.Load(ctx)
	if err != nil {
		return nil, err
	}
	return s.marshalKeyFile()
}

// errNoKeys is newSchedule's complaint about an empty set.
var errNoKeys = errEmptySet

var errNoStoredKeys = chave.Errorf(chave.FailedPrecondition,
	"the database holds no signing key yet: the servers store the first at their start (or chave keys import a key file)")

// WatchDB keeps s in step with the stored set: it reads the version every
// interval (DefaultPollInterval if not positive) and reloads the keys when
// it changed since version. Errors are logged and the set keeps its keys;
// a database it cannot reach does not stop signing. It returns when ctx
// ends.
func (s *KeySet) WatchDB(ctx context.Context, db *DB, version int64, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		v, err := db.store.SigningKeysVersion(ctx)
		if err != nil {
			log.Error("signing keys: polling the database", "err", err)
			continue
		}
		if v == version {
			continue
		}
		if err := s.reloadDB(ctx, db, &version); err != nil {
			log.Error("signing keys: reloading from the database", "err", err)
			continue
		}
		log.Info("signing keys: reloaded from the database", "version", version, "keys", s)
	}
}

func (s *KeySet) reloadDB(ctx context.Context, db *DB, version *int64) error {
	set, err := db.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	sc, err := db.schedule(ctx, set)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.state.p.Store(sc)
	s.mu.Unlock()
	*version = set.Version
	return nil
}

// Schedule is the scheduled rotation of a fleet's stored keys.
type Schedule struct {
	// Every is how long a key signs before the next rotation; > 0.
	Every time.Duration
	// Algorithm of new keys (DefaultAlgorithm if empty).
	Algorithm jwa.SignatureAlgorithm
	// PrePublish and Retention as for Rotate.
	PrePublish, Retention time.Duration
	// Look is how often to look (min(Every/10, 1 min) if zero); the lease
	// is held for 3 looks and renewed at each.
	Look time.Duration
}

// RunScheduleDB rotates the stored set on schedule sc and prunes it, from
// whichever process of the fleet holds the rotation lease: every process
// may run it, one acts at a time, and each decision is made again inside
// the update transaction, so that a rotation due is done once. It keeps s
// in step with what it writes. Failures are logged and retried; it
// returns nil when ctx ends, an error at once if sc is invalid.
func (s *KeySet) RunScheduleDB(ctx context.Context, db *DB, sc Schedule, log *slog.Logger) error {
	if sc.Every <= 0 {
		return fmt.Errorf("signing: rotation interval %v must be positive", sc.Every)
	}
	if err := checkRotation(sc.Algorithm, sc.PrePublish, sc.Retention); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	look := sc.Look
	if look <= 0 {
		look = max(min(sc.Every/10, time.Minute), time.Millisecond)
	}
	holder := "signing-" + rand.Text()
	ticker := time.NewTicker(look)
	defer ticker.Stop()
	defer func() {
		// Let another process take over at once; ctx is over.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = db.store.ReleaseLease(rctx, RotationLease, holder)
	}()
	for {
		if err := s.maintainDB(ctx, db, holder, s.state.clock(), sc, 3*look, log); err != nil && ctx.Err() == nil {
			log.Error("signing keys: scheduled rotation", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// maintainDB is one look of RunScheduleDB at time now.
func (s *KeySet) maintainDB(ctx context.Context, db *DB, holder string, now time.Time, sc Schedule, leaseFor time.Duration, log *slog.Logger) error {
	held, err := db.store.AcquireLease(ctx, RotationLease, holder, now, now.Add(leaseFor))
	if err != nil || !held {
		return err
	}
	var rotated *Key
	var pruned []*Key
	next, err := db.update(ctx, now, sc.Retention, func(keys []*Key) ([]*Key, error) {
		rotated, pruned = nil, nil
		cur, err := newSchedule(keys)
		if err != nil {
			return nil, err
		}
		if rotationDue(keys, now, sc.Every) {
			key, err := newRotationKey(sc.Algorithm, now, sc.PrePublish, sc.Retention)
			if err != nil {
				return nil, err
			}
			_, pruned = pruneKeys(keys, now, sc.Retention)
			n, err := rotateSchedule(cur, key, now, sc.Retention)
			if err != nil {
				return nil, err
			}
			rotated = key
			return n.keys(), nil
		}
		kept, p := pruneKeys(keys, now, sc.Retention)
		if len(p) == 0 {
			return nil, nil
		}
		pruned = p
		return kept, nil
	})
	if err != nil {
		return err
	}
	if rotated == nil && len(pruned) == 0 {
		return nil
	}
	s.mu.Lock()
	s.state.p.Store(next)
	s.mu.Unlock()
	if rotated != nil {
		log.Info("signing keys: rotated", "key", rotated, "holder", holder)
	}
	for _, k := range pruned {
		log.Info("signing keys: pruned a retired key", "key", k)
	}
	return nil
}
