package chave

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const botToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

func TestDefaultCatalog(t *testing.T) {
	c := DefaultCatalog()
	want := map[string]string{
		"custom-apis": "APIs Customizadas", "commercial": "Comercial", "purchasing": "Compras",
		"dynamic-queries": "Consultas dinâmicas", "inventory": "Estoque", "labels": "Etiquetas",
		"insight": "Insight", "foccohub": "FoccoHub", "production": "Produção",
		"products-engineering": "Produtos e Engenharia", "telegram": "Telegram",
	}
	if got := len(c.Contexts()); got != len(want) {
		t.Fatalf("catalog has %d contexts, want %d", got, len(want))
	}
	for id, name := range want {
		ctx, ok := c.Lookup(id)
		if !ok {
			t.Errorf("context %q missing", id)
			continue
		}
		if ctx.DisplayName("pt-BR") != name || ctx.DisplayName("en") == "" {
			t.Errorf("context %q: pt-BR %q en %q", id, ctx.DisplayName("pt-BR"), ctx.DisplayName("en"))
		}
	}
	tg, _ := c.Lookup("telegram")
	if p, ok := tg.Parameter("botToken"); !ok || !p.Secret {
		t.Error("telegram.botToken is not a secret parameter")
	}
	fh, _ := c.Lookup("foccohub")
	if p, ok := fh.Parameter("marketplace"); !ok || len(p.AllowedValues) == 0 {
		t.Error("foccohub.marketplace has no allowed values")
	}
}

func TestParseCatalogRejects(t *testing.T) {
	cases := map[string]string{
		"empty":           `{}`,
		"unknown field":   `{"contexts":[{"id":"a","displayNames":{"pt-BR":"A"}}],"x":1}`,
		"duplicate id":    `{"contexts":[{"id":"a","displayNames":{"pt-BR":"A"}},{"id":"a","displayNames":{"pt-BR":"B"}}]}`,
		"bad id":          `{"contexts":[{"id":"A B","displayNames":{"pt-BR":"A"}}]}`,
		"reserved-like":   `{"contexts":[{"id":"registry.admin","displayNames":{"pt-BR":"A"}}]}`,
		"no pt-BR name":   `{"contexts":[{"id":"a","displayNames":{"en":"A"}}]}`,
		"bad pattern":     `{"contexts":[{"id":"a","displayNames":{"pt-BR":"A"},"parameters":[{"name":"p","pattern":"("}]}]}`,
		"duplicate param": `{"contexts":[{"id":"a","displayNames":{"pt-BR":"A"},"parameters":[{"name":"p"},{"name":"p"}]}]}`,
		"not json":        `contexts:`,
	}
	for name, in := range cases {
		if _, err := ParseCatalog([]byte(in)); err == nil {
			t.Errorf("%s: ParseCatalog accepted %s", name, in)
		}
	}
}

