package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

func signingKey(id string) chave.SigningKey {
	return chave.SigningKey{
		ID: id, Algorithm: "ES256", Sealed: []byte("sealed " + id + "\x00\xff"),
		CreateTime: at(time.Microsecond).In(brt), ActivateTime: at(10 * time.Minute),
	}
}

func checkSigningKey(t *testing.T, what string, want, got chave.SigningKey) {
	t.Helper()
	var diffs []string
	diffs = append(diffs, diffValue("ID", want.ID, got.ID)...)
	diffs = append(diffs, diffValue("Algorithm", want.Algorithm, got.Algorithm)...)
	if !bytes.Equal(want.Sealed, got.Sealed) {
		diffs = append(diffs, fmt.Sprintf("Sealed: got %q, want %q", got.Sealed, want.Sealed))
	}
	diffs = append(diffs, diffTime("CreateTime", want.CreateTime, got.CreateTime)...)
	diffs = append(diffs, diffTime("ActivateTime", want.ActivateTime, got.ActivateTime)...)
	diffs = append(diffs, diffTime("RetireTime", want.RetireTime, got.RetireTime)...)
	diffs = append(diffs, diffTime("RevokeTime", want.RevokeTime, got.RevokeTime)...)
	for _, d := range diffs {
		t.Errorf("%s: %s", what, d)
	}
}

