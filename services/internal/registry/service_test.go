package registry

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage/sqlite"
	"github.com/chave/chave/services/revocation"
)

const botToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

type fixture struct {
	svc    *Service
	dbPath string
	logs   *syncBuffer
	now    time.Time
	op     Caller
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, func(func() time.Time) revocation.Set { return nil })
}

// newFixtureWith builds the fixture over the revocation set newSet makes
// with the fixture's clock (nil: in-process).
func newFixtureWith(t *testing.T, newSet func(clock func() time.Time) revocation.Set) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dbPath: filepath.Join(t.TempDir(), "chave.db"), logs: &syncBuffer{},
		now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	store, err := sqlite.Open(ctx, f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hasher, _ := secrets.NewHasher(bytes.Repeat([]byte{1}, 32))
	sealer, _ := secrets.NewSealer(bytes.Repeat([]byte{2}, 32))
	f.svc, err = New(Config{
		Store: store, Catalog: chave.DefaultCatalog(), Hasher: hasher, Sealer: sealer,
		Clock:       func() time.Time { return f.now },
		Revocations: newSet(func() time.Time { return f.now }),
		Logger:      slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := f.svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.op, err = f.svc.Principal(ctx, id, "")
	if err != nil || !f.op.Operator {
		t.Fatalf("operator principal = %+v, %v", f.op, err)
	}
	for _, tn := range []chave.Tenant{
		{ID: "acme", DisplayName: "Acme", Contexts: []string{"foccohub", "inventory", "telegram"}},
		{ID: "globex", DisplayName: "Globex", Contexts: []string{"inventory"}},
	} {
		if _, err := f.svc.CreateTenant(ctx, f.op, tn); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// admin creates a registry.admin credential of the tenant and returns its caller.
func (f *fixture) admin(t *testing.T, tenant string) Caller {
	t.Helper()
	tok, _, err := f.svc.CreateToken(context.Background(), f.op, chave.Token{DisplayName: "admin", Tenant: tenant, Contexts: []string{chave.ScopeRegistryAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.Principal(context.Background(), tok.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateTokenSecretOnceAndMasked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret, err := f.svc.CreateToken(ctx, f.op, chave.Token{
		DisplayName: "Bot", Tenant: "acme", Contexts: []string{"telegram"},
		Parameters: chave.Parameters{"telegram": {"botToken": botToken}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.ParseClientSecret(secret.Reveal()); err != nil {
		t.Fatalf("secret malformed: %v", err)
	}
	if tok.SecretHash != nil {
		t.Fatal("the secret hash left the service")
	}
	want := "********" + botToken[len(botToken)-4:]
	if got := tok.Parameters["telegram"]["botToken"]; got != want {
		t.Fatalf("masked bot token = %q, want %q", got, want)
	}
	got, err := f.svc.GetToken(ctx, f.op, tok.ID)
	if err != nil || got.Parameters["telegram"]["botToken"] != want {
		t.Fatalf("GetToken = %+v, %v", got.Parameters, err)
	}
	client, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
	if err != nil || client.Tenant != "acme" || !slices.Equal(client.Scopes, []string{"telegram"}) {
		t.Fatalf("AuthenticateClient = %+v, %v", client, err)
	}
	// Neither the database nor the logs hold the secret or the bot token.
	f.svc.store.Close()
	for _, path := range []string{f.dbPath, f.dbPath + "-wal"} {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, needle := range []string{secret.Reveal(), botToken, botToken[10:]} {
			if bytes.Contains(data, []byte(needle)) {
				t.Fatalf("%s holds %q in plaintext", filepath.Base(path), needle[:12])
			}
		}
	}
	if logs := f.logs.String(); strings.Contains(logs, secret.Reveal()[9:]) || strings.Contains(logs, botToken[10:]) {
		t.Fatal("logs hold a secret")
	}
}

func TestAuthenticateClientFailuresLookAlike(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "acme", Contexts: []string{"inventory"}, ExpireTime: f.now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := secrets.NewClientSecret()
	unknownID, _ := secrets.NewClientID()
	cases := map[string][2]string{
		"wrong secret":     {tok.ID, other.Reveal()},
		"unknown client":   {unknownID, secret.Reveal()},
		"malformed secret": {tok.ID, secret.Reveal()[:20]},
		"empty":            {"", ""},
		"empty secret":     {tok.ID, ""},
	}
	var msgs []string
	for name, c := range cases {
		_, err := f.svc.AuthenticateClient(ctx, c[0], c[1])
		if !chave.IsCode(err, chave.Unauthenticated) {
			t.Fatalf("%s: err = %v, want Unauthenticated", name, err)
		}
		msgs = append(msgs, err.Error())
	}
	if len(slices.Compact(slices.Sorted(slices.Values(msgs)))) != 1 {
		t.Fatalf("failures are distinguishable: %q", msgs)
	}
	// Expired and revoked credentials no longer authenticate.
	f.now = f.now.Add(2 * time.Hour)
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("expired credential: err = %v", err)
	}
}

func TestRevokeRotateAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, secret, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "acme", GeneralAccess: true})
	if err != nil {
		t.Fatal(err)
	}
	_, secret2, err := f.svc.RotateToken(ctx, f.op, tok.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); err == nil {
		t.Fatal("the old secret still works after rotation")
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret2.Reveal()); err != nil {
		t.Fatalf("the new secret fails: %v", err)
	}
	f.now = f.now.Add(time.Minute)
	r1, err := f.svc.RevokeToken(ctx, f.op, tok.ID)
	if err != nil || r1.State(f.now) != chave.StateRevoked || r1.Revoker != f.op.ClientID {
		t.Fatalf("RevokeToken = %+v, %v", r1, err)
	}
	f.now = f.now.Add(time.Minute)
	r2, err := f.svc.RevokeToken(ctx, f.op, tok.ID)
	if err != nil || !r2.RevokeTime.Equal(r1.RevokeTime) {
		t.Fatalf("second revoke changed the token: %v vs %v, %v", r2.RevokeTime, r1.RevokeTime, err)
	}
	if _, err := f.svc.AuthenticateClient(ctx, tok.ID, secret2.Reveal()); err == nil {
		t.Fatal("a revoked credential authenticates")
	}
	if _, _, err := f.svc.RotateToken(ctx, f.op, tok.ID, time.Time{}); !chave.IsCode(err, chave.FailedPrecondition) {
		t.Fatalf("rotating a revoked token: %v", err)
	}
	events, err := f.svc.ListTokenEvents(ctx, f.op, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
		if e.Actor != f.op.ClientID {
			t.Errorf("event %s actor %q", e.Action, e.Actor)
		}
	}
	if want := []string{"create", "rotate", "revoke"}; !slices.Equal(actions, want) {
		t.Fatalf("events = %v, want %v", actions, want)
	}
	// Revoked tokens stay listable as history.
	list, _, err := f.svc.ListTokens(ctx, f.op, ListQuery{Tenant: "acme", State: chave.StateRevoked})
	if err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("revoked listing = %v, %v", list, err)
	}
}

func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acmeAdmin, globexAdmin := f.admin(t, "acme"), f.admin(t, "globex")
	tok, _, err := f.svc.CreateToken(ctx, acmeAdmin, chave.Token{DisplayName: "x", Tenant: "acme", Contexts: []string{"inventory"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetToken(ctx, globexAdmin, tok.ID); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("GetToken across tenants: %v", err)
	}
	if _, err := f.svc.RevokeToken(ctx, globexAdmin, tok.ID); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("RevokeToken across tenants: %v", err)
	}
	if _, _, err := f.svc.RotateToken(ctx, globexAdmin, tok.ID, time.Time{}); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("RotateToken across tenants: %v", err)
	}
	if _, err := f.svc.UpdateToken(ctx, globexAdmin, chave.Token{ID: tok.ID, DisplayName: "pwned"}, []string{"display_name"}); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("UpdateToken across tenants: %v", err)
	}
	if _, err := f.svc.ListTokenEvents(ctx, globexAdmin, tok.ID); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("ListTokenEvents across tenants: %v", err)
	}
	if _, _, err := f.svc.CreateToken(ctx, globexAdmin, chave.Token{DisplayName: "x", Tenant: "acme", Contexts: []string{"inventory"}}); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("CreateToken for another tenant: %v", err)
	}
	if _, _, err := f.svc.ListTokens(ctx, globexAdmin, ListQuery{Tenant: "acme"}); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("ListTokens of another tenant: %v", err)
	}
	list, _, err := f.svc.ListTokens(ctx, globexAdmin, ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range list {
		if tk.Tenant != "globex" {
			t.Fatalf("globex admin listed %s of tenant %q", tk.ID, tk.Tenant)
		}
	}
	if _, err := f.svc.CreateTenant(ctx, acmeAdmin, chave.Tenant{ID: "evil", DisplayName: "E"}); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("tenant admin created a tenant: %v", err)
	}
	if _, err := f.svc.ListContexts(ctx, acmeAdmin, "globex"); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("ListContexts of another tenant: %v", err)
	}
}

