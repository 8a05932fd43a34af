package conformance

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// listNow is the instant the list fixtures' states are derived at.
var listNow = at(10 * time.Hour)

// listFixture returns 24 tokens in two tenants, in all three states, with
// five distinct create times (so most share theirs with others), inserted
// in an order that is neither the id order nor the listing order.
func listFixture() []chave.Token {
	out := make([]chave.Token, 0, 24)
	for i := range 24 {
		tenant := "acme"
		if i%3 == 0 {
			tenant = "globex"
		}
		tok := minimalToken(fmt.Sprintf("tok-%02d", (i*7)%24), tenant, at(time.Duration(i%5)*time.Second))
		switch i % 4 {
		case 1:
			tok.RevokeTime = at(time.Hour)
		case 2:
			tok.ExpireTime = at(2 * time.Hour) // expired at listNow
		case 3:
			tok.ExpireTime = at(20 * time.Hour) // active at listNow
		}
		switch i % 6 {
		case 0:
			tok.LastUseTime = at(5 * time.Hour)
		case 3:
			tok.LastUseTime = at(30 * time.Minute)
		}
		out = append(out, tok)
	}
	return out
}

// newestFirst is the listing order: create time, then id, both descending.
func newestFirst(a, b chave.Token) int {
	if c := b.CreateTime.Compare(a.CreateTime); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// expectedListing is what a listing of toks under f must hold, ignoring
// the page size and cursor.
func expectedListing(toks []chave.Token, f storage.TokenFilter) []chave.Token {
	var out []chave.Token
	for _, tok := range toks {
		if f.Tenant != "" && tok.Tenant != f.Tenant {
			continue
		}
		if f.State != chave.StateUnspecified && tok.State(f.Now) != f.State {
			continue
		}
		if !f.ExpireBefore.IsZero() && (tok.ExpireTime.IsZero() || !tok.ExpireTime.Before(f.ExpireBefore)) {
			continue
		}
		lastUse := tok.LastUseTime
		if lastUse.IsZero() {
			lastUse = tok.CreateTime
		}
		if !f.UnusedSince.IsZero() && !lastUse.Before(f.UnusedSince) {
			continue
		}
		out = append(out, tok)
	}
	slices.SortFunc(out, newestFirst)
	return out
}

func filterName(f storage.TokenFilter) string {
	return fmt.Sprintf("tenant=%q state=%v expireBefore=%v unusedSince=%v limit=%d", f.Tenant, f.State, f.ExpireBefore, f.UnusedSince, f.Limit)
}

// paginate lists every page under f, following the cursors, and checks the
// page sizes and More flags on the way.
func paginate(t *testing.T, s storage.Store, f storage.TokenFilter) []chave.Token {
	t.Helper()
	var all []chave.Token
	seen := map[string]bool{}
	for n := 1; ; n++ {
		page, err := s.ListTokens(t.Context(), f)
		if err != nil {
			t.Fatalf("%s: page %d: ListTokens: %v", filterName(f), n, err)
		}
		if len(page.Tokens) > f.Limit {
			t.Fatalf("%s: page %d: got %d tokens, more than the limit", filterName(f), n, len(page.Tokens))
		}
		if page.More && len(page.Tokens) != f.Limit {
			t.Fatalf("%s: page %d: More is set on a page of %d tokens, want a full page", filterName(f), n, len(page.Tokens))
		}
		for _, tok := range page.Tokens {
			if seen[tok.ID] {
				t.Fatalf("%s: page %d: token %q listed twice (ids so far %v, this page %v)",
					filterName(f), n, tok.ID, ids(all), ids(page.Tokens))
			}
			seen[tok.ID] = true
		}
		all = append(all, page.Tokens...)
		if !page.More {
			return all
		}
		if n > 1000 {
			t.Fatalf("%s: still More after %d pages", filterName(f), n)
		}
		last := page.Tokens[len(page.Tokens)-1]
		f.After = &storage.Cursor{CreateTime: last.CreateTime, ID: last.ID}
	}
}

func checkIDs(t *testing.T, what string, want []string, got []chave.Token) {
	t.Helper()
	if g := ids(got); !slices.Equal(g, want) {
		t.Errorf("%s:\n got ids %v\nwant ids %v", what, g, want)
	}
}

func runList(t *testing.T, open opener) {
	t.Run("EmptyStore", func(t *testing.T) {
		s := open(t)
		page, err := s.ListTokens(t.Context(), storage.TokenFilter{Now: listNow, Limit: 10})
		if err != nil {
			t.Fatalf("ListTokens: %v", err)
		}
		if len(page.Tokens) != 0 || page.More {
			t.Fatalf("ListTokens on an empty store: got %d tokens, More %v; want none, false", len(page.Tokens), page.More)
		}
	})

	t.Run("FullTokensNewestFirst", func(t *testing.T) {
		s := open(t)
		want := []chave.Token{
			fullToken("tok-b", "acme", at(time.Second)),
			fullToken("tok-a", "globex", at(time.Second)),
			fullToken("tok-c", "acme", at(time.Microsecond)),
			fullToken("tok-d", "", at(0)),
		}
		for _, i := range []int{3, 1, 0, 2} {
			mustCreateToken(t, s, want[i])
		}
		page, err := s.ListTokens(t.Context(), storage.TokenFilter{Now: listNow, Limit: 10})
		if err != nil {
			t.Fatalf("ListTokens: %v", err)
		}
		if len(page.Tokens) != len(want) || page.More {
			t.Fatalf("ListTokens: got ids %v, More %v; want ids %v, false", ids(page.Tokens), page.More, ids(want))
		}
		for i := range want {
			checkToken(t, fmt.Sprintf("ListTokens item %d", i), want[i], page.Tokens[i])
		}
	})

	t.Run("FiltersAndPagination", func(t *testing.T) {
		s := open(t)
		fixture := listFixture()
		for _, tok := range fixture {
			mustCreateToken(t, s, tok)
		}
		filters := []storage.TokenFilter{
			{},
			{Tenant: "acme"},
			{Tenant: "globex"},
			{Tenant: "nobody"},
			{State: chave.StateActive},
			{State: chave.StateRevoked},
			{State: chave.StateExpired},
			{Tenant: "acme", State: chave.StateActive},
			{Tenant: "globex", State: chave.StateExpired},
			{ExpireBefore: at(3 * time.Hour)},
			{ExpireBefore: at(30 * time.Hour), State: chave.StateActive},
			{Tenant: "acme", ExpireBefore: at(30 * time.Hour)},
			{UnusedSince: at(time.Hour)},
			{UnusedSince: at(2 * time.Second)}, // never used, created before
			{Tenant: "globex", UnusedSince: at(6 * time.Hour), State: chave.StateRevoked},
		}
		for _, f := range filters {
			f.Now = listNow.In(brt)
			want := ids(expectedListing(fixture, f))
			for _, limit := range []int{1, 2, 5, 6, len(want), len(want) + 1, 100} {
				if limit < 1 {
					continue
				}
				f.Limit = limit
				checkIDs(t, filterName(f), want, paginate(t, s, f))
			}
		}
	})

	t.Run("StateDerivedAtNow", testStates(open))
	t.Run("CursorIsExclusivePosition", testCursor(open))

	t.Run("BadFilterInvalid", func(t *testing.T) {
		s := open(t)
		mustCreateToken(t, s, minimalToken("tok-1", "acme", at(0)))
		for _, f := range []storage.TokenFilter{
			{Now: listNow, Limit: 0},
			{Now: listNow, Limit: -1},
			{Now: listNow, Limit: 10, State: chave.State(42)},
		} {
			_, err := s.ListTokens(t.Context(), f)
			wantCode(t, "ListTokens("+filterName(f)+")", err, chave.Invalid)
		}
	})
}

func testStates(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		now := listNow
		mk := func(id string, expire, revoke time.Time) chave.Token {
			tok := minimalToken(id, "acme", at(time.Duration(len(id))*time.Millisecond))
			tok.ExpireTime, tok.RevokeTime = expire, revoke
			return tok
		}
		var zero time.Time
		fixture := []chave.Token{
			mk("active-forever", zero, zero),
			mk("active-until-next-microsecond", now.Add(time.Microsecond), zero),
			mk("expired-exactly-now", now, zero),
			mk("expired-before", now.Add(-time.Hour), zero),
			mk("revoked", zero, at(time.Minute)),
			mk("revoked-and-expired", now.Add(-time.Hour), at(time.Minute)),
			mk("revoked-expiring-later", now.Add(time.Hour), at(time.Minute)),
			mk("revoked-in-the-future", zero, now.Add(time.Hour)),
		}
		for _, tok := range fixture {
			mustCreateToken(t, s, tok)
		}
		for _, now := range []time.Time{now, now.Add(time.Microsecond), now.Add(-2 * time.Hour), {}} {
			for _, state := range []chave.State{chave.StateActive, chave.StateRevoked, chave.StateExpired} {
				f := storage.TokenFilter{State: state, Now: now, Limit: 100}
				page, err := s.ListTokens(t.Context(), f)
				if err != nil {
					t.Fatalf("ListTokens(state=%v now=%v): %v", state, now, err)
				}
				checkIDs(t, fmt.Sprintf("ListTokens(state=%v now=%v)", state, now),
					ids(expectedListing(fixture, f)), page.Tokens)
			}
		}
	}
}

