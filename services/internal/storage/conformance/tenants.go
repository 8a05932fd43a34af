package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

func fullTenant(id string) chave.Tenant {
	return chave.Tenant{
		ID:          id,
		DisplayName: "Indústria Ação " + id,
		Contexts:    []string{"commercial", "foccohub", "telegram"},
		Policy: chave.TenantPolicy{
			MaxTokenLifetime:   90 * 24 * time.Hour,
			GrantableContexts:  []string{"commercial", "telegram"},
			AllowedClientCIDRs: []string{"10.0.0.0/8", "2001:db8::/32"},
		},
		CreateTime: at(0).In(brt),
		UpdateTime: at(time.Hour).In(brt),
	}
}

func runTenants(t *testing.T, open opener) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		s := open(t)
		want := fullTenant("acme")
		mustCreateTenant(t, s, want)
		got, err := s.GetTenant(t.Context(), "acme")
		if err != nil {
			t.Fatalf("GetTenant: %v", err)
		}
		checkTenant(t, "GetTenant", want, got)
	})

	t.Run("ZeroValuesStayZero", func(t *testing.T) {
		s := open(t)
		for _, want := range []chave.Tenant{
			{ID: "nil-contexts", DisplayName: "n"},
			{ID: "empty-contexts", DisplayName: "e", Contexts: []string{}},
		} {
			mustCreateTenant(t, s, want)
			got, err := s.GetTenant(t.Context(), want.ID)
			if err != nil {
				t.Fatalf("GetTenant(%q): %v", want.ID, err)
			}
			checkTenant(t, "GetTenant", want, got)
		}
	})

	t.Run("CreateDuplicateConflict", func(t *testing.T) {
		s := open(t)
		first := fullTenant("acme")
		mustCreateTenant(t, s, first)
		second := chave.Tenant{ID: "acme", DisplayName: "other", CreateTime: at(time.Minute)}
		wantCode(t, "second CreateTenant(acme)", s.CreateTenant(t.Context(), second), chave.Conflict)
		got, err := s.GetTenant(t.Context(), "acme")
		if err != nil {
			t.Fatalf("GetTenant: %v", err)
		}
		checkTenant(t, "GetTenant after the conflict", first, got)
	})

	t.Run("GetMissingNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.GetTenant(t.Context(), "nope")
		wantCode(t, "GetTenant(nope)", err, chave.NotFound)
	})

	t.Run("ListOrderedByID", func(t *testing.T) {
		s := open(t)
		got, err := s.ListTenants(t.Context())
		if err != nil {
			t.Fatalf("ListTenants on an empty store: %v", err)
		}
		if len(got) != 0 {
			t.Fatalf("ListTenants on an empty store: got %d tenants, want none", len(got))
		}
		want := []chave.Tenant{fullTenant("a1"), fullTenant("b2"), fullTenant("c3"), {ID: "d4", DisplayName: "d"}}
		for _, i := range []int{2, 0, 3, 1} {
			mustCreateTenant(t, s, want[i])
		}
		got, err = s.ListTenants(t.Context())
		if err != nil {
			t.Fatalf("ListTenants: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("ListTenants: got %d tenants, want %d", len(got), len(want))
		}
		for i := range want {
			checkTenant(t, "ListTenants", want[i], got[i])
		}
	})

	t.Run("UpdateReadModifyWrite", func(t *testing.T) {
		s := open(t)
		orig := fullTenant("acme")
		mustCreateTenant(t, s, orig)
		want := orig
		want.DisplayName = "Acme renomeada"
		want.Contexts = []string{"inventory"}
		want.UpdateTime = at(2 * time.Hour)
		want.Policy = chave.TenantPolicy{MaxTokenLifetime: 7 * 24 * time.Hour}
		got, err := s.UpdateTenant(t.Context(), "acme", func(tn *chave.Tenant) error {
			checkTenant(t, "UpdateTenant's closure argument", orig, *tn)
			tn.DisplayName = want.DisplayName
			tn.Contexts = want.Contexts
			tn.UpdateTime = want.UpdateTime
			tn.Policy = want.Policy
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateTenant: %v", err)
		}
		checkTenant(t, "UpdateTenant's result", want, got)
		stored, err := s.GetTenant(t.Context(), "acme")
		if err != nil {
			t.Fatalf("GetTenant: %v", err)
		}
		checkTenant(t, "GetTenant after UpdateTenant", want, stored)
	})

	t.Run("UpdateKeepsIDAndCreateTime", func(t *testing.T) {
		s := open(t)
		orig := fullTenant("acme")
		mustCreateTenant(t, s, orig)
		want := orig
		want.DisplayName = "changed"
		got, err := s.UpdateTenant(t.Context(), "acme", func(tn *chave.Tenant) error {
			tn.ID = "hijack"
			tn.CreateTime = at(-time.Hour)
			tn.DisplayName = "changed"
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateTenant: %v", err)
		}
		checkTenant(t, "UpdateTenant's result", want, got)
		stored, err := s.GetTenant(t.Context(), "acme")
		if err != nil {
			t.Fatalf("GetTenant(acme): %v", err)
		}
		checkTenant(t, "GetTenant after UpdateTenant", want, stored)
		_, err = s.GetTenant(t.Context(), "hijack")
		wantCode(t, "GetTenant(hijack)", err, chave.NotFound)
	})

	t.Run("UpdateErrorAborts", func(t *testing.T) {
		s := open(t)
		orig := fullTenant("acme")
		mustCreateTenant(t, s, orig)
		sentinel := errors.New("closure refused")
		_, err := s.UpdateTenant(t.Context(), "acme", func(tn *chave.Tenant) error {
			tn.DisplayName = "must not be written"
			tn.Contexts = nil
			return sentinel
		})
		if !errors.Is(err, sentinel) {
			t.Fatalf("UpdateTenant: got error %v, want the closure's error", err)
		}
		stored, err := s.GetTenant(t.Context(), "acme")
		if err != nil {
			t.Fatalf("GetTenant: %v", err)
		}
		checkTenant(t, "GetTenant after an aborted UpdateTenant", orig, stored)
	})

	t.Run("UpdateMissingNotFound", func(t *testing.T) {
		s := open(t)
		called := false
		_, err := s.UpdateTenant(t.Context(), "nope", func(*chave.Tenant) error {
			called = true
			return nil
		})
		wantCode(t, "UpdateTenant(nope)", err, chave.NotFound)
		if called {
			t.Error("UpdateTenant(nope) called the closure for an absent tenant")
		}
	})
}
