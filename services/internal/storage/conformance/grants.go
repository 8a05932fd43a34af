package conformance

import (
	"errors"
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
