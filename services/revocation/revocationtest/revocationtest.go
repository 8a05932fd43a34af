// Package revocationtest is the conformance suite of revocation.Set. Every
// implementation runs all of it from a short test:
//
//	func TestConformance(t *testing.T) {
//		revocationtest.Run(t, func(t *testing.T) revocation.Set { … })
//	}
//
// Expiries are real: the suite gives entries lifetimes of a few hundred
// milliseconds and polls, so a set backed by a server with its own clock
// passes the same tests as one in memory.
package revocationtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/revocation"
)

// Run runs the suite. newSet returns a new, empty and healthy set that uses
// the real clock; the suite closes it when the subtest ends.
func Run(t *testing.T, newSet func(t *testing.T) revocation.Set) {
	open := func(t *testing.T) revocation.Set {
		t.Helper()
		s := newSet(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s revocation.Set)
	}{
		{"Empty", testEmpty},
		{"Credential", testCredential},
		{"AccessToken", testAccessToken},
		{"Family", testFamily},
		{"SigningKey", testSigningKey},
		{"KindsAreSeparate", testKindsAreSeparate},
		{"Merge", testMerge},
		{"Expiry", testExpiry},
		{"PastEntriesSkipped", testPastEntriesSkipped},
		{"ExpiredEntryStartsAfresh", testExpiredEntryStartsAfresh},
		{"Invalid", testInvalid},
		{"Rebuild", testRebuild},
		{"Size", testSize},
		{"Concurrency", testConcurrency},
		{"Changed", testChanged},
		{"ChangedExpiry", testChangedExpiry},
		{"GenerationAfterRebuild", testGenerationAfterRebuild},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// t0 is a revocation instant with a fractional second, as real ones have;
// an iat has whole seconds.
var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 535897000, time.UTC)

// hour is a lifetime no test outlives.
func hour() time.Time { return time.Now().Add(time.Hour) }

func revoke(t *testing.T, s revocation.Set, entries ...revocation.Entry) {
	t.Helper()
	if err := s.Revoke(t.Context(), entries...); err != nil {
		t.Fatalf("Revoke(%v): %v", entries, err)
	}
}

func isRevoked(t *testing.T, s revocation.Set, q revocation.Query) bool {
	t.Helper()
	got, err := s.IsRevoked(t.Context(), q)
	if err != nil {
		t.Fatalf("IsRevoked(%+v): %v", q, err)
	}
	return got
}

// check is one expected answer of IsRevoked.
type check struct {
	q    revocation.Query
	want bool
}

func expect(t *testing.T, s revocation.Set, checks ...check) {
	t.Helper()
	for _, c := range checks {
		if got := isRevoked(t, s, c.q); got != c.want {
			t.Errorf("IsRevoked(%+v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func size(t *testing.T, s revocation.Set) int64 {
	t.Helper()
	n, err := s.Size(t.Context())
	if err != nil {
		t.Fatalf("Size: %v", err)
	}
	return n
}

// eventually polls cond every 10ms until it holds or 5s have passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testEmpty(t *testing.T, s revocation.Set) {
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy on a new set: %v", err)
	}
	expect(t, s,
		check{revocation.Query{}, false},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0, TokenID: "j1", FamilyID: "f1"}, false},
		check{revocation.Query{ClientID: "c1"}, false},
	)
	if n := size(t, s); n != 0 {
		t.Errorf("Size of a new set = %d, want 0", n)
	}
	// Revoking nothing is not an error.
	revoke(t, s)
}

