// Package conformance is the backend-agnostic test suite of storage.Store.
// Each backend runs it from a short test:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) storage.Store { ... })
//	}
//
// Beyond what storage.Store documents, the suite fixes these behaviours so
// that every backend agrees on them:
//   - times read back in UTC (Location() == time.UTC), equal to what was
//     written at microsecond precision; a zero time reads back zero;
//   - empty lists, maps and byte strings (nil or not) read back as nil;
//   - an event's TokenID reads back as the id of the token it was written
//     with, whatever the written event said;
//   - UpdateTenant, like UpdateToken, never changes the id or create time;
//   - ListTokens rejects a Limit below 1 and an unknown State with Invalid;
//   - TouchToken with a time not after the last use (the zero time
//     included) changes nothing;
//   - ListRevocations orders each of its lists by id (bytewise, as Go
//     compares strings); a revoked access token or family without an
//     expire time never expires, so it is always listed; a zero since lists
//     every revoked credential.
package conformance

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// Run runs the whole suite. newStore must return a new, empty store each
// time it is called; the suite closes it when the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	open := func(t *testing.T) storage.Store {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping on a new store: %v", err)
		}
	})
	t.Run("Tenants", func(t *testing.T) { runTenants(t, open) })
	t.Run("Tokens", func(t *testing.T) { runTokens(t, open) })
	t.Run("GetClient", func(t *testing.T) { runClients(t, open) })
	t.Run("ListTokens", func(t *testing.T) { runList(t, open) })
	t.Run("Concurrency", func(t *testing.T) { runConcurrency(t, open) })
	t.Run("Grants", func(t *testing.T) { runGrants(t, open) })
	t.Run("Revocations", func(t *testing.T) { runRevocations(t, open) })
	t.Run("Usage", func(t *testing.T) { runUsage(t, open) })
	t.Run("SigningKeys", func(t *testing.T) { runSigningKeys(t, open) })
	t.Run("Versions", func(t *testing.T) { runVersions(t, open) })
}

type opener func(t *testing.T) storage.Store

// t0 is the suite's fixed clock: every time is derived from it.
var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 535897000, time.UTC)

// brt is a non-UTC zone: times written in it must read back in UTC.
var brt = time.FixedZone("BRT", -3*60*60)

func at(d time.Duration) time.Time { return t0.Add(d) }

// fullToken returns a token with every field set to a non-zero value.
func fullToken(id, tenant string, created time.Time) chave.Token {
	return chave.Token{
		ID:            id,
		DisplayName:   "Equipe do financeiro — São Paulo " + id,
		Description:   `Token para consulta da equipe do financeiro ("Descrição")`,
		Tenant:        tenant,
		GeneralAccess: true,
		Contexts:      []string{"commercial", "foccohub", chave.ScopeRegistryAdmin},
		Parameters: chave.Parameters{
			"foccohub": {"marketplace": "mercado-livre"},
			"telegram": {"botToken": "enc:v1:Zm9v\"YmFy\\"},
		},
		SecretHash:         []byte{0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 'h', 0x00},
		SecretHashVersion:  3,
		SecretVersion:      "fingerprint-" + id,
		Operator:           true,
		IssueRefreshTokens: true,
		CreateTime:         created,
		ExpireTime:         created.Add(90 * 24 * time.Hour),
		RevokeTime:         created.Add(48 * time.Hour),
		LastUseTime:        created.Add(time.Hour),
		Creator:            "creator-client",
		Revoker:            "revoker-client",

		PreviousSecretHash:        []byte{0xff, 0x00, 'p', 0x80},
		PreviousSecretExpireTime:  created.Add(36 * time.Hour),
		PreviousSecretHashVersion: 3,
		PreviousSecretVersion:     "previous-fingerprint",
	}
}

// minimalToken returns a token with only the fields a listing needs.
func minimalToken(id, tenant string, created time.Time) chave.Token {
	return chave.Token{ID: id, Tenant: tenant, DisplayName: "token " + id, CreateTime: created}
}

