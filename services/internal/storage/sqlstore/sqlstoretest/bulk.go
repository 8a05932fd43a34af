package sqlstoretest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// CreateTokensLikeCreateToken checks the bench's bulk insert on a new
// store: the rows CreateTokensStream writes are the rows CreateToken
// writes (every column of tokens and token_events but the ids), and the
// store then treats them as its own: read, listed in order and by state,
// counted, found by secret hash, revoked, and a failed stream writes
// nothing. Each call streams its tokens in batches of up to 250, so that
// a batch spans PostgreSQL's multi-row statements and leaves a remainder.
func CreateTokensLikeCreateToken(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	createTokensLikeCreateToken(t, s, func(ctx context.Context, tokens []sqlstore.NewToken) error {
		rest := tokens
		n, err := s.CreateTokensStream(ctx, func() ([]sqlstore.NewToken, error) {
			if len(rest) == 0 {
				return nil, nil
			}
			batch := rest[:min(250, len(rest))]
			rest = rest[len(batch):]
			return batch, nil
		})
		if err == nil && n != len(tokens) {
			t.Errorf("CreateTokensStream of %d tokens says %d written", len(tokens), n)
		}
		return err
	})
}

func createTokensLikeCreateToken(t *testing.T, s *sqlstore.Store, create func(context.Context, []sqlstore.NewToken) error) {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.CreateTenant(ctx, chave.Tenant{ID: "bulk", DisplayName: "Bulk", Contexts: []string{"inventory"}, CreateTime: now}); err != nil {
		t.Fatal(err)
	}
	mk := func(id string, i int) sqlstore.NewToken {
		tok := chave.Token{ID: id, Tenant: "bulk", DisplayName: fmt.Sprintf("bulk %d", i), Contexts: []string{"inventory"},
			SecretHash: []byte("hash-" + id), SecretHashVersion: 1, CreateTime: now.Add(time.Duration(i-2000) * time.Second), Creator: "seed"}
		if i%3 == 1 {
			tok.ExpireTime = now.Add(time.Duration(i+1) * time.Hour)
		}
		if i%5 == 4 {
			tok.RevokeTime, tok.Revoker = now.Add(-time.Second), "seed"
		}
		return sqlstore.NewToken{Token: tok, Event: chave.Event{Time: tok.CreateTime, Actor: "seed", Action: chave.ActionCreate, Fields: []string{"displayName", "tenant", "contexts"}}}
	}

	// One token each way, alike but for the id (and the secret hash, made
	// of it here): alike rows.
	one, bulkOne := mk("one", 50), mk("bulk-one", 50)
	if err := s.CreateToken(ctx, one.Token, one.Event); err != nil {
		t.Fatal(err)
	}
	if err := create(ctx, []sqlstore.NewToken{bulkOne}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []struct{ name, query string }{
		{"tokens", `SELECT * FROM tokens WHERE id = $1`},
		{"token_events", `SELECT * FROM token_events WHERE token_id = $1`},
	} {
		a, b := rowOf(t, s, table.query, "one"), rowOf(t, s, table.query, "bulk-one")
		for col := range a {
			if col == "id" || col == "token_id" || col == "secret_hash" {
				continue
			}
			if !reflect.DeepEqual(a[col], b[col]) {
				t.Errorf("%s.%s: CreateToken wrote %v, CreateTokensStream %v", table.name, col, a[col], b[col])
			}
		}
	}

	// A batch of many, in more than one multi-row statement's worth and a
	// remainder.
	const n = 1234
	revokedN := 0
	var batch []sqlstore.NewToken
	for i := range n {
		if i%5 == 4 {
			revokedN++
		}
		batch = append(batch, mk(fmt.Sprintf("bulk-%04d", i), i))
	}
	if err := create(ctx, batch); err != nil {
		t.Fatalf("CreateTokensStream: %v", err)
	}
	for _, i := range []int{0, 4, 7, 99, 100, 1233} {
		want := batch[i].Token
		got, err := s.GetToken(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetToken(%s): %v", want.ID, err)
		}
		if !got.CreateTime.Equal(want.CreateTime) || !got.ExpireTime.Equal(want.ExpireTime) || !got.RevokeTime.Equal(want.RevokeTime) ||
			got.DisplayName != want.DisplayName || string(got.SecretHash) != string(want.SecretHash) {
			t.Errorf("GetToken(%s) = %+v, want %+v", want.ID, got, want)
		}
		evs, err := s.ListTokenEvents(ctx, want.ID)
		if err != nil || len(evs) != 1 || evs[0].Action != chave.ActionCreate || !evs[0].Time.Equal(want.CreateTime) {
			t.Errorf("ListTokenEvents(%s) = %+v, %v; want its create event", want.ID, evs, err)
		}
		if byHash, err := s.GetTokenBySecretHash(ctx, want.SecretHash); err != nil || byHash.ID != want.ID {
			t.Errorf("GetTokenBySecretHash(%s) = %s, %v", want.ID, byHash.ID, err)
		}
	}

	// Listed newest first, and by state (the state column is set as
	// CreateToken sets it).
	all := listAll(t, s, storage.TokenFilter{Tenant: "bulk", Now: now, Limit: 50})
	if len(all) != n+2 {
		t.Fatalf("listed %d tokens of the tenant, want %d", len(all), n+2)
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreateTime.After(all[i-1].CreateTime) {
			t.Fatalf("list out of order at %d: %v after %v", i, all[i].CreateTime, all[i-1].CreateTime)
		}
	}
	revoked := listAll(t, s, storage.TokenFilter{Tenant: "bulk", State: chave.StateRevoked, Now: now, Limit: 50})
	if len(revoked) != revokedN { // one and bulk-one (i = 50) are not
		t.Errorf("listed %d revoked, want %d", len(revoked), revokedN)
	}
	active := listAll(t, s, storage.TokenFilter{Tenant: "bulk", State: chave.StateActive, Now: now, Limit: 50})
	if want := n + 2 - revokedN; len(active) != want {
		t.Errorf("listed %d active, want %d", len(active), want)
	}
	counts, err := s.CountExpiringTokens(ctx, now, now.Add(10*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// i%3 == 1 expire at i+1 hours: i = 1, 4, 7 within 10 hours, 4 revoked.
	if counts["bulk"] != 2 {
		t.Errorf("CountExpiringTokens = %v, want 2 in bulk", counts)
	}

	// Revoked like any other; the revocation set's rebuild sees it.
	if _, err := s.UpdateToken(ctx, "bulk-0000", func(tok *chave.Token) (chave.Event, error) {
		tok.RevokeTime, tok.Revoker = now, "op"
		return chave.Event{Time: now, Actor: "op", Action: chave.ActionRevoke}, nil
	}); err != nil {
		t.Fatalf("UpdateToken(revoke): %v", err)
	}
	revs, err := s.ListRevocations(ctx, now.Add(-time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, c := range revs.Credentials {
		if strings.HasPrefix(c.ID, "bulk-") {
			found++
		}
	}
	if found != revokedN+1 {
		t.Errorf("ListRevocations holds %d bulk credentials, want %d", found, revokedN+1)
	}

	// A batch with an id that exists writes nothing.
	dup := []sqlstore.NewToken{mk("bulk-new-1", 1), mk("bulk-0005", 5), mk("bulk-new-2", 2)}
	for i := range 150 { // past a multi-row statement
		dup = append(dup, mk(fmt.Sprintf("bulk-new-%d", i+3), i))
	}
	if err := create(ctx, dup); !chave.IsCode(err, chave.Conflict) {
		t.Fatalf("CreateTokensStream with an existing id: %v, want Conflict", err)
	}
	if _, err := s.GetToken(ctx, "bulk-new-1"); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("after a failed batch, GetToken(bulk-new-1): %v, want NotFound", err)
	}
	if err := create(ctx, []sqlstore.NewToken{{Token: chave.Token{ID: "no-time", DisplayName: "x"}}}); err == nil {
		t.Error("CreateTokensStream of a token without a create time succeeded")
	}
	if err := create(ctx, nil); err != nil {
		t.Errorf("CreateTokensStream of nothing: %v", err)
	}
}

// rowOf reads the one row of query as column name to value.
func rowOf(t *testing.T, s *sqlstore.Store, query string, args ...any) map[string]any {
	t.Helper()
	rows, err := s.ReadDB().QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("%s %v: no row (%v)", query, args, rows.Err())
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]any, len(cols))
	for i, c := range cols {
		out[c] = vals[i]
	}
	return out
}

// listAll reads every page of f.
func listAll(t *testing.T, s *sqlstore.Store, f storage.TokenFilter) []chave.Token {
	t.Helper()
	var out []chave.Token
	for {
		page, err := s.ListTokens(t.Context(), f)
		if err != nil {
			t.Fatalf("ListTokens(%+v): %v", f, err)
		}
		out = append(out, page.Tokens...)
		if !page.More {
			return out
		}
		last := page.Tokens[len(page.Tokens)-1]
		f.After = &storage.Cursor{CreateTime: last.CreateTime, ID: last.ID}
	}
}