func testCredential(t *testing.T, s revocation.Set) {
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c1", At: t0, Until: hour()})
	sec := t0.Truncate(time.Second)
	expect(t, s,
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(-time.Hour)}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: sec}, true}, // the iat of a token minted in the same second
		check{revocation.Query{ClientID: "c1", IssuedAt: t0}, true},  // at the instant
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(time.Nanosecond)}, false},
		check{revocation.Query{ClientID: "c1", IssuedAt: sec.Add(time.Second)}, false},
		check{revocation.Query{ClientID: "c1"}, true}, // unknown iat: revoked
		check{revocation.Query{ClientID: "c2", IssuedAt: sec}, false},
		check{revocation.Query{ClientID: "c", IssuedAt: sec}, false},
		check{revocation.Query{ClientID: "c1x", IssuedAt: sec}, false},
		// The other fields of the query do not hide the credential.
		check{revocation.Query{ClientID: "c1", IssuedAt: sec, TokenID: "j1", FamilyID: "f1"}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(time.Second), TokenID: "j1", FamilyID: "f1"}, false},
	)
	// The instant is kept in another zone too.
	brt := time.FixedZone("BRT", -3*60*60)
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c3", At: t0.In(brt), Until: hour()})
	expect(t, s,
		check{revocation.Query{ClientID: "c3", IssuedAt: t0}, true},
		check{revocation.Query{ClientID: "c3", IssuedAt: t0.Add(time.Nanosecond)}, false},
	)
}

func testAccessToken(t *testing.T, s revocation.Set) {
	revoke(t, s, revocation.Entry{Kind: revocation.AccessToken, ID: "j1", At: t0, Until: hour()})
	expect(t, s,
		check{revocation.Query{TokenID: "j1"}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(time.Hour), TokenID: "j1", FamilyID: "f1"}, true},
		check{revocation.Query{TokenID: "j2"}, false},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0, TokenID: "j2", FamilyID: "f1"}, false},
	)
}

func testFamily(t *testing.T, s revocation.Set) {
	revoke(t, s, revocation.Entry{Kind: revocation.Family, ID: "f1", At: t0, Until: hour()})
	expect(t, s,
		// Every access token of the family, whenever it was issued.
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(-time.Hour), TokenID: "j1", FamilyID: "f1"}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(time.Hour), TokenID: "j2", FamilyID: "f1"}, true},
		check{revocation.Query{FamilyID: "f1"}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0, TokenID: "j3", FamilyID: "f2"}, false},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0, TokenID: "j3"}, false},
	)
}

func testSigningKey(t *testing.T, s revocation.Set) {
	revoke(t, s, revocation.Entry{Kind: revocation.SigningKey, ID: "k1", At: t0, Until: hour()})
	expect(t, s,
		// Every access token the key signed, whoever it was issued to.
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(time.Hour), TokenID: "j1", FamilyID: "f1", KeyID: "k1"}, true},
		check{revocation.Query{KeyID: "k1"}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0, TokenID: "j1", FamilyID: "f1", KeyID: "k2"}, false},
		// A kid is not a jti, a family or a client id.
		check{revocation.Query{TokenID: "k1"}, false},
		check{revocation.Query{FamilyID: "k1"}, false},
		check{revocation.Query{ClientID: "k1", IssuedAt: t0}, false},
	)
}

func testKindsAreSeparate(t *testing.T, s revocation.Set) {
	revoke(t, s,
		revocation.Entry{Kind: revocation.Credential, ID: "a", At: t0, Until: hour()},
		revocation.Entry{Kind: revocation.AccessToken, ID: "b", At: t0, Until: hour()},
		revocation.Entry{Kind: revocation.Family, ID: "c", At: t0, Until: hour()},
	)
	expect(t, s,
		check{revocation.Query{TokenID: "a"}, false},
		check{revocation.Query{FamilyID: "a"}, false},
		check{revocation.Query{ClientID: "b", IssuedAt: t0}, false},
		check{revocation.Query{FamilyID: "b"}, false},
		check{revocation.Query{ClientID: "c", IssuedAt: t0}, false},
		check{revocation.Query{TokenID: "c"}, false},
		check{revocation.Query{ClientID: "a", IssuedAt: t0}, true},
		check{revocation.Query{TokenID: "b"}, true},
		check{revocation.Query{FamilyID: "c"}, true},
	)
	// Ids are opaque: separators and hash-tag braces are just characters.
	odd := []string{"x:y", "{chave:rev}:gen", "gen", "*", "ü ñ", "a\x00b"}
	for _, id := range odd {
		revoke(t, s, revocation.Entry{Kind: revocation.AccessToken, ID: id, At: t0, Until: hour()})
		expect(t, s,
			check{revocation.Query{TokenID: id}, true},
			check{revocation.Query{FamilyID: id}, false},
		)
	}
}

