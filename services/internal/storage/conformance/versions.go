package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// runVersions checks the versions the registry's credential cache relies
// on: CreateToken and CreateTenant store the Version given; every
// UpdateToken and UpdateTenant stores the version it read plus one,
// whatever the closure set, and returns it; an aborted update, a touch and
// a read change nothing; GetClient returns both versions.
func runVersions(t *testing.T, open opener) {
	t.Run("TokenUpdatesBumpTheVersion", func(t *testing.T) {
		s := open(t)
		mustCreateTenant(t, s, fullTenant("acme"))
		tok := minimalToken("tok-v", "acme", at(0))
		tok.Version = 5
		mustCreateToken(t, s, tok)
		if got := mustGetToken(t, s, tok.ID).Version; got != 5 {
			t.Fatalf("Version after CreateToken = %d, want 5 (as written)", got)
		}
		want := int64(5)
		// Every kind of change a grant can see goes through UpdateToken: a
		// patch, a revocation, a rotation, a re-hash, a grace end.
		for i, change := range []func(*chave.Token){
			func(t *chave.Token) { t.Contexts = []string{"commercial"} },
			func(t *chave.Token) { t.ExpireTime = at(time.Hour) },
			func(t *chave.Token) { t.SecretHash, t.SecretHashVersion = []byte{1, 2}, 2 },
			func(t *chave.Token) { t.Version = 1 }, // the closure cannot move it
			func(t *chave.Token) { t.PreviousSecretHash = nil },
			func(t *chave.Token) { t.RevokeTime, t.Revoker = at(2*time.Hour), "op" },
		} {
			got, err := s.UpdateToken(t.Context(), tok.ID, func(t *chave.Token) (chave.Event, error) {
				change(t)
				return chave.Event{Time: at(time.Duration(i) * time.Second), Actor: "op", Action: chave.ActionUpdate}, nil
			})
			if err != nil {
				t.Fatalf("UpdateToken #%d: %v", i, err)
			}
			want++
			if got.Version != want {
				t.Errorf("UpdateToken #%d returned version %d, want %d", i, got.Version, want)
			}
			if read := mustGetToken(t, s, tok.ID).Version; read != want {
				t.Errorf("GetToken after UpdateToken #%d: version %d, want %d", i, read, want)
			}
		}
		abort := errors.New("abort")
		if _, err := s.UpdateToken(t.Context(), tok.ID, func(t *chave.Token) (chave.Event, error) {
			t.DisplayName = "never"
			return chave.Event{}, abort
		}); !errors.Is(err, abort) {
			t.Fatalf("aborted UpdateToken: %v, want the closure's error", err)
		}
		if err := s.TouchToken(t.Context(), tok.ID, at(time.Hour)); err != nil {
			t.Fatalf("TouchToken: %v", err)
		}
		if got := mustGetToken(t, s, tok.ID).Version; got != want {
			t.Errorf("version after an aborted update and a touch = %d, want %d (unchanged)", got, want)
		}
		if got, _, err := s.GetClient(t.Context(), tok.ID); err != nil || got.Version != want {
			t.Errorf("GetClient version = %d, %v; want %d", got.Version, err, want)
		}
	})

	t.Run("TenantUpdatesBumpTheVersion", func(t *testing.T) {
		s := open(t)
		tn := fullTenant("acme")
		tn.Version = 3
		mustCreateTenant(t, s, tn)
		mustCreateToken(t, s, minimalToken("tok-v", "acme", at(0)))
		want := int64(3)
		for i, change := range []func(*chave.Tenant){
			func(t *chave.Tenant) { t.DisplayName = "Acme II" },
			func(t *chave.Tenant) { t.Contexts = nil }, // entitlements removed
			func(t *chave.Tenant) { t.Policy.AllowedClientCIDRs = []string{"10.0.0.0/8"} },
			func(t *chave.Tenant) { t.Version = 0 },
		} {
			got, err := s.UpdateTenant(t.Context(), tn.ID, func(t *chave.Tenant) error {
				change(t)
				return nil
			})
			if err != nil {
				t.Fatalf("UpdateTenant #%d: %v", i, err)
			}
			want++
			if got.Version != want {
				t.Errorf("UpdateTenant #%d returned version %d, want %d", i, got.Version, want)
			}
			read, err := s.GetTenant(t.Context(), tn.ID)
			if err != nil || read.Version != want {
				t.Errorf("GetTenant after UpdateTenant #%d: version %d, %v; want %d", i, read.Version, err, want)
			}
			if _, client, err := s.GetClient(t.Context(), "tok-v"); err != nil || client.Version != want {
				t.Errorf("GetClient after UpdateTenant #%d: tenant version %d, %v; want %d", i, client.Version, err, want)
			}
		}
		abort := errors.New("abort")
		if _, err := s.UpdateTenant(t.Context(), tn.ID, func(*chave.Tenant) error { return abort }); !errors.Is(err, abort) {
			t.Fatalf("aborted UpdateTenant: %v, want the closure's error", err)
		}
		if read, err := s.GetTenant(t.Context(), tn.ID); err != nil || read.Version != want {
			t.Errorf("version after an aborted update = %d, %v; want %d", read.Version, err, want)
		}
	})

	t.Run("ConcurrentUpdatesCountEveryChange", func(t *testing.T) {
		s := open(t)
		mustCreateToken(t, s, minimalToken("tok-c", "acme", at(0)))
		const n = 8
		together(n, func(i int) {
			if _, err := s.UpdateToken(t.Context(), "tok-c", func(t *chave.Token) (chave.Event, error) {
				return chave.Event{Time: at(0), Actor: "op", Action: chave.ActionUpdate}, nil
			}); err != nil {
				t.Errorf("UpdateToken: %v", err)
			}
		})
		if got := mustGetToken(t, s, "tok-c").Version; got != n {
			t.Errorf("version after %d concurrent updates = %d, want %d", n, got, n)
		}
	})
}