func keyIDs(keys []chave.SigningKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func runSigningKeys(t *testing.T, open opener) {
	t.Run("EmptyStore", func(t *testing.T) {
		s := open(t)
		set, err := s.ListSigningKeys(t.Context())
		if err != nil || set.Version != 0 || len(set.Keys) != 0 {
			t.Fatalf("ListSigningKeys on an empty store: %+v, %v; want version 0, no keys", set, err)
		}
		if v, err := s.SigningKeysVersion(t.Context()); err != nil || v != 0 {
			t.Fatalf("SigningKeysVersion on an empty store: %d, %v; want 0", v, err)
		}
	})

	t.Run("ReplaceAndReadBack", func(t *testing.T) {
		s := open(t)
		b := signingKey("kid-b")
		b.RetireTime, b.RevokeTime = at(time.Hour), at(2*time.Hour)
		a := signingKey("kid-a")
		got, err := s.UpdateSigningKeys(t.Context(), func(cur storage.SigningKeySet) ([]chave.SigningKey, error) {
			if cur.Version != 0 || len(cur.Keys) != 0 {
				t.Errorf("first update sees %+v", cur)
			}
			return []chave.SigningKey{b, a}, nil
		})
		if err != nil {
			t.Fatalf("UpdateSigningKeys: %v", err)
		}
		if got.Version != 1 || !slices.Equal(keyIDs(got.Keys), []string{"kid-a", "kid-b"}) {
			t.Fatalf("after one update: version %d, keys %v; want 1, [kid-a kid-b] (ordered by id)", got.Version, keyIDs(got.Keys))
		}
		listed, err := s.ListSigningKeys(t.Context())
		if err != nil || listed.Version != 1 || len(listed.Keys) != 2 {
			t.Fatalf("ListSigningKeys: %+v, %v", listed, err)
		}
		checkSigningKey(t, "kid-a", a, listed.Keys[0])
		checkSigningKey(t, "kid-b", b, listed.Keys[1])
		for _, k := range listed.Keys {
			if k.CreateTime.Location() != time.UTC {
				t.Errorf("key %s: create time in %v, want UTC", k.ID, k.CreateTime.Location())
			}
		}

		// A nil answer writes nothing and keeps the version.
		got, err = s.UpdateSigningKeys(t.Context(), func(storage.SigningKeySet) ([]chave.SigningKey, error) { return nil, nil })
		if err != nil || got.Version != 1 || len(got.Keys) != 2 {
			t.Fatalf("a nil update: %+v, %v; want version 1 and both keys", got, err)
		}
		// An error aborts, comes back unchanged and writes nothing.
		boom := errors.New("boom")
		_, err = s.UpdateSigningKeys(t.Context(), func(storage.SigningKeySet) ([]chave.SigningKey, error) {
			return []chave.SigningKey{signingKey("kid-c")}, boom
		})
		if err != boom {
			t.Fatalf("UpdateSigningKeys with a failing update: %v, want the update's error unchanged", err)
		}
		// A key without its sealed part is refused, nothing written.
		bad := signingKey("kid-bad")
		bad.Sealed = nil
		_, err = s.UpdateSigningKeys(t.Context(), func(storage.SigningKeySet) ([]chave.SigningKey, error) {
			return []chave.SigningKey{bad}, nil
		})
		wantCode(t, "a key without its sealed part", err, chave.Invalid)
		if v, err := s.SigningKeysVersion(t.Context()); err != nil || v != 1 {
			t.Fatalf("version after aborted updates: %d, %v; want 1", v, err)
		}
		// Replacing drops what the answer leaves out.
		got, err = s.UpdateSigningKeys(t.Context(), func(cur storage.SigningKeySet) ([]chave.SigningKey, error) {
			return cur.Keys[1:], nil
		})
		if err != nil || got.Version != 2 || !slices.Equal(keyIDs(got.Keys), []string{"kid-b"}) {
			t.Fatalf("after dropping kid-a: %+v, %v", got, err)
		}
	})

	t.Run("ConcurrentUpdatesLoseNothing", func(t *testing.T) {
		s := open(t)
		ids := markers("kid-", workers)
		errs := make([]error, workers)
		together(workers, func(i int) {
			_, errs[i] = s.UpdateSigningKeys(t.Context(), func(cur storage.SigningKeySet) ([]chave.SigningKey, error) {
				return append(slices.Clone(cur.Keys), signingKey(ids[i])), nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		}
		set, err := s.ListSigningKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if set.Version != workers || !slices.Equal(keyIDs(set.Keys), ids) {
			t.Errorf("after %d concurrent appends: version %d, keys %v; want %d and every key once", workers, set.Version, keyIDs(set.Keys), workers)
		}
	})

	t.Run("RevokedInListRevocations", func(t *testing.T) {
		s := open(t)
		since, now := at(24*time.Hour), at(48*time.Hour)
		old, atSince, recent, live := signingKey("kid-old"), signingKey("kid-at-since"), signingKey("kid-recent"), signingKey("kid-live")
		old.RevokeTime = since.Add(-time.Microsecond)
		atSince.RevokeTime = since
		recent.RevokeTime = now.Add(time.Hour)
		if _, err := s.UpdateSigningKeys(t.Context(), func(storage.SigningKeySet) ([]chave.SigningKey, error) {
			return []chave.SigningKey{recent, live, old, atSince}, nil
		}); err != nil {
			t.Fatal(err)
		}
		got := mustListRevocations(t, s, since, now)
		if want := []string{"kid-at-since", "kid-recent"}; !slices.Equal(keyIDs(got.SigningKeys), want) {
			t.Errorf("revoked signing keys since %s: %v, want %v", since, keyIDs(got.SigningKeys), want)
		}
	})

	t.Run("Leases", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		acquire := func(holder string, now time.Time, ttl time.Duration) bool {
			t.Helper()
			ok, err := s.AcquireLease(ctx, "rotation", holder, now, now.Add(ttl))
			if err != nil {
				t.Fatalf("AcquireLease(%s): %v", holder, err)
			}
			return ok
		}
		if !acquire("a", at(0), time.Minute) {
			t.Fatal("a free lease was not granted")
		}
		if acquire("b", at(30*time.Second), time.Minute) {
			t.Fatal("a held lease was granted to another holder")
		}
		if !acquire("a", at(50*time.Second), time.Minute) {
			t.Fatal("the holder could not renew its lease")
		}
		if acquire("b", at(time.Minute), time.Minute) {
			t.Fatal("the renewed lease was granted to another before its new expiry")
		}
		if !acquire("b", at(110*time.Second), time.Minute) {
			t.Fatal("a lapsed lease was not granted")
		}
		if err := s.ReleaseLease(ctx, "rotation", "a"); err != nil {
			t.Fatal(err)
		}
		if acquire("a", at(120*time.Second), time.Minute) {
			t.Fatal("a release by a former holder freed the lease")
		}
		if err := s.ReleaseLease(ctx, "rotation", "b"); err != nil {
			t.Fatal(err)
		}
		if !acquire("a", at(120*time.Second), time.Minute) {
			t.Fatal("a released lease was not granted")
		}
		// Leases of other names are apart.
		if ok, err := s.AcquireLease(ctx, "other", "b", at(120*time.Second), at(180*time.Second)); err != nil || !ok {
			t.Fatalf("another lease: %v, %v", ok, err)
		}
		_, err := s.AcquireLease(ctx, "rotation", "", at(0), at(time.Minute))
		wantCode(t, "a lease without a holder", err, chave.Invalid)
		_, err = s.AcquireLease(ctx, "rotation", "a", at(time.Minute), at(time.Minute))
		wantCode(t, "a lease expiring at once", err, chave.Invalid)
	})

	t.Run("ConcurrentLeaseHasOneHolder", func(t *testing.T) {
		s := open(t)
		won := make([]bool, workers)
		errs := make([]error, workers)
		together(workers, func(i int) {
			won[i], errs[i] = s.AcquireLease(t.Context(), "race", fmt.Sprint("holder-", i), at(0), at(time.Minute))
		})
		n := 0
		for i := range won {
			if errs[i] != nil {
				t.Errorf("taker %d: %v", i, errs[i])
			}
			if won[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d of %d concurrent takers hold the lease, want exactly 1", n, workers)
		}
	})
}