func TestPrincipalFollowsTheCredential(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.admin(t, "acme")
	if _, err := f.svc.UpdateToken(ctx, f.op, chave.Token{ID: admin.ClientID, Contexts: []string{"inventory"}}, []string{"contexts"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Principal(ctx, admin.ClientID, ""); !chave.IsCode(err, chave.PermissionDenied) {
		t.Fatalf("a credential that lost registry.admin is still a principal: %v", err)
	}
	other := f.admin(t, "acme")
	if _, err := f.svc.RevokeToken(ctx, f.op, other.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Principal(ctx, other.ClientID, ""); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("a revoked credential is still a principal: %v", err)
	}
}

func TestUpdateToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, _, err := f.svc.CreateToken(ctx, f.op, chave.Token{
		DisplayName: "Bot", Tenant: "acme", Contexts: []string{"telegram"},
		Parameters: chave.Parameters{"telegram": {"botToken": botToken}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Sending back the masked value keeps the secret.
	up, err := f.svc.UpdateToken(ctx, f.op, chave.Token{ID: tok.ID, DisplayName: "Bot 2", Parameters: tok.Parameters}, []string{"display_name", "parameters"})
	if err != nil {
		t.Fatal(err)
	}
	if up.DisplayName != "Bot 2" || up.Parameters["telegram"]["botToken"] != tok.Parameters["telegram"]["botToken"] {
		t.Fatalf("update = %+v", up)
	}
	stored, _ := f.svc.store.GetToken(ctx, tok.ID)
	params, err := f.svc.openParameters(context.Background(), tok.ID, stored.Parameters)
	if err != nil || params["telegram"]["botToken"] != botToken {
		t.Fatalf("the bot token did not survive the round trip: %v", err)
	}
	cases := []struct {
		patch chave.Token
		mask  []string
		field string
	}{
		{chave.Token{ExpireTime: f.now.Add(-time.Hour)}, []string{"expire_time"}, "expireTime"},
		{chave.Token{DisplayName: ""}, []string{"display_name"}, "displayName"},
		{chave.Token{Tenant: "globex"}, []string{"tenant"}, "updateMask"},
		{chave.Token{Contexts: []string{"labels"}}, []string{"contexts"}, "contexts"},
		{chave.Token{GeneralAccess: true}, []string{"general_access"}, "generalAccess"},
	}
	for _, tc := range cases {
		tc.patch.ID = tok.ID
		_, err := f.svc.UpdateToken(ctx, f.op, tc.patch, tc.mask)
		if e, ok := err.(*chave.Error); !ok || e.Field != tc.field {
			t.Errorf("UpdateToken(%v) = %v, want field %q", tc.mask, err, tc.field)
		}
	}
	events, _ := f.svc.ListTokenEvents(ctx, f.op, tok.ID)
	if len(events) != 2 || !slices.Equal(events[1].Fields, []string{"displayName", "parameters"}) {
		t.Fatalf("events = %+v", events)
	}
}

func TestListTokensPaging(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var created []string
	for range 7 {
		f.now = f.now.Add(time.Second)
		tok, _, err := f.svc.CreateToken(ctx, f.op, chave.Token{DisplayName: "x", Tenant: "globex", Contexts: []string{"inventory"}})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, tok.ID)
	}
	slices.Reverse(created)
	var got []string
	page := ""
	for {
		list, next, err := f.svc.ListTokens(ctx, f.op, ListQuery{Tenant: "globex", PageSize: 3, PageToken: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range list {
			got = append(got, tk.ID)
		}
		if next == "" {
			break
		}
		page = next
	}
	if !slices.Equal(got, created) {
		t.Fatalf("paged listing = %v, want newest first %v", got, created)
	}
	_, next, _ := f.svc.ListTokens(ctx, f.op, ListQuery{Tenant: "globex", PageSize: 3})
	if _, _, err := f.svc.ListTokens(ctx, f.op, ListQuery{Tenant: "acme", PageSize: 3, PageToken: next}); !chave.IsCode(err, chave.Invalid) {
		t.Fatalf("page token reused with another filter: %v", err)
	}
	if _, _, err := f.svc.ListTokens(ctx, f.op, ListQuery{PageToken: "garbage!"}); !chave.IsCode(err, chave.Invalid) {
		t.Fatalf("garbage page token: %v", err)
	}
}

func TestCreateTokenUnknownTenant(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.svc.CreateToken(context.Background(), f.op, chave.Token{DisplayName: "x", Tenant: "nope", GeneralAccess: true})
	if e, ok := err.(*chave.Error); !ok || e.Field != "tenant" || e.Code != chave.Invalid {
		t.Fatalf("err = %v, want Invalid tenant", err)
	}
}

// TestTenantAdminReadsOnlyItsOwnTenant: a tenant's admins read their own
// tenant (its entitlement is what they may grant) and no other; listing,
// creating and changing tenants stays the operator's.
func TestTenantAdminReadsOnlyItsOwnTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acme := f.admin(t, "acme")
	got, err := f.svc.GetTenant(ctx, acme, "acme")
	if err != nil || got.DisplayName != "Acme" {
		t.Fatalf("own tenant: %+v, %v", got, err)
	}
	if _, err := f.svc.GetTenant(ctx, acme, "globex"); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("another tenant: %v, want PermissionDenied", err)
	}
	if _, err := f.svc.GetTenant(ctx, acme, ""); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("no tenant named: %v, want PermissionDenied", err)
	}
	if _, err := f.svc.ListTenants(ctx, acme); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("list: %v, want PermissionDenied", err)
	}
	if _, err := f.svc.UpdateTenant(ctx, acme, chave.Tenant{ID: "acme", DisplayName: "Mine"}, []string{"display_name"}); !chave.IsCode(err, chave.PermissionDenied) {
		t.Errorf("update own tenant: %v, want PermissionDenied", err)
	}
}
