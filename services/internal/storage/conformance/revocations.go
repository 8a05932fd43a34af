package conformance

import (
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

func runRevocations(t *testing.T, open opener) {
	// The instants every subtest asks at, unless it says otherwise. The
	// boundaries are exact: a credential revoked at since is listed, an
	// access token or family expiring at now is not.
	since, now := at(24*time.Hour), at(48*time.Hour)

	t.Run("EmptyStore", func(t *testing.T) {
		s := open(t)
		for _, c := range []struct {
			name       string
			since, now time.Time
		}{
			{"since and now", since, now},
			{"zero since and now", time.Time{}, time.Time{}},
		} {
			got := mustListRevocations(t, s, c.since, c.now)
			if len(got.Credentials)+len(got.AccessTokens)+len(got.Families) != 0 {
				t.Errorf("ListRevocations on an empty store with %s: got %+v, want nothing", c.name, got)
			}
		}
	})

	t.Run("Credentials", func(t *testing.T) {
		s := open(t)
		// Created out of id order; "Z" sorts before "a" bytewise, as Go
		// compares strings.
		revoked := func(id, tenant string, revokeAt time.Time) chave.Token {
			tok := minimalToken(id, tenant, at(0))
			tok.RevokeTime, tok.Revoker = revokeAt, "revoker"
			return tok
		}
		recent := fullToken("cred-recent", "acme", at(0)) // revoked at(48h), every field set
		recent.RevokeTime = now
		atSince := revoked("cred-at-since", "globex", since.In(brt))
		operator := revoked("Z-operator", "", since.Add(time.Microsecond))
		// Revoked after since but expired long before now: listed all the
		// same, the filter on credentials is since alone.
		expired := revoked("cred-expired", "acme", since.Add(time.Hour))
		expired.ExpireTime = since.Add(2 * time.Hour)
		// Revoked after now: listed (since is the only bound).
		future := revoked("cred-future", "acme", now.Add(time.Hour))
		for _, tok := range []chave.Token{
			recent,
			minimalToken("cred-active", "acme", at(0)), // never revoked
			revoked("cred-old", "acme", since.Add(-time.Microsecond)),
			revoked("cred-ancient", "acme", at(time.Hour)),
			atSince, operator, expired, future,
			minimalToken("cred-updated", "initech", at(0)), // revoked by UpdateToken below
		} {
			mustCreateToken(t, s, tok)
		}
		updated, err := s.UpdateToken(t.Context(), "cred-updated", func(tok *chave.Token) (chave.Event, error) {
			tok.RevokeTime, tok.Revoker = since.Add(3*time.Hour), "admin"
			return chave.Event{Time: since.Add(3 * time.Hour), Actor: "admin", Action: chave.ActionRevoke}, nil
		})
		if err != nil {
			t.Fatalf("UpdateToken(cred-updated): %v", err)
		}
		// A revoked token that is then un-revoked is no longer listed.
		unrevoked := revoked("cred-unrevoked", "acme", since.Add(time.Hour))
		mustCreateToken(t, s, unrevoked)
		if _, err := s.UpdateToken(t.Context(), unrevoked.ID, func(tok *chave.Token) (chave.Event, error) {
			tok.RevokeTime = time.Time{}
			return chave.Event{Time: since.Add(2 * time.Hour), Action: chave.ActionUpdate}, nil
		}); err != nil {
			t.Fatalf("UpdateToken(%s): %v", unrevoked.ID, err)
		}

		want := []chave.Token{operator, atSince, expired, future, recent, updated}
		got := mustListRevocations(t, s, since.In(brt), now)
		checkRevokedCredentials(t, "ListRevocations", want, got.Credentials)
		if len(got.AccessTokens)+len(got.Families) != 0 {
			t.Errorf("ListRevocations with credentials only: got access tokens %v and families %v, want none",
				idsOf(got.AccessTokens, accessTokenID), idsOf(got.Families, familyID))
		}

		// since moves the bound: one microsecond later drops the credential
		// revoked exactly at since; the zero time lists every revoked one.
		got = mustListRevocations(t, s, since.Add(time.Microsecond), now)
		checkRevokedCredentials(t, "ListRevocations one microsecond after since",
			[]chave.Token{operator, expired, future, recent, updated}, got.Credentials)
		all := []chave.Token{operator, revoked("cred-ancient", "acme", at(time.Hour)), atSince,
			expired, future, revoked("cred-old", "acme", since.Add(-time.Microsecond)), recent, updated}
		got = mustListRevocations(t, s, time.Time{}, now)
		checkRevokedCredentials(t, "ListRevocations with a zero since", all, got.Credentials)
		// now plays no part in the credentials listed.
		got = mustListRevocations(t, s, since, now.Add(1000*time.Hour))
		checkRevokedCredentials(t, "ListRevocations at a later now", want, got.Credentials)
	})

	t.Run("AccessTokens", func(t *testing.T) {
		s := open(t)
		rat := func(id string, expires time.Time) chave.RevokedAccessToken {
			return chave.RevokedAccessToken{ID: id, ClientID: "client-" + id, ExpireTime: expires, RevokeTime: at(time.Hour)}
		}
		live := rat("jti-live", now.Add(time.Hour).In(brt))
		justAfter := rat("jti-just-after", now.Add(time.Microsecond))
		noExpiry := rat("jti-no-expiry", time.Time{}) // never expires: always matters
		oldRevocation := rat("A-jti-old-revocation", now.Add(2*time.Hour))
		oldRevocation.RevokeTime = at(0) // revoked long before since: since does not apply
		for _, r := range []chave.RevokedAccessToken{
			live,
			rat("jti-expired", now.Add(-time.Hour)),
			rat("jti-expires-at-now", now),
			justAfter, noExpiry, oldRevocation,
		} {
			if err := s.RevokeAccessToken(t.Context(), r); err != nil {
				t.Fatalf("RevokeAccessToken(%s): %v", r.ID, err)
			}
		}
		got := mustListRevocations(t, s, since, now.In(brt))
		checkRevokedAccessTokens(t, "ListRevocations",
			[]chave.RevokedAccessToken{oldRevocation, justAfter, live, noExpiry}, got.AccessTokens)
		if len(got.Credentials)+len(got.Families) != 0 {
			t.Errorf("ListRevocations with access tokens only: got credentials %v and families %v, want none",
				ids(got.Credentials), idsOf(got.Families, familyID))
		}
		// One microsecond later, the token that expired just after now is
		// gone; at the zero time every token is listed.
		got = mustListRevocations(t, s, since, now.Add(time.Microsecond))
		checkRevokedAccessTokens(t, "ListRevocations one microsecond after now",
			[]chave.RevokedAccessToken{oldRevocation, live, noExpiry}, got.AccessTokens)
		got = mustListRevocations(t, s, since, time.Time{})
		if len(got.AccessTokens) != 6 {
			t.Errorf("ListRevocations at the zero time: got access tokens %v, want all 6", idsOf(got.AccessTokens, accessTokenID))
		}
	})

	t.Run("Families", func(t *testing.T) {
		s := open(t)
		family := func(id string, expires, revoked time.Time) chave.RefreshFamily {
			init := chave.RefreshFamily{ClientID: "client-" + id, CreateTime: at(0), ExpireTime: expires}
			f, err := s.UpdateRefreshFamily(t.Context(), id, init, func(f *chave.RefreshFamily) error {
				f.Generation = 2
				if !revoked.IsZero() {
					f.RevokeTime, f.RevokeReason = revoked, chave.FamilyRevokedByClient
				}
				return nil
			})
			if err != nil {
				t.Fatalf("UpdateRefreshFamily(%s): %v", id, err)
			}
			return f
		}
		revokedAt := at(time.Hour) // before since: since does not apply to families
		family("fam-unrevoked", now.Add(time.Hour), time.Time{})
		family("fam-unrevoked-no-expiry", time.Time{}, time.Time{})
		family("fam-expired", now.Add(-time.Hour), revokedAt)
		family("fam-expires-at-now", now, revokedAt)
		live := family("fam-live", now.Add(time.Hour).In(brt), revokedAt.In(brt))
		justAfter := family("fam-just-after", now.Add(time.Microsecond), revokedAt)
		noExpiry := family("fam-no-expiry", time.Time{}, now.Add(-time.Minute))
		reused := family("B-fam-reused", now.Add(30*time.Minute), time.Time{})
		reused, err := s.UpdateRefreshFamily(t.Context(), reused.ID, chave.RefreshFamily{}, func(f *chave.RefreshFamily) error {
			f.RevokeTime, f.RevokeReason = now.Add(-time.Second), chave.FamilyRevokedOnReuse
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateRefreshFamily(B-fam-reused): %v", err)
		}

		got := mustListRevocations(t, s, since, now.In(brt))
		checkRevokedFamilies(t, "ListRevocations", []chave.RefreshFamily{reused, justAfter, live, noExpiry}, got.Families)
		if len(got.Credentials)+len(got.AccessTokens) != 0 {
			t.Errorf("ListRevocations with families only: got credentials %v and access tokens %v, want none",
				ids(got.Credentials), idsOf(got.AccessTokens, accessTokenID))
		}
		got = mustListRevocations(t, s, since, now.Add(time.Microsecond))
		checkRevokedFamilies(t, "ListRevocations one microsecond after now",
			[]chave.RefreshFamily{reused, live, noExpiry}, got.Families)
	})

	t.Run("Everything", func(t *testing.T) {
		s := open(t)
		tok := minimalToken("cred", "acme", at(0))
		tok.RevokeTime = since
		mustCreateToken(t, s, tok)
		r := chave.RevokedAccessToken{ID: "jti", ClientID: "c", ExpireTime: now.Add(time.Hour), RevokeTime: since}
		if err := s.RevokeAccessToken(t.Context(), r); err != nil {
			t.Fatalf("RevokeAccessToken: %v", err)
		}
		f, err := s.UpdateRefreshFamily(t.Context(), "fam", chave.RefreshFamily{ClientID: "c", CreateTime: at(0), ExpireTime: now.Add(time.Hour)},
			func(f *chave.RefreshFamily) error {
				f.RevokeTime, f.RevokeReason = since, chave.FamilyRevokedByClient
				return nil
			})
		if err != nil {
			t.Fatalf("UpdateRefreshFamily: %v", err)
		}
		got := mustListRevocations(t, s, since, now)
		checkRevokedCredentials(t, "ListRevocations", []chave.Token{tok}, got.Credentials)
		checkRevokedAccessTokens(t, "ListRevocations", []chave.RevokedAccessToken{r}, got.AccessTokens)
		checkRevokedFamilies(t, "ListRevocations", []chave.RefreshFamily{f}, got.Families)
	})
}

func mustListRevocations(t *testing.T, s storage.Store, since, now time.Time) storage.Revocations {
	t.Helper()
	r, err := s.ListRevocations(t.Context(), since, now)
	if err != nil {
		t.Fatalf("ListRevocations(%v, %v): %v", since, now, err)
	}
	return r
}

// checkRevokedCredentials compares the listed credentials with want, in
// order, on the fields a revocation set needs: ID, Tenant and RevokeTime.
func checkRevokedCredentials(t *testing.T, what string, want, got []chave.Token) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got credentials %v, want %v", what, ids(got), ids(want))
		return
	}
	for i := range want {
		var d []string
		d = append(d, diffValue("ID", want[i].ID, got[i].ID)...)
		d = append(d, diffValue("Tenant", want[i].Tenant, got[i].Tenant)...)
		d = append(d, diffTime("RevokeTime", want[i].RevokeTime, got[i].RevokeTime)...)
		for _, line := range d {
			t.Errorf("%s: credential %d (want %q): %s", what, i, want[i].ID, line)
		}
	}
}

func checkRevokedAccessTokens(t *testing.T, what string, want, got []chave.RevokedAccessToken) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got access tokens %v, want %v", what, idsOf(got, accessTokenID), idsOf(want, accessTokenID))
		return
	}
	for i := range want {
		var d []string
		d = append(d, diffValue("ID", want[i].ID, got[i].ID)...)
		d = append(d, diffValue("ClientID", want[i].ClientID, got[i].ClientID)...)
		d = append(d, diffTime("ExpireTime", want[i].ExpireTime, got[i].ExpireTime)...)
		d = append(d, diffTime("RevokeTime", want[i].RevokeTime, got[i].RevokeTime)...)
		for _, line := range d {
			t.Errorf("%s: access token %d (want %q): %s", what, i, want[i].ID, line)
		}
	}
}

func checkRevokedFamilies(t *testing.T, what string, want, got []chave.RefreshFamily) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got families %v, want %v", what, idsOf(got, familyID), idsOf(want, familyID))
		return
	}
	for i := range want {
		checkFamily(t, what, got[i], want[i])
	}
}

func accessTokenID(r chave.RevokedAccessToken) string { return r.ID }
func familyID(f chave.RefreshFamily) string           { return f.ID }

func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}