func testMerge(t *testing.T, s revocation.Set) {
	// A second entry for the same credential keeps the later instant,
	// whatever order they come in.
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c1", At: t0, Until: hour()})
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c1", At: t0.Add(-time.Minute), Until: hour()})
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c2", At: t0.Add(-time.Minute), Until: hour()})
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c2", At: t0, Until: hour()})
	for _, id := range []string{"c1", "c2"} {
		expect(t, s,
			check{revocation.Query{ClientID: id, IssuedAt: t0.Add(-time.Second)}, true},
			check{revocation.Query{ClientID: id, IssuedAt: t0}, true},
			check{revocation.Query{ClientID: id, IssuedAt: t0.Add(time.Second)}, false},
		)
	}
	// Duplicates in one call count once.
	e := revocation.Entry{Kind: revocation.AccessToken, ID: "j1", At: t0, Until: hour()}
	revoke(t, s, e, e, e)
	if n := size(t, s); n != 3 {
		t.Errorf("Size = %d, want 3 (c1, c2, j1)", n)
	}
	// A shorter Until does not shorten a longer one: see testExpiry.
}

func testExpiry(t *testing.T, s revocation.Set) {
	const ttl = 150 * time.Millisecond
	start := time.Now()
	revoke(t, s,
		revocation.Entry{Kind: revocation.Credential, ID: "c1", At: t0, Until: start.Add(ttl)},
		revocation.Entry{Kind: revocation.AccessToken, ID: "j1", At: t0, Until: start.Add(ttl)},
		revocation.Entry{Kind: revocation.Family, ID: "f1", At: t0, Until: start.Add(ttl)},
		// Written long, then short: stays long.
		revocation.Entry{Kind: revocation.AccessToken, ID: "long", At: t0, Until: hour()},
	)
	revoke(t, s, revocation.Entry{Kind: revocation.AccessToken, ID: "long", At: t0, Until: start.Add(ttl)})
	// Written short, then long: becomes long.
	revoke(t, s, revocation.Entry{Kind: revocation.Family, ID: "grown", At: t0, Until: start.Add(ttl)})
	revoke(t, s, revocation.Entry{Kind: revocation.Family, ID: "grown", At: t0, Until: hour()})

	expired := []revocation.Query{
		{ClientID: "c1", IssuedAt: t0},
		{TokenID: "j1"},
		{FamilyID: "f1"},
	}
	if time.Since(start) < ttl/2 { // too slow a machine proves nothing here
		for _, q := range expired {
			if !isRevoked(t, s, q) {
				t.Errorf("IsRevoked(%+v) = false right after Revoke, want true", q)
			}
		}
	}
	for _, q := range expired {
		eventually(t, fmt.Sprintf("entry for %+v forgotten", q), func() bool { return !isRevoked(t, s, q) })
	}
	if since := time.Since(start); since < ttl {
		t.Errorf("entries forgotten after %s, before their Until (%s)", since, ttl)
	}
	expect(t, s,
		check{revocation.Query{TokenID: "long"}, true},
		check{revocation.Query{FamilyID: "grown"}, true},
	)
	eventually(t, "Size counts only live entries", func() bool { return size(t, s) == 2 })
}

// testExpiredEntryStartsAfresh: with no write to prompt it, an expired
// entry leaves the set (Size) and answers no more; written again, it does
// not inherit the old entry's later instant.
func testExpiredEntryStartsAfresh(t *testing.T, s revocation.Set) {
	const ttl = 150 * time.Millisecond
	later := t0.Add(time.Hour)
	revoke(t, s,
		revocation.Entry{Kind: revocation.Credential, ID: "c1", At: later, Until: time.Now().Add(ttl)},
		revocation.Entry{Kind: revocation.Family, ID: "f1", At: t0, Until: time.Now().Add(ttl)},
		revocation.Entry{Kind: revocation.AccessToken, ID: "kept", At: t0, Until: hour()},
	)
	eventually(t, "expired entries leave the set", func() bool { return size(t, s) == 1 })
	expect(t, s,
		check{revocation.Query{ClientID: "c1", IssuedAt: t0}, false},
		check{revocation.Query{FamilyID: "f1"}, false},
		check{revocation.Query{TokenID: "kept"}, true},
	)
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c1", At: t0, Until: hour()})
	expect(t, s,
		check{revocation.Query{ClientID: "c1", IssuedAt: t0}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(time.Second)}, false},
	)
}