func createEvent(tok chave.Token) chave.Event {
	return chave.Event{
		TokenID: tok.ID,
		Time:    tok.CreateTime,
		Actor:   tok.Creator,
		Action:  chave.ActionCreate,
		Fields:  []string{"displayName", "tenant"},
	}
}

func mustCreateToken(t *testing.T, s storage.Store, tok chave.Token) {
	t.Helper()
	if err := s.CreateToken(t.Context(), tok, createEvent(tok)); err != nil {
		t.Fatalf("CreateToken(%q): %v", tok.ID, err)
	}
}

func mustCreateTenant(t *testing.T, s storage.Store, tn chave.Tenant) {
	t.Helper()
	if err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatalf("CreateTenant(%q): %v", tn.ID, err)
	}
}

func mustGetToken(t *testing.T, s storage.Store, id string) chave.Token {
	t.Helper()
	tok, err := s.GetToken(t.Context(), id)
	if err != nil {
		t.Fatalf("GetToken(%q): %v", id, err)
	}
	return tok
}

func mustEvents(t *testing.T, s storage.Store, id string) []chave.Event {
	t.Helper()
	evs, err := s.ListTokenEvents(t.Context(), id)
	if err != nil {
		t.Fatalf("ListTokenEvents(%q): %v", id, err)
	}
	return evs
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, what string, err error, code chave.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want code %q", what, code)
	}
	if !chave.IsCode(err, code) {
		t.Fatalf("%s: got error %q with code %q, want code %q", what, err, chave.ErrorCode(err), code)
	}
}

// diffTime describes how got differs from want: a zero want needs a zero
// got; otherwise got must be the same instant, in UTC.
func diffTime(field string, want, got time.Time) []string {
	switch {
	case want.IsZero() && !got.IsZero():
		return []string{fmt.Sprintf("%s: got %v, want the zero time", field, got)}
	case want.IsZero():
		return nil
	case !got.Equal(want):
		return []string{fmt.Sprintf("%s: got %v, want %v", field, got, want.UTC())}
	case got.Location() != time.UTC:
		return []string{fmt.Sprintf("%s: got location %q, want UTC", field, got.Location())}
	}
	return nil
}

func diffValue(field string, want, got any) []string {
	if reflect.DeepEqual(want, got) {
		return nil
	}
	return []string{fmt.Sprintf("%s: got %#v, want %#v", field, got, want)}
}