func FuzzParseCatalog(f *testing.F) {
	f.Add(defaultCatalogJSON)
	f.Add([]byte(`{"contexts":[{"id":"a","displayNames":{"pt-BR":"A"},"parameters":[{"name":"p","pattern":"x+"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(data)
		if err != nil {
			return
		}
		for _, ctx := range c.Contexts() {
			if got, ok := c.Lookup(ctx.ID); !ok || got.ID != ctx.ID {
				t.Fatalf("lookup of %q failed", ctx.ID)
			}
		}
	})
}

func acme() Tenant {
	return Tenant{ID: "acme", DisplayName: "Acme", Contexts: []string{"commercial", "foccohub", "inventory", "telegram"}}
}

func TestTokenValidate(t *testing.T) {
	catalog := DefaultCatalog()
	base := func() Token {
		return Token{DisplayName: "Equipe financeiro", Tenant: "acme", Contexts: []string{"inventory", "commercial"}}
	}
	cases := []struct {
		name      string
		edit      func(*Token)
		wantField string // "" = valid
	}{
		{"valid custom", func(*Token) {}, ""},
		{"valid general", func(t *Token) { t.Contexts = nil; t.GeneralAccess = true }, ""},
		{"general with registry.admin", func(t *Token) { t.Contexts = []string{ScopeRegistryAdmin}; t.GeneralAccess = true }, ""},
		{"admin only", func(t *Token) { t.Contexts = []string{ScopeRegistryAdmin} }, ""},
		{"future expiry", func(t *Token) { t.ExpireTime = now.Add(time.Hour) }, ""},
		{"missing display name", func(t *Token) { t.DisplayName = "  " }, "displayName"},
		{"long display name", func(t *Token) { t.DisplayName = strings.Repeat("x", MaxDisplayNameLen+1) }, "displayName"},
		{"long description", func(t *Token) { t.Description = strings.Repeat("x", MaxDescriptionLen+1) }, "description"},
		{"expiry in the past", func(t *Token) { t.ExpireTime = now.Add(-time.Second) }, "expireTime"},
		{"expiry now", func(t *Token) { t.ExpireTime = now }, "expireTime"},
		{"unknown context", func(t *Token) { t.Contexts = []string{"nope"} }, "contexts"},
		{"not entitled", func(t *Token) { t.Contexts = []string{"labels"} }, "contexts"},
		{"general and custom", func(t *Token) { t.GeneralAccess = true }, "generalAccess"},
		{"neither", func(t *Token) { t.Contexts = nil }, "contexts"},
		{"other tenant", func(t *Token) { t.Tenant = "globex" }, "tenant"},
		{"marketplace missing", func(t *Token) { t.Contexts = []string{"foccohub"} }, "parameters.foccohub.marketplace"},
		{"marketplace not in list", func(t *Token) {
			t.Contexts = []string{"foccohub"}
			t.Parameters = Parameters{"foccohub": {"marketplace": "ebay"}}
		}, "parameters.foccohub.marketplace"},
		{"marketplace ok", func(t *Token) {
			t.Contexts = []string{"foccohub"}
			t.Parameters = Parameters{"foccohub": {"marketplace": "mercado-livre"}}
		}, ""},
		{"malformed bot token", func(t *Token) {
			t.Contexts = []string{"telegram"}
			t.Parameters = Parameters{"telegram": {"botToken": "not-a-token"}}
		}, "parameters.telegram.botToken"},
		{"bot token ok", func(t *Token) {
			t.Contexts = []string{"telegram"}
			t.Parameters = Parameters{"telegram": {"botToken": botToken}}
		}, ""},
		{"parameter of unreached context", func(t *Token) {
			t.Parameters = Parameters{"telegram": {"botToken": botToken}}
		}, "parameters.telegram"},
		{"unknown parameter", func(t *Token) {
			t.Parameters = Parameters{"inventory": {"x": "y"}}
		}, "parameters.inventory.x"},
		{"parameter of unknown context", func(t *Token) {
			t.Parameters = Parameters{"nope": {"x": "y"}}
		}, "parameters.nope"},
		{"general access reaches parameters", func(t *Token) {
			t.Contexts, t.GeneralAccess = nil, true
			t.Parameters = Parameters{"telegram": {"botToken": botToken}}
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := base()
			tc.edit(&tok)
			err := tok.Validate(acme(), catalog, now)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Code != Invalid || e.Field != tc.wantField {
				t.Fatalf("Validate = %#v, want Invalid on field %q", err, tc.wantField)
			}
			if strings.Contains(err.Error(), botToken) {
				t.Fatalf("error echoes the secret: %v", err)
			}
		})
	}
}

func TestMalformedBotTokenErrorHidesValue(t *testing.T) {
	tok := Token{DisplayName: "x", Tenant: "acme", Contexts: []string{"telegram"},
		Parameters: Parameters{"telegram": {"botToken": "123:secret-ish-but-malformed"}}}
	err := tok.Validate(acme(), DefaultCatalog(), now)
	if err == nil || strings.Contains(err.Error(), "secret-ish") {
		t.Fatalf("Validate = %v; want an error that does not echo the value", err)
	}
}

func TestTokenState(t *testing.T) {
	cases := []struct {
		tok  Token
		want State
	}{
		{Token{}, StateActive},
		{Token{ExpireTime: now.Add(time.Second)}, StateActive},
		{Token{ExpireTime: now}, StateExpired},
		{Token{ExpireTime: now.Add(-time.Hour)}, StateExpired},
		{Token{RevokeTime: now.Add(-time.Hour)}, StateRevoked},
		{Token{RevokeTime: now.Add(-time.Hour), ExpireTime: now.Add(-time.Hour)}, StateRevoked},
	}
	for i, tc := range cases {
		if got := tc.tok.State(now); got != tc.want {
			t.Errorf("case %d: State = %v, want %v", i, got, tc.want)
		}
	}
}

func TestScopes(t *testing.T) {
	tenant := acme()
	general := Token{GeneralAccess: true, Contexts: []string{ScopeRegistryAdmin}}
	if got, want := general.Scopes(tenant), []string{"commercial", "foccohub", "inventory", ScopeRegistryAdmin, "telegram"}; !slices.Equal(got, want) {
		t.Errorf("general Scopes = %v, want %v", got, want)
	}
	// Entitlement withdrawn later: custom access shrinks with it.
	custom := Token{Contexts: []string{"inventory", "labels"}}
	if got := custom.Scopes(tenant); !slices.Equal(got, []string{"inventory"}) {
		t.Errorf("custom Scopes = %v, want [inventory]", got)
	}
	// General access never implies a reserved scope.
	if slices.Contains((Token{GeneralAccess: true}).Scopes(tenant), ScopeRegistryAdmin) {
		t.Error("general access implied registry.admin")
	}
}

func TestNarrowScopes(t *testing.T) {
	granted := []string{"commercial", "inventory"}
	cases := []struct {
		req  string
		want []string
		ok   bool
	}{
		{"", granted, true},
		{"   ", granted, true},
		{"inventory", []string{"inventory"}, true},
		{"inventory commercial inventory", granted, true},
		{"labels", nil, false},
		{"inventory labels", nil, false},
		{"registry.admin", nil, false},
	}
	for _, tc := range cases {
		got, ok := NarrowScopes(granted, tc.req)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("NarrowScopes(%q) = %v, %v; want %v, %v", tc.req, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTenantValidate(t *testing.T) {
	catalog := DefaultCatalog()
	cases := []struct {
		tenant    Tenant
		wantField string
	}{
		{Tenant{ID: "acme", DisplayName: "Acme", Contexts: []string{"inventory"}}, ""},
		{Tenant{ID: "", DisplayName: "Acme"}, "id"},
		{Tenant{ID: "Acme", DisplayName: "Acme"}, "id"},
		{Tenant{ID: "-acme", DisplayName: "Acme"}, "id"},
		{Tenant{ID: "acme", DisplayName: ""}, "displayName"},
		{Tenant{ID: "acme", DisplayName: "A", Contexts: []string{"nope"}}, "contexts"},
		{Tenant{ID: "acme", DisplayName: "A", Contexts: []string{ScopeRegistryAdmin}}, "contexts"},
	}
	for _, tc := range cases {
		err := tc.tenant.Validate(catalog)
		if tc.wantField == "" {
			if err != nil {
				t.Errorf("%+v: Validate = %v", tc.tenant, err)
			}
			continue
		}
		if e, ok := err.(*Error); !ok || e.Field != tc.wantField {
			t.Errorf("%+v: Validate = %v, want field %q", tc.tenant, err, tc.wantField)
		}
	}
}

func TestTokenIDIsBoundToItsClient(t *testing.T) {
	const a, b = "chave_ci_0000000000000000000000", "chave_ci_0000000000000000000001"
	seen := map[string]bool{}
	for range 100 {
		id := NewTokenID(a)
		if !ValidTokenID(id) || !TokenIDIssuedTo(id, a) {
			t.Fatalf("NewTokenID(a) = %q: valid %v, issued to a %v", id, ValidTokenID(id), TokenIDIssuedTo(id, a))
		}
		if TokenIDIssuedTo(id, b) {
			t.Fatalf("jti %q of a passes for b", id)
		}
		if seen[id] {
			t.Fatalf("jti %q repeated", id)
		}
		seen[id] = true
	}
	for _, id := range []string{"", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaaaaaaaaaaaaa", NewTokenID(a) + "A", NewTokenID(a)[:25]} {
		if TokenIDIssuedTo(id, a) {
			t.Errorf("TokenIDIssuedTo(%q, a) = true", id)
		}
	}
	// A non-canonical spelling of a good jti (the last character's unused
	// bits set) is refused.
	id := NewTokenID(a)
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", id[len(id)-1])
	alt := id[:len(id)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[last^1])
	if TokenIDIssuedTo(alt, a) {
		t.Errorf("non-canonical spelling %q of %q passes", alt, id)
	}
}
