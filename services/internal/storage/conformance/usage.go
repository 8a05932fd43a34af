package conformance

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// day is the suite's UTC day i days after t0's.
func day(i int) time.Time { return chave.UsageDayOf(t0).AddDate(0, 0, i) }

func usage(id string, d time.Time, ok, failed int64) chave.UsageCount {
	return chave.UsageCount{TokenID: id, UsageDay: chave.UsageDay{Day: d, Succeeded: ok, Failed: failed}}
}

func checkUsage(t *testing.T, what string, want, got []chave.UsageDay) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d days %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if !got[i].Day.Equal(want[i].Day) || got[i].Day.Location() != time.UTC ||
			got[i].Succeeded != want[i].Succeeded || got[i].Failed != want[i].Failed {
			t.Errorf("%s: day %d: got %v %d/%d, want %v %d/%d", what, i,
				got[i].Day, got[i].Succeeded, got[i].Failed, want[i].Day, want[i].Succeeded, want[i].Failed)
		}
	}
}

func runUsage(t *testing.T, open opener) {
	t.Run("AddUpsertsAndListsNewestFirst", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		got, err := s.ListTokenUsage(ctx, "tok-a", day(-90))
		if err != nil {
			t.Fatalf("ListTokenUsage on an empty store: %v", err)
		}
		if len(got) != 0 {
			t.Fatalf("ListTokenUsage on an empty store: got %v, want none", got)
		}
		// A count's day is its UTC day, whatever the time of day or zone.
		if err := s.AddTokenUsage(ctx, []chave.UsageCount{
			usage("tok-a", day(0).Add(23*time.Hour).In(brt), 3, 1),
			usage("tok-a", day(-1), 5, 0),
			usage("tok-b", day(0), 7, 7),
		}); err != nil {
			t.Fatalf("AddTokenUsage: %v", err)
		}
		// A second flush adds to the days it names.
		if err := s.AddTokenUsage(ctx, []chave.UsageCount{
			usage("tok-a", day(0), 10, 2),
			usage("tok-a", day(1), 1, 0),
		}); err != nil {
			t.Fatalf("second AddTokenUsage: %v", err)
		}
		got, err = s.ListTokenUsage(ctx, "tok-a", day(-1))
		if err != nil {
			t.Fatalf("ListTokenUsage: %v", err)
		}
		checkUsage(t, "ListTokenUsage(tok-a)", []chave.UsageDay{
			{Day: day(1), Succeeded: 1}, {Day: day(0), Succeeded: 13, Failed: 3}, {Day: day(-1), Succeeded: 5},
		}, got)
		// since is inclusive and rounds down to its day.
		got, err = s.ListTokenUsage(ctx, "tok-a", day(0).Add(12*time.Hour))
		if err != nil {
			t.Fatalf("ListTokenUsage since noon: %v", err)
		}
		checkUsage(t, "ListTokenUsage(tok-a) since day 0 noon", []chave.UsageDay{
			{Day: day(1), Succeeded: 1}, {Day: day(0), Succeeded: 13, Failed: 3},
		}, got)
		got, err = s.ListTokenUsage(ctx, "tok-b", day(-90))
		if err != nil {
			t.Fatalf("ListTokenUsage(tok-b): %v", err)
		}
		checkUsage(t, "ListTokenUsage(tok-b)", []chave.UsageDay{{Day: day(0), Succeeded: 7, Failed: 7}}, got)
	})

	t.Run("ConcurrentFlushesAddUp", func(t *testing.T) {
		s := open(t)
		const flushes = 8
		var wg sync.WaitGroup
		errs := make(chan error, flushes)
		for i := range flushes {
			wg.Go(func() {
				// Opposite orders: the store must not deadlock.
				counts := []chave.UsageCount{usage("tok-a", day(0), 1, 0), usage("tok-b", day(0), 0, 1)}
				if i%2 == 1 {
					counts[0], counts[1] = counts[1], counts[0]
				}
				errs <- s.AddTokenUsage(t.Context(), counts)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("AddTokenUsage: %v", err)
			}
		}
		for id, want := range map[string]chave.UsageDay{
			"tok-a": {Day: day(0), Succeeded: flushes},
			"tok-b": {Day: day(0), Failed: flushes},
		} {
			got, err := s.ListTokenUsage(t.Context(), id, day(0))
			if err != nil {
				t.Fatalf("ListTokenUsage(%s): %v", id, err)
			}
			checkUsage(t, fmt.Sprintf("ListTokenUsage(%s)", id), []chave.UsageDay{want}, got)
		}
	})

	t.Run("PruneDropsDaysBefore", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if err := s.AddTokenUsage(ctx, []chave.UsageCount{
			usage("tok-a", day(-91), 1, 0), usage("tok-a", day(-90), 2, 0), usage("tok-a", day(0), 3, 0),
			usage("tok-b", day(-200), 4, 0),
		}); err != nil {
			t.Fatalf("AddTokenUsage: %v", err)
		}
		if err := s.PruneTokenUsage(ctx, day(-90)); err != nil {
			t.Fatalf("PruneTokenUsage: %v", err)
		}
		got, err := s.ListTokenUsage(ctx, "tok-a", time.Time{})
		if err != nil {
			t.Fatalf("ListTokenUsage: %v", err)
		}
		checkUsage(t, "ListTokenUsage(tok-a) after the prune", []chave.UsageDay{
			{Day: day(0), Succeeded: 3}, {Day: day(-90), Succeeded: 2},
		}, got)
		if got, err = s.ListTokenUsage(ctx, "tok-b", time.Time{}); err != nil || len(got) != 0 {
			t.Fatalf("ListTokenUsage(tok-b) after the prune: %v, %v; want nothing", got, err)
		}
	})

	t.Run("CountExpiring", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		week := 7 * 24 * time.Hour
		mk := func(id, tenant string, expire time.Time, revoked bool) {
			tok := minimalToken(id, tenant, at(-time.Hour))
			tok.ExpireTime = expire
			if revoked {
				tok.RevokeTime = at(-time.Minute)
			}
			mustCreateToken(t, s, tok)
		}
		mk("a-soon", "acme", at(time.Hour), false)
		mk("a-edge", "acme", at(week), false)
		mk("a-later", "acme", at(week+time.Second), false)
		mk("a-never", "acme", time.Time{}, false)
		mk("a-revoked", "acme", at(time.Hour), true)
		mk("a-expired", "acme", at(-time.Second), false)
		mk("b-soon", "beta", at(2*24*time.Hour), false)
		mk("b-soon2", "beta", at(3*24*time.Hour), false)
		got, err := s.CountExpiringTokens(ctx, at(0), at(week))
		if err != nil {
			t.Fatalf("CountExpiringTokens: %v", err)
		}
		want := map[string]int{"acme": 2, "beta": 2}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("CountExpiringTokens: got %v, want %v", got, want)
		}
	})
}