// normStrings, normParams and normBytes give what an empty collection reads
// back as: nil.
func normStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normDetails(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func normParams(p chave.Parameters) chave.Parameters {
	if len(p) == 0 {
		return nil
	}
	return p
}

func diffToken(want, got chave.Token) []string {
	var d []string
	d = append(d, diffValue("ID", want.ID, got.ID)...)
	d = append(d, diffValue("DisplayName", want.DisplayName, got.DisplayName)...)
	d = append(d, diffValue("Description", want.Description, got.Description)...)
	d = append(d, diffValue("Tenant", want.Tenant, got.Tenant)...)
	d = append(d, diffValue("GeneralAccess", want.GeneralAccess, got.GeneralAccess)...)
	d = append(d, diffValue("Contexts", normStrings(want.Contexts), got.Contexts)...)
	d = append(d, diffValue("Parameters", normParams(want.Parameters), got.Parameters)...)
	if !bytes.Equal(want.SecretHash, got.SecretHash) || (len(want.SecretHash) == 0 && got.SecretHash != nil) {
		d = append(d, fmt.Sprintf("SecretHash: got %#v, want %#v", got.SecretHash, want.SecretHash))
	}
	d = append(d, diffValue("SecretHashVersion", want.SecretHashVersion, got.SecretHashVersion)...)
	d = append(d, diffValue("SecretVersion", want.SecretVersion, got.SecretVersion)...)
	if !bytes.Equal(want.PreviousSecretHash, got.PreviousSecretHash) || (len(want.PreviousSecretHash) == 0 && got.PreviousSecretHash != nil) {
		d = append(d, fmt.Sprintf("PreviousSecretHash: got %#v, want %#v", got.PreviousSecretHash, want.PreviousSecretHash))
	}
	d = append(d, diffTime("PreviousSecretExpireTime", want.PreviousSecretExpireTime, got.PreviousSecretExpireTime)...)
	d = append(d, diffValue("PreviousSecretHashVersion", want.PreviousSecretHashVersion, got.PreviousSecretHashVersion)...)
	d = append(d, diffValue("PreviousSecretVersion", want.PreviousSecretVersion, got.PreviousSecretVersion)...)
	d = append(d, diffValue("Operator", want.Operator, got.Operator)...)
	d = append(d, diffValue("IssueRefreshTokens", want.IssueRefreshTokens, got.IssueRefreshTokens)...)
	d = append(d, diffTime("CreateTime", want.CreateTime, got.CreateTime)...)
	d = append(d, diffTime("ExpireTime", want.ExpireTime, got.ExpireTime)...)
	d = append(d, diffTime("RevokeTime", want.RevokeTime, got.RevokeTime)...)
	d = append(d, diffTime("LastUseTime", want.LastUseTime, got.LastUseTime)...)
	d = append(d, diffValue("Creator", want.Creator, got.Creator)...)
	d = append(d, diffValue("Revoker", want.Revoker, got.Revoker)...)
	return d
}

// checkToken reports every field in which got differs from want.
func checkToken(t *testing.T, what string, want, got chave.Token) {
	t.Helper()
	for _, d := range diffToken(want, got) {
		t.Errorf("%s: token %q: %s", what, want.ID, d)
	}
}

func diffTenant(want, got chave.Tenant) []string {
	var d []string
	d = append(d, diffValue("ID", want.ID, got.ID)...)
	d = append(d, diffValue("DisplayName", want.DisplayName, got.DisplayName)...)
	d = append(d, diffValue("Contexts", normStrings(want.Contexts), got.Contexts)...)
	d = append(d, diffTime("CreateTime", want.CreateTime, got.CreateTime)...)
	d = append(d, diffTime("UpdateTime", want.UpdateTime, got.UpdateTime)...)
	d = append(d, diffValue("Policy.MaxTokenLifetime", want.Policy.MaxTokenLifetime, got.Policy.MaxTokenLifetime)...)
	d = append(d, diffValue("Policy.GrantableContexts", normStrings(want.Policy.GrantableContexts), got.Policy.GrantableContexts)...)
	d = append(d, diffValue("Policy.AllowedClientCIDRs", normStrings(want.Policy.AllowedClientCIDRs), got.Policy.AllowedClientCIDRs)...)
	return d
}

func checkTenant(t *testing.T, what string, want, got chave.Tenant) {
	t.Helper()
	for _, d := range diffTenant(want, got) {
		t.Errorf("%s: tenant %q: %s", what, want.ID, d)
	}
}

// checkEvents compares an audit trail with the expected one, whose events
// must all belong to tokenID.
func checkEvents(t *testing.T, what, tokenID string, want, got []chave.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d events %s, want %d %s", what, len(got), actions(got), len(want), actions(want))
		return
	}
	for i := range want {
		var d []string
		d = append(d, diffValue("TokenID", tokenID, got[i].TokenID)...)
		d = append(d, diffTime("Time", want[i].Time, got[i].Time)...)
		d = append(d, diffValue("Actor", want[i].Actor, got[i].Actor)...)
		d = append(d, diffValue("Action", want[i].Action, got[i].Action)...)
		d = append(d, diffValue("Fields", normStrings(want[i].Fields), got[i].Fields)...)
		d = append(d, diffValue("Details", normDetails(want[i].Details), got[i].Details)...)
		for _, line := range d {
			t.Errorf("%s: event %d: %s", what, i, line)
		}
	}
}

func actions(evs []chave.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action + "@" + ev.Time.UTC().Format(time.RFC3339Nano)
	}
	return out
}

func ids(toks []chave.Token) []string {
	out := make([]string, len(toks))
	for i, tok := range toks {
		out[i] = tok.ID
	}
	return out
}