func testCursor(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		tie := at(time.Minute)
		fixture := []chave.Token{
			minimalToken("c", "acme", tie),
			minimalToken("f", "acme", tie.Add(time.Microsecond)),
			minimalToken("a", "acme", tie),
			minimalToken("e", "acme", tie.Add(-time.Microsecond)),
			minimalToken("d", "acme", tie),
			minimalToken("b", "acme", tie),
		}
		for _, tok := range fixture {
			mustCreateToken(t, s, tok)
		}
		for _, c := range []struct {
			after storage.Cursor
			want  []string
		}{
			{storage.Cursor{CreateTime: tie.Add(time.Hour), ID: ""}, []string{"f", "d", "c", "b", "a", "e"}},
			{storage.Cursor{CreateTime: tie.Add(time.Microsecond).In(brt), ID: "f"}, []string{"d", "c", "b", "a", "e"}},
			{storage.Cursor{CreateTime: tie, ID: "c"}, []string{"b", "a", "e"}},
			{storage.Cursor{CreateTime: tie, ID: "bb"}, []string{"b", "a", "e"}},
			{storage.Cursor{CreateTime: tie, ID: "zzz"}, []string{"d", "c", "b", "a", "e"}},
			{storage.Cursor{CreateTime: tie, ID: ""}, []string{"e"}},
			{storage.Cursor{CreateTime: tie.Add(-time.Microsecond), ID: "e"}, nil},
		} {
			f := storage.TokenFilter{Now: listNow, Limit: 100, After: &c.after}
			page, err := s.ListTokens(t.Context(), f)
			if err != nil {
				t.Fatalf("ListTokens(after %v %q): %v", c.after.CreateTime, c.after.ID, err)
			}
			checkIDs(t, fmt.Sprintf("ListTokens(after %v %q)", c.after.CreateTime, c.after.ID), c.want, page.Tokens)
			if page.More {
				t.Errorf("ListTokens(after %v %q): More is set on the last page", c.after.CreateTime, c.after.ID)
			}
		}
	}
}