func testPastEntriesSkipped(t *testing.T, s revocation.Set) {
	past := time.Now().Add(-time.Second)
	revoke(t, s,
		revocation.Entry{Kind: revocation.Credential, ID: "c1", At: t0, Until: past},
		revocation.Entry{Kind: revocation.AccessToken, ID: "j1", At: t0, Until: past},
	)
	expect(t, s,
		check{revocation.Query{ClientID: "c1", IssuedAt: t0}, false},
		check{revocation.Query{TokenID: "j1"}, false},
	)
	if n := size(t, s); n != 0 {
		t.Errorf("Size = %d after revoking only expired entries, want 0", n)
	}
}

func testInvalid(t *testing.T, s revocation.Set) {
	good := revocation.Entry{Kind: revocation.AccessToken, ID: "good", At: t0, Until: hour()}
	bad := map[string]revocation.Entry{
		"no kind":      {ID: "x", At: t0, Until: hour()},
		"unknown kind": {Kind: revocation.SigningKey + 1, ID: "x", At: t0, Until: hour()},
		"no id":        {Kind: revocation.AccessToken, At: t0, Until: hour()},
		"no instant":   {Kind: revocation.Credential, ID: "x", Until: hour()},
		"no expiry":    {Kind: revocation.Credential, ID: "x", At: t0},
	}
	for name, e := range bad {
		if err := s.Revoke(t.Context(), good, e); err == nil {
			t.Errorf("Revoke(good, %s) succeeded, want an error", name)
		}
		if err := s.Rebuild(t.Context(), []revocation.Entry{good, e}); err == nil {
			t.Errorf("Rebuild(good, %s) succeeded, want an error", name)
		}
	}
	// A rejected call writes nothing.
	expect(t, s, check{revocation.Query{TokenID: "good"}, false})
	if err := s.Healthy(t.Context()); err != nil {
		t.Errorf("Healthy after rejected calls: %v", err)
	}
}

func testRebuild(t *testing.T, s revocation.Set) {
	// An entry the set holds but the caller's view of the database lacks,
	// as one revoked after that view was read, survives the rebuild.
	revoke(t, s, revocation.Entry{Kind: revocation.AccessToken, ID: "newer", At: t0, Until: hour()})
	view := []revocation.Entry{
		{Kind: revocation.Credential, ID: "c1", At: t0, Until: hour()},
		{Kind: revocation.AccessToken, ID: "j1", At: t0, Until: hour()},
		{Kind: revocation.Family, ID: "f1", At: t0, Until: hour()},
		{Kind: revocation.Family, ID: "gone", At: t0, Until: time.Now().Add(-time.Second)},
	}
	// More than one batch of a batching backend.
	for i := range 2500 {
		view = append(view, revocation.Entry{Kind: revocation.AccessToken, ID: fmt.Sprintf("bulk-%d", i), At: t0, Until: hour()})
	}
	if err := s.Rebuild(t.Context(), view); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy after Rebuild: %v", err)
	}
	expect(t, s,
		check{revocation.Query{ClientID: "c1", IssuedAt: t0}, true},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0.Add(time.Second)}, false},
		check{revocation.Query{TokenID: "j1"}, true},
		check{revocation.Query{FamilyID: "f1"}, true},
		check{revocation.Query{TokenID: "newer"}, true},
		check{revocation.Query{FamilyID: "gone"}, false},
		check{revocation.Query{TokenID: "bulk-0"}, true},
		check{revocation.Query{TokenID: "bulk-2499"}, true},
		check{revocation.Query{TokenID: "bulk-2500"}, false},
		check{revocation.Query{ClientID: "c2", IssuedAt: t0, TokenID: "j2", FamilyID: "f2"}, false},
	)
	if n, want := size(t, s), int64(2504); n != want {
		t.Errorf("Size after Rebuild = %d, want %d", n, want)
	}
	// Rebuilding again with the same view changes nothing.
	if err := s.Rebuild(t.Context(), view); err != nil {
		t.Fatalf("second Rebuild: %v", err)
	}
	if n, want := size(t, s), int64(2504); n != want {
		t.Errorf("Size after a second Rebuild = %d, want %d", n, want)
	}
}

