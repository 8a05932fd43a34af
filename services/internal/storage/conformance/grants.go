package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

func runGrants(t *testing.T, open opener) {
	t.Run("FamilyCreatedFromInit", func(t *testing.T) {
		s := open(t)
		if _, err := s.GetRefreshFamily(t.Context(), "f1"); !chave.IsCode(err, chave.NotFound) {
			t.Fatalf("GetRefreshFamily of an unused family: %v, want NotFound", err)
		}
		init := chave.RefreshFamily{ClientID: "c1", CreateTime: at(0).In(brt), ExpireTime: at(time.Hour)}
		got, err := s.UpdateRefreshFamily(t.Context(), "f1", init, func(f *chave.RefreshFamily) error {
			if f.Generation != 0 || f.ClientID != "c1" {
				t.Errorf("update saw %+v, want the init value", *f)
			}
			f.Generation = 1
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := chave.RefreshFamily{ID: "f1", ClientID: "c1", Generation: 1, CreateTime: at(0), ExpireTime: at(time.Hour)}
		checkFamily(t, "UpdateRefreshFamily result", got, want)
		read, err := s.GetRefreshFamily(t.Context(), "f1")
		if err != nil {
			t.Fatal(err)
		}
		checkFamily(t, "GetRefreshFamily", read, want)
	})
	t.Run("FamilyUpdateAndRevoke", func(t *testing.T) {
		s := open(t)
		init := chave.RefreshFamily{ClientID: "c1", CreateTime: at(0), ExpireTime: at(time.Hour)}
		advance := func(f *chave.RefreshFamily) error { f.Generation++; return nil }
		for range 3 {
			if _, err := s.UpdateRefreshFamily(t.Context(), "f1", init, advance); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.UpdateRefreshFamily(t.Context(), "f1", init, func(f *chave.RefreshFamily) error {
			f.RevokeTime, f.RevokeReason = at(time.Minute), chave.FamilyRevokedOnReuse
			f.ID, f.ClientID = "other", "other" // must be ignored
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := chave.RefreshFamily{ID: "f1", ClientID: "c1", Generation: 3, CreateTime: at(0), ExpireTime: at(time.Hour),
			RevokeTime: at(time.Minute), RevokeReason: chave.FamilyRevokedOnReuse}
		checkFamily(t, "after revoke", got, want)
		if !got.Revoked() {
			t.Error("Revoked() = false after revoke")
		}
		// An error from the closure writes nothing and comes back unchanged.
		boom := errors.New("boom")
		_, err = s.UpdateRefreshFamily(t.Context(), "f1", init, func(f *chave.RefreshFamily) error {
			f.Generation = 99
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("closure error = %v, want boom", err)
		}
		if _, err := s.UpdateRefreshFamily(t.Context(), "new", init, func(*chave.RefreshFamily) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("closure error on a new family = %v", err)
		}
		if _, err := s.GetRefreshFamily(t.Context(), "new"); !chave.IsCode(err, chave.NotFound) {
			t.Fatalf("aborted first use created the family: %v", err)
		}
		read, _ := s.GetRefreshFamily(t.Context(), "f1")
		checkFamily(t, "after aborted update", read, want)
	})
	t.Run("FamilyConcurrentUseOfOneGeneration", func(t *testing.T) {
		s := open(t)
		init := chave.RefreshFamily{ClientID: "c1", CreateTime: at(0), ExpireTime: at(time.Hour)}
		const n = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, losses := 0, 0
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				won := false
				_, err := s.UpdateRefreshFamily(t.Context(), "f1", init, func(f *chave.RefreshFamily) error {
					if f.Generation != 0 {
						return errReused
					}
					f.Generation, won = 1, true
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && won:
					wins++
				case errors.Is(err, errReused):
					losses++
				default:
					t.Errorf("unexpected outcome: won=%v err=%v", won, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || losses != n-1 {
			t.Fatalf("%d uses of generation 0 succeeded and %d failed; want exactly 1 and %d", wins, losses, n-1)
		}
	})
	t.Run("FamilyAdvance", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		init := chave.RefreshFamily{ClientID: "c1", CreateTime: at(0), ExpireTime: at(time.Hour)}
		// advance returns, when it advanced, the family as then stored.
		advance := func(id string, init chave.RefreshFamily, gen int64) (chave.RefreshFamily, bool) {
			t.Helper()
			ok, err := s.AdvanceRefreshFamily(ctx, id, init, gen)
			if err != nil {
				t.Fatalf("AdvanceRefreshFamily(%s, %d): %v", id, gen, err)
			}
			if !ok {
				return chave.RefreshFamily{}, false
			}
			f, err := s.GetRefreshFamily(ctx, id)
			if err != nil {
				t.Fatalf("GetRefreshFamily(%s) after its advance: %v", id, err)
			}
			return f, true
		}
		// A later generation of a family never seen is not created.
		if _, ok := advance("f1", init, 3); ok {
			t.Fatal("generation 3 of an unseen family advanced")
		}
		if _, err := s.GetRefreshFamily(ctx, "f1"); !chave.IsCode(err, chave.NotFound) {
			t.Fatalf("a refused advance created the family: %v", err)
		}
		// A dirty init writes only what a new family has.
		dirty := init
		dirty.Generation, dirty.RevokeTime, dirty.RevokeReason = 7, at(time.Minute), chave.FamilyRevokedByClient
		got, ok := advance("f1", dirty, 0)
		want := chave.RefreshFamily{ID: "f1", ClientID: "c1", Generation: 1, CreateTime: at(0), ExpireTime: at(time.Hour)}
		if !ok {
			t.Fatal("first use of a new family refused")
		}
		checkFamily(t, "first advance", got, want)
		if _, ok := advance("f1", init, 0); ok {
			t.Fatal("generation 0 advanced twice")
		}
		if _, ok := advance("f1", chave.RefreshFamily{ClientID: "c2", CreateTime: at(0), ExpireTime: at(time.Hour)}, 1); ok {
			t.Fatal("another client advanced the family")
		}
		if _, ok := advance("f1", init, 2); ok {
			t.Fatal("a generation not yet issued advanced")
		}
		got, ok = advance("f1", init, 1)
		want.Generation = 2
		if !ok {
			t.Fatal("the current generation was refused")
		}
		checkFamily(t, "second advance", got, want)
		read, err := s.GetRefreshFamily(ctx, "f1")
		if err != nil {
			t.Fatal(err)
		}
		checkFamily(t, "GetRefreshFamily after advances", read, want)
		// A revoked family stays at its generation, whichever is presented.
		if _, err := s.UpdateRefreshFamily(ctx, "f1", init, func(f *chave.RefreshFamily) error {
			f.RevokeTime, f.RevokeReason = at(time.Minute), chave.FamilyRevokedOnReuse
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, ok := advance("f1", init, 2); ok {
			t.Fatal("a revoked family advanced")
		}
		want.RevokeTime, want.RevokeReason = at(time.Minute), chave.FamilyRevokedOnReuse
		read, _ = s.GetRefreshFamily(ctx, "f1")
		checkFamily(t, "revoked family", read, want)
		// So does a family revoked before its first use.
		if _, err := s.UpdateRefreshFamily(ctx, "f2", init, func(f *chave.RefreshFamily) error {
			f.RevokeTime, f.RevokeReason = at(time.Minute), chave.FamilyRevokedByClient
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, ok := advance("f2", init, 0); ok {
			t.Fatal("a family revoked before its first use advanced")
		}
	})
	t.Run("FamilyConcurrentAdvanceOfOneGeneration", func(t *testing.T) {
		s := open(t)
		init := chave.RefreshFamily{ClientID: "c1", CreateTime: at(0), ExpireTime: at(time.Hour)}
		for _, gen := range []int64{0, 1} { // the first use creates the row
			const n = 20
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			start := make(chan struct{})
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ok, err := s.AdvanceRefreshFamily(t.Context(), "f1", init, gen)
					if err != nil {
						t.Errorf("AdvanceRefreshFamily: %v", err)
					}
					mu.Lock()
					defer mu.Unlock()
					if ok {
						wins++
					}
				}()
			}
			close(start)
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d concurrent advances of generation %d succeeded; want exactly 1", wins, gen)
			}
		}
		f, err := s.GetRefreshFamily(t.Context(), "f1")
		if err != nil || f.Generation != 2 {
			t.Fatalf("after two contested generations: %+v, %v; want generation 2", f, err)
		}
	})
	t.Run("FamilyConcurrentAdvancesOfManyFamilies", func(t *testing.T) {
		// As the refresh load drives them: each family contested by
		// several callers at each generation, the families at the same
		// time. Exactly one caller per family and generation wins.
		s := open(t)
		init := chave.RefreshFamily{ClientID: "c1", CreateTime: at(0), ExpireTime: at(time.Hour)}
		const families, contenders, generations = 8, 6, 3
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := map[string]int{}
		for fam := range families {
			id := fmt.Sprintf("f%d", fam)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for gen := range int64(generations) {
					var round sync.WaitGroup
					for range contenders {
						round.Add(1)
						go func() {
							defer round.Done()
							ok, err := s.AdvanceRefreshFamily(t.Context(), id, init, gen)
							if err != nil {
								t.Errorf("AdvanceRefreshFamily(%s, %d): %v", id, gen, err)
								return
							}
							if !ok {
								return
							}
							mu.Lock()
							wins[id]++
							mu.Unlock()
						}()
					}
					round.Wait()
				}
			}()
		}
		wg.Wait()
		for fam := range families {
			id := fmt.Sprintf("f%d", fam)
			if wins[id] != generations {
				t.Errorf("family %s: %d advances won over %d generations; want exactly one a generation", id, wins[id], generations)
			}
			if f, err := s.GetRefreshFamily(t.Context(), id); err != nil || f.Generation != generations {
				t.Errorf("family %s after the load: %+v, %v; want generation %d", id, f, err, generations)
			}
		}
	})
	t.Run("FamilyAdvanceWithEndedContext", func(t *testing.T) {
		// An advance whose context has ended fails with the context's error
		// and leaves the family as it was; one whose context ends while it
		// waits fails with the context's error (or as Unavailable, when it dialled
		// the connection) or has advanced the family
		// and says so. (Whether such an error may hide a write is the
		// backend's: with the group commit it never does, see the SQLite
		// tests; over a network a cancelled statement may have committed.)
		s := open(t)
		init := chave.RefreshFamily{ClientID: "c1", CreateTime: at(0), ExpireTime: at(time.Hour)}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.AdvanceRefreshFamily(ctx, "f0", init, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("AdvanceRefreshFamily with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := s.GetRefreshFamily(t.Context(), "f0"); !chave.IsCode(err, chave.NotFound) {
			t.Fatalf("an advance with a cancelled context created the family: %v", err)
		}
		const n = 32
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i%8)*100*time.Microsecond)
				defer cancel()
				ok, err := s.AdvanceRefreshFamily(ctx, fmt.Sprintf("f%d", i+1), init, 0)
				if err == nil && !ok {
					err = errors.New("the first use of a new family was refused")
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			id := fmt.Sprintf("f%d", i+1)
			f, getErr := s.GetRefreshFamily(t.Context(), id)
			switch {
			case err == nil && (getErr != nil || f.Generation != 1):
				t.Errorf("family %s advanced without error, then read %+v, %v; want generation 1", id, f, getErr)
			case err != nil && !errors.Is(err, context.DeadlineExceeded) && !chave.IsCode(err, chave.Unavailable):
				// A connection dialled under the deadline fails as the
				// database unreachable.
				t.Errorf("family %s: %v, want success, context.DeadlineExceeded or Unavailable", id, err)
			}
		}
	})
	t.Run("RevokedAccessTokens", func(t *testing.T) {
		s := open(t)
		if ok, err := s.IsAccessTokenRevoked(t.Context(), "jti-1"); err != nil || ok {
			t.Fatalf("IsAccessTokenRevoked before revocation = %v, %v", ok, err)
		}
		r := chave.RevokedAccessToken{ID: "jti-1", ClientID: "c1", ExpireTime: at(time.Hour), RevokeTime: at(time.Minute)}
		for range 2 { // idempotent
			if err := s.RevokeAccessToken(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := s.IsAccessTokenRevoked(t.Context(), "jti-1"); err != nil || !ok {
			t.Fatalf("IsAccessTokenRevoked after revocation = %v, %v", ok, err)
		}
		if ok, _ := s.IsAccessTokenRevoked(t.Context(), "jti-2"); ok {
			t.Fatal("another jti reads as revoked")
		}
	})
}

var errReused = errors.New("generation already used")

func checkFamily(t *testing.T, what string, got, want chave.RefreshFamily) {
	t.Helper()
	if got.ID != want.ID || got.ClientID != want.ClientID || got.Generation != want.Generation ||
		got.RevokeReason != want.RevokeReason || !sameTime(got.CreateTime, want.CreateTime) ||
		!sameTime(got.ExpireTime, want.ExpireTime) || !sameTime(got.RevokeTime, want.RevokeTime) {
		t.Errorf("%s = %+v\nwant %+v", what, got, want)
	}
}

func sameTime(a, b time.Time) bool {
	return a.Equal(b) && (a.IsZero() || a.Location() == time.UTC)
}
