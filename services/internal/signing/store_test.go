package signing

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlite"
)

func openTestStore(t *testing.T) storage.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "chave.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testKEK(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newTestDB(t *testing.T, st storage.SigningKeyStore, kek []byte) *DB {
	t.Helper()
	db, err := NewDB(st, kek)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestNewDBSealsAndShares(t *testing.T) {
	ctx := t.Context()
	st := openTestStore(t)
	db := newTestDB(t, st, testKEK(1))
	now := time.Now()
	a, _, err := db.LoadOrCreate(ctx, jwa.ES256, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := newTestDB(t, st, testKEK(1)).LoadOrCreate(ctx, jwa.ES256, now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Active().ID() != b.Active().ID() || len(b.All()) != 1 {
		t.Fatalf("two replicas signing with %s and %s (%d keys), want one shared key", a.Active().ID(), b.Active().ID(), len(b.All()))
	}
	// At rest the private part is sealed: no JWK member shows.
	rows, err := db.Rows(ctx)
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows: %v, %v", rows, err)
	}
	if bytes.Contains(rows[0].Sealed, []byte(`"d"`)) || bytes.Contains(rows[0].Sealed, []byte("kty")) {
		t.Fatalf("the stored key is not sealed: %q", rows[0].Sealed)
	}
	// Another key-encryption key opens nothing.
	if _, _, err := newTestDB(t, st, testKEK(2)).Load(ctx); err == nil || !strings.Contains(err.Error(), "key-encryption key") {
		t.Fatalf("Load under another KEK: %v, want an error naming the key-encryption key", err)
	}
	if _, err := NewDB(st, testKEK(1)[:16]); err == nil {
		t.Fatal("NewDB accepted a 16-byte KEK")
	}
	// A row whose algorithm column was changed (to HS512, whose "secret"
	// an attacker would pick) does not open: the sealed key decides.
	if _, err := st.UpdateSigningKeys(ctx, func(set storage.SigningKeySet) ([]chave.SigningKey, error) {
		keys := set.Keys
		keys[0].Algorithm = "HS512"
		return keys, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Load(ctx); err == nil {
		t.Fatal("a key whose algorithm column was changed to HS512 opened")
	}
	if _, err := st.UpdateSigningKeys(ctx, func(set storage.SigningKeySet) ([]chave.SigningKey, error) {
		keys := set.Keys
		keys[0].Algorithm = "ES256"
		return keys, nil
	}); err != nil {
		t.Fatal(err)
	}
	// A sealed key moved to another kid's row does not open.
	if _, _, err := db.Rotate(ctx, jwa.ES256, now, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateSigningKeys(ctx, func(set storage.SigningKeySet) ([]chave.SigningKey, error) {
		keys := set.Keys
		keys[0].Sealed, keys[1].Sealed = keys[1].Sealed, keys[0].Sealed
		return keys, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Load(ctx); err == nil {
		t.Fatal("keys whose sealed parts were swapped between rows opened")
	}
}

func TestNewDBRotateRetireEmergency(t *testing.T) {
	ctx := t.Context()
	st := openTestStore(t)
	db := newTestDB(t, st, testKEK(1))
	now := time.Now().Truncate(time.Second)
	set, version, err := db.LoadOrCreate(ctx, jwa.ES256, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	first := set.Active()
	// A replica watching the database follows the rotation.
	watchCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { set.WatchDB(watchCtx, db, version, 20*time.Millisecond, nil) })
	defer func() { stop(); wg.Wait() }()

	key, prev, err := db.Rotate(ctx, jwa.EdDSA, now, time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if prev.ID() != first.ID() || !key.Activates().Equal(now.Add(time.Minute)) {
		t.Fatalf("rotation: new %v replacing %v", key, prev)
	}
	waitFor(t, "the watcher to see the new key", func() bool { return len(set.All()) == 2 })
	if set.Active().ID() != first.ID() || set.ActiveAt(now.Add(time.Minute)).ID() != key.ID() {
		t.Fatalf("after rotation: %v", set)
	}
	// Retiring the key that signs, or the pending one, is refused.
	for _, kid := range []string{first.ID(), key.ID()} {
		if _, err := db.Retire(ctx, kid, now); !chave.IsCode(err, chave.FailedPrecondition) {
			t.Errorf("Retire(%s) of a key that signs now or later: %v, want FailedPrecondition", kid, err)
		}
	}
	if _, err := db.Retire(ctx, "nope", now); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("Retire of an unknown kid: %v, want NotFound", err)
	}
	// Once the new key signs, the old one can be retired early.
	later := now.Add(2 * time.Minute)
	if k, err := db.Retire(ctx, first.ID(), later); err != nil || k.ID() != first.ID() {
		t.Fatalf("Retire of a retired key: %v, %v", k, err)
	}
	waitFor(t, "the watcher to drop the retired key", func() bool { return len(set.All()) == 1 })

	// Emergency: a new key signs at once, every other is revoked and
	// unpublished, and stays stored for a rebuilt revocation set.
	em, revoked, err := db.EmergencyRotate(ctx, jwa.ES256, later, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 || revoked[0].ID != key.ID() || !revoked[0].RevokeTime.Equal(later) {
		t.Fatalf("emergency revoked %+v, want %s", revoked, key.ID())
	}
	waitFor(t, "the watcher to see the emergency key", func() bool { return set.Active().ID() == em.ID() })
	if all := set.All(); len(all) != 1 {
		t.Fatalf("after the emergency the set holds %v, want the new key alone", all)
	}
	jwks, _ := set.PublicJWKS()
	if bytes.Contains(jwks, []byte(key.ID())) {
		t.Fatal("the revoked key is still published")
	}
	revs, err := st.ListRevocations(ctx, later.Add(-time.Minute), later)
	if err != nil || len(revs.SigningKeys) != 1 || revs.SigningKeys[0].ID != key.ID() {
		t.Fatalf("ListRevocations: %+v, %v; want the revoked key", revs.SigningKeys, err)
	}
	// Past the retention the revoked row goes at the next change.
	if _, _, err := db.Rotate(ctx, jwa.ES256, later.Add(2*time.Hour), time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	rows, _ := db.Rows(ctx)
	for _, r := range rows {
		if r.ID == key.ID() {
			t.Errorf("the revoked key is still stored past its retention")
		}
	}

	// Export and import round-trip through a key file.
	data, err := db.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file, err := parseKeyFile(data)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestDB(t, openTestStore(t), testKEK(3))
	if n, err := other.Import(ctx, file, later); err != nil || n != len(file.All()) {
		t.Fatalf("Import: %d, %v; want %d", n, err, len(file.All()))
	}
	if n, err := other.Import(ctx, file, later); err != nil || n != 0 {
		t.Fatalf("Import again: %d, %v; want 0", n, err)
	}
}

// TestNewDBScheduleOnce runs the scheduled rotation of two replicas at
// the same instants: the lease lets one act, so each rotation due is done
// once.
func TestNewDBScheduleOnce(t *testing.T) {
	ctx := t.Context()
	st := openTestStore(t)
	t0 := time.Now().Truncate(time.Second)
	sc := Schedule{Every: time.Hour, Algorithm: jwa.ES256, PrePublish: time.Minute, Retention: 2 * time.Hour}
	var sets [2]*KeySet
	var dbs [2]*DB
	for i := range sets {
		dbs[i] = newTestDB(t, st, testKEK(1))
		var err error
		if sets[i], _, err = dbs[i].LoadOrCreate(ctx, jwa.ES256, t0); err != nil {
			t.Fatal(err)
		}
	}
	holders := [2]string{"replica-a", "replica-b"}
	look := func(now time.Time) {
		var wg sync.WaitGroup
		for i := range sets {
			wg.Go(func() {
				if err := sets[i].maintainDB(ctx, dbs[i], holders[i], now, sc, time.Minute, slog.New(slog.DiscardHandler)); err != nil {
					t.Errorf("%s: %v", holders[i], err)
				}
			})
		}
		wg.Wait()
	}
	count := func() int {
		rows, err := dbs[0].Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	look(t0.Add(30 * time.Minute)) // not due
	if n := count(); n != 1 {
		t.Fatalf("%d keys before a rotation is due, want 1", n)
	}
	look(t0.Add(time.Hour)) // due: one rotation, not two
	if n := count(); n != 2 {
		t.Fatalf("%d keys after one due rotation looked at by two replicas, want 2", n)
	}
	look(t0.Add(time.Hour + 10*time.Second)) // pending: nothing
	if n := count(); n != 2 {
		t.Fatalf("%d keys while a rotation is pending, want 2", n)
	}
	// The holder dies: its lease lapses and the other replica rotates.
	dead := t0.Add(2*time.Hour + time.Minute)
	if err := sets[1].maintainDB(ctx, dbs[1], holders[1], dead, sc, time.Minute, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d keys after the other replica took the lapsed lease, want 3", n)
	}
	// Past the retention of the first key, it is pruned.
	if err := sets[1].maintainDB(ctx, dbs[1], holders[1], t0.Add(3*time.Hour+2*time.Minute), sc, time.Minute, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if got := len(sets[1].All()); got != 3 {
		t.Fatalf("after a rotation and pruning the set holds %d keys, want 3 (new, signing, pending retirement)", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