func testSize(t *testing.T, s revocation.Set) {
	revoke(t, s,
		revocation.Entry{Kind: revocation.Credential, ID: "x", At: t0, Until: hour()},
		revocation.Entry{Kind: revocation.AccessToken, ID: "x", At: t0, Until: hour()},
		revocation.Entry{Kind: revocation.Family, ID: "x", At: t0, Until: hour()},
	)
	if n := size(t, s); n != 3 {
		t.Errorf("Size = %d, want 3: one entry of each kind", n)
	}
	revoke(t, s, revocation.Entry{Kind: revocation.Family, ID: "x", At: t0, Until: hour()})
	if n := size(t, s); n != 3 {
		t.Errorf("Size = %d after revoking an entry again, want 3", n)
	}
}

func testConcurrency(t *testing.T, s revocation.Set) {
	const writers, perWriter, readers = 8, 25, 8
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, writers+readers+1)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				e := revocation.Entry{Kind: revocation.AccessToken, ID: fmt.Sprintf("w%d-%d", w, i), At: t0, Until: hour()}
				if err := s.Revoke(ctx, e); err != nil {
					errs <- fmt.Errorf("Revoke(%s): %w", e.ID, err)
					return
				}
				// Visible as soon as Revoke returns.
				ok, err := s.IsRevoked(ctx, revocation.Query{TokenID: e.ID})
				if err != nil || !ok {
					errs <- fmt.Errorf("IsRevoked(%s) right after Revoke = %v, %v; want true, nil", e.ID, ok, err)
					return
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			for i := range perWriter {
				q := revocation.Query{ClientID: "nobody", IssuedAt: t0, TokenID: fmt.Sprintf("r%d-%d", r, i), FamilyID: "none"}
				if ok, err := s.IsRevoked(ctx, q); err != nil || ok {
					errs <- fmt.Errorf("IsRevoked(%+v) = %v, %v; want false, nil", q, ok, err)
					return
				}
			}
		})
	}
	// A rebuild running meanwhile loses none of them.
	const rebuilt = 50
	wg.Go(func() {
		var view []revocation.Entry
		for i := range rebuilt {
			view = append(view, revocation.Entry{Kind: revocation.Family, ID: fmt.Sprintf("rb-%d", i), At: t0, Until: hour()})
		}
		if err := s.Rebuild(ctx, view); err != nil {
			errs <- fmt.Errorf("rebuild: %w", err)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := size(t, s); n != writers*perWriter+rebuilt {
		t.Errorf("Size = %d after concurrent revokes and a rebuild, want %d", n, writers*perWriter+rebuilt)
	}
	for i := range rebuilt {
		if id := fmt.Sprintf("rb-%d", i); !isRevoked(t, s, revocation.Query{FamilyID: id}) {
			t.Errorf("family %s not revoked after Rebuild", id)
		}
	}
	for w := range writers {
		for i := range perWriter {
			id := fmt.Sprintf("w%d-%d", w, i)
			if !isRevoked(t, s, revocation.Query{TokenID: id}) {
				t.Errorf("%s not revoked", id)
			}
		}
	}
}

// versions calls Versions and fails the test on an error.
func versions(t *testing.T, s revocation.Set, ids ...string) (revocation.Generation, []int64) {
	t.Helper()
	out := make([]int64, len(ids))
	gen, err := s.Versions(t.Context(), ids, out)
	if err != nil {
		t.Fatalf("Versions(%q): %v", ids, err)
	}
	if gen == "" {
		t.Fatalf("Versions(%q): empty generation", ids)
	}
	return gen, out
}

func changed(id string, version int64, until time.Time) revocation.Entry {
	return revocation.Entry{Kind: revocation.Changed, ID: id, At: t0, Version: version, Until: until}
}

// testChanged: Changed entries answer their version, keep the greatest
// written, revoke nothing, and are separate from every other kind.
func testChanged(t *testing.T, s revocation.Set) {
	tok, tenant := revocation.ChangedToken("c1"), revocation.ChangedTenant("acme")
	gen, got := versions(t, s, tok, tenant)
	if got[0] != 0 || got[1] != 0 {
		t.Errorf("Versions on an empty set = %v, want [0 0]", got)
	}
	revoke(t, s, changed(tok, 7, hour()), changed(tenant, 1<<40, hour()))
	gen2, got := versions(t, s, tok, tenant)
	if got[0] != 7 || got[1] != 1<<40 {
		t.Errorf("Versions = %v, want [7 %d]", got, int64(1<<40))
	}
	if gen2 != gen {
		t.Errorf("generation moved from %q to %q on a write; only a rebuild moves it", gen, gen2)
	}
	// An older version written later (a slow writer) keeps the greater;
	// 10 after 9 compares as a number, not as text.
	revoke(t, s, changed(tok, 3, hour()))
	revoke(t, s, changed(tok, 10, hour()))
	revoke(t, s, changed(tok, 9, hour()))
	if _, got = versions(t, s, tok); got[0] != 10 {
		t.Errorf("version after writing 3, 10, 9 over 7 = %d, want 10", got[0])
	}
	// Nothing else reads them, and they read nothing else.
	revoke(t, s, revocation.Entry{Kind: revocation.Credential, ID: "c2", At: t0, Until: hour()})
	expect(t, s,
		check{revocation.Query{ClientID: tok, IssuedAt: t0}, false},
		check{revocation.Query{ClientID: "c1", IssuedAt: t0, TokenID: tok, FamilyID: tok, KeyID: tok}, false},
	)
	if _, got = versions(t, s, "c2", revocation.ChangedToken("c2"), ""); got[0] != 0 || got[1] != 0 || got[2] != 0 {
		t.Errorf("Versions of ids without a Changed entry = %v, want zeros", got)
	}
	if _, err := s.Versions(t.Context(), []string{tok}, nil); err == nil {
		t.Error("Versions with no room for the answer: no error")
	}
	if err := s.Revoke(t.Context(), revocation.Entry{Kind: revocation.Changed, ID: tok, At: t0, Until: hour()}); err == nil {
		t.Error("Revoke of a Changed entry without a version: no error")
	}
	if _, got = versions(t, s, tok); got[0] != 10 {
		t.Errorf("version after a refused write = %d, want 10", got[0])
	}
}

// testChangedExpiry: a Changed entry forgets itself at its Until, and a
// later write with a longer one keeps it.
func testChangedExpiry(t *testing.T, s revocation.Set) {
	short := time.Now().Add(300 * time.Millisecond)
	revoke(t, s, changed("short", 2, short), changed("kept", 2, short))
	revoke(t, s, changed("kept", 1, hour()))
	if _, got := versions(t, s, "short", "kept"); got[0] != 2 || got[1] != 2 {
		t.Fatalf("Versions = %v, want [2 2]", got)
	}
	eventually(t, "the short Changed entry forgotten", func() bool {
		_, got := versions(t, s, "short")
		return got[0] == 0
	})
	if _, got := versions(t, s, "kept"); got[0] != 2 {
		t.Errorf("version of the entry rewritten with a longer Until = %d, want 2 (the greater, kept)", got[0])
	}
}

// testGenerationAfterRebuild: every Rebuild answers a new generation, so a
// copy stamped before it cannot trust an entry's absence; the Changed
// entries of the rebuild's view are there afterwards.
func testGenerationAfterRebuild(t *testing.T, s revocation.Set) {
	revoke(t, s, changed("before", 4, hour()))
	gen, _ := versions(t, s, "before")
	if err := s.Rebuild(t.Context(), []revocation.Entry{changed("view", 2, hour())}); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	gen2, got := versions(t, s, "before", "view")
	if gen2 == gen {
		t.Errorf("generation %q unchanged by a Rebuild", gen)
	}
	if got[0] != 4 || got[1] != 2 {
		t.Errorf("Versions after Rebuild = %v, want [4 2]", got)
	}
	if err := s.Rebuild(t.Context(), nil); err != nil {
		t.Fatalf("second Rebuild: %v", err)
	}
	if gen3, _ := versions(t, s, "before"); gen3 == gen2 || gen3 == gen {
		t.Errorf("generation %q after a second Rebuild repeats an earlier one (%q, %q)", gen3, gen, gen2)
	}
}
