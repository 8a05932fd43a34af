package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// schemaOf is every row of sqlite_master but the root pages, sorted: the
// schema as SQLite keeps it, each index's definition as the migration
// wrote it.
func schemaOf(t *testing.T, s *sqlstore.Store) []string {
	t.Helper()
	rows, err := s.DB().QueryContext(t.Context(), `SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, name, tbl, sql string
		if err := rows.Scan(&typ, &name, &tbl, &sql); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{typ, name, tbl, sql}, "\x00"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// checkIntact fails t unless s's schema is want and its file passes
// SQLite's integrity check (every index entry matches its row).
func checkIntact(t *testing.T, s *sqlstore.Store, want []string, when string) {
	t.Helper()
	if got := schemaOf(t, s); !slices.Equal(got, want) {
		t.Errorf("%s: sqlite_master differs from a migrated database's:\ngot  %q\nwant %q", when, got, want)
	}
	var ok string
	if err := s.DB().QueryRowContext(t.Context(), `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("%s: integrity_check = %q, %v", when, ok, err)
	}
}

// TestNewCreateTokensStreamSchemaAsMigrated: the stream drops the
// secondary indexes and builds them again; afterwards, whether it
// succeeded or failed (an error of its source, a repeated id, a
// cancelled context), the schema is exactly a migrated database's and
// the indexes agree with the rows, and the queries that use them find the
// rows.
func TestNewCreateTokensStreamSchemaAsMigrated(t *testing.T) {
	dir := t.TempDir()
	fresh := mustOpen(t, filepath.Join(dir, "fresh.db"))
	t.Cleanup(func() { fresh.Close() })
	want := schemaOf(t, fresh)
	if !slices.ContainsFunc(want, func(r string) bool { return strings.Contains(r, "tokens_secret_hash") }) {
		t.Fatalf("a migrated database has no tokens_secret_hash index: %q", want)
	}
	s := mustOpen(t, filepath.Join(dir, "chave.db"))
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.CreateTenant(ctx, chave.Tenant{ID: "bulk", DisplayName: "Bulk", Contexts: []string{"inventory"}, CreateTime: now}); err != nil {
		t.Fatal(err)
	}
	mk := func(prefix string, i int) sqlstore.NewToken {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		tok := chave.Token{ID: id, Tenant: "bulk", DisplayName: "bulk", Contexts: []string{"inventory"},
			SecretHash: []byte("hash-" + id), SecretHashVersion: 1, CreateTime: now.Add(time.Duration(i) * time.Second), Creator: "seed"}
		return sqlstore.NewToken{Token: tok, Event: chave.Event{Time: tok.CreateTime, Actor: "seed", Action: chave.ActionCreate, Fields: []string{"displayName", "tenant", "contexts"}}}
	}
	batches := func(prefix string, n, size int, fail func(batch int) ([]sqlstore.NewToken, error)) func() ([]sqlstore.NewToken, error) {
		i, b := 0, 0
		return func() ([]sqlstore.NewToken, error) {
			if fail != nil {
				if batch, err := fail(b); batch != nil || err != nil {
					b++
					return batch, err
				}
			}
			b++
			if i >= n {
				return nil, nil
			}
			var batch []sqlstore.NewToken
			for ; i < n && len(batch) < size; i++ {
				batch = append(batch, mk(prefix, i))
			}
			return batch, nil
		}
	}

	n, err := s.CreateTokensStream(ctx, batches("ok", 2500, 1000, nil))
	if err != nil || n != 2500 {
		t.Fatalf("CreateTokensStream = %d, %v; want 2500", n, err)
	}
	checkIntact(t, s, want, "after a stream")
	for _, i := range []int{0, 999, 1000, 2499} {
		want := mk("ok", i).Token
		if got, err := s.GetTokenBySecretHash(ctx, want.SecretHash); err != nil || got.ID != want.ID {
			t.Errorf("GetTokenBySecretHash(%s) = %s, %v", want.ID, got.ID, err)
		}
		if evs, err := s.ListTokenEvents(ctx, want.ID); err != nil || len(evs) != 1 {
			t.Errorf("ListTokenEvents(%s) = %d events, %v; want 1", want.ID, len(evs), err)
		}
	}

	count := func() int {
		var c int
		if err := s.DB().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM tokens) + (SELECT COUNT(*) FROM token_events)`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := count()
	errSource := errors.New("the source failed")
	cancelled, cancel := context.WithCancel(ctx)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		next func() ([]sqlstore.NewToken, error)
		code chave.Code
	}{
		{"an error of the source after two batches", ctx, batches("src", 1500, 500, func(b int) ([]sqlstore.NewToken, error) {
			if b == 2 {
				return nil, errSource
			}
			return nil, nil
		}), ""},
		{"a repeated id in the second batch", ctx, batches("dup", 1500, 500, func(b int) ([]sqlstore.NewToken, error) {
			if b == 1 {
				return []sqlstore.NewToken{mk("dup2", 0), mk("ok", 7)}, nil
			}
			return nil, nil
		}), chave.Conflict},
		{"a context cancelled after the first batch", cancelled, batches("ctx", 3000, 1000, func(b int) ([]sqlstore.NewToken, error) {
			if b == 1 {
				cancel()
			}
			return nil, nil
		}), ""},
		{"a token without a create time", ctx, batches("nt", 600, 500, func(b int) ([]sqlstore.NewToken, error) {
			if b == 1 {
				return []sqlstore.NewToken{{Token: chave.Token{ID: "no-time", Tenant: "bulk", DisplayName: "x"}}}, nil
			}
			return nil, nil
		}), ""},
	} {
		n, err := s.CreateTokensStream(tc.ctx, tc.next)
		if err == nil || n != 0 {
			t.Errorf("%s: CreateTokensStream = %d, %v; want an error", tc.name, n, err)
		}
		if tc.code != "" && !chave.IsCode(err, tc.code) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
		if got := count(); got != before {
			t.Errorf("%s: %d rows of tokens and events, want the %d from before", tc.name, got, before)
		}
		checkIntact(t, s, want, "after "+tc.name)
	}
	cancel()
	if !errors.Is(func() error {
		_, err := s.CreateTokensStream(ctx, batches("src", 10, 5, func(int) ([]sqlstore.NewToken, error) { return nil, errSource }))
		return err
	}(), errSource) {
		t.Error("the source's error is not the stream's")
	}
}
