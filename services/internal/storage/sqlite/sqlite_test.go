package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	})
}

func TestConformanceInMemory(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store { return mustOpen(t, ":memory:") })
}

func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

func TestReopenMigratesOnceAndKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "chave.db")
	first := mustOpen(t, path)
	if err := first.CreateTenant(ctx, chave.Tenant{ID: "acme", DisplayName: "Acme"}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	second := mustOpen(t, path) // while the first is still open
	if err := second.Close(); err != nil {
		t.Fatalf("Close second: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close first: %v", err)
	}

	s := mustOpen(t, path)
	defer s.Close()
	tn, err := s.GetTenant(ctx, "acme")
	if err != nil || tn.DisplayName != "Acme" {
		t.Fatalf("GetTenant after reopening: got %+v, %v; want the tenant written before", tn, err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	if n != len(ms) || n == 0 {
		t.Errorf("schema_migrations holds %d rows after three opens, want one per migration (%d)", n, len(ms))
	}
}

func TestPragmas(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	defer s.Close()
	for _, c := range []struct {
		pool         string
		pragma, want string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "10000"},
		{"write", "synchronous", "1"}, // NORMAL
		{"read", "journal_mode", "wal"},
		{"read", "busy_timeout", "10000"},
		{"read", "query_only", "1"},
	} {
		db := s.write
		if c.pool == "read" {
			db = s.read
		}
		var got string
		if err := db.QueryRowContext(context.Background(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("%s pool: PRAGMA %s: %v", c.pool, c.pragma, err)
		}
		if got != c.want {
			t.Errorf("%s pool: PRAGMA %s = %q, want %q", c.pool, c.pragma, got, c.want)
		}
	}
}

func TestCorruptRowIsAnError(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	defer s.Close()
	tok := chave.Token{ID: "tok", DisplayName: "t", CreateTime: time.Unix(1, 0)}
	if err := s.CreateToken(ctx, tok, chave.Event{Action: chave.ActionCreate}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if _, err := s.write.ExecContext(ctx, `UPDATE tokens SET parameters = '{not json'`); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetToken(ctx, "tok")
	if err == nil || !chave.IsCode(err, chave.Internal) {
		t.Errorf("GetToken of a corrupt row: got %v, want an Internal error", err)
	}
	if _, err := s.UpdateToken(ctx, "tok", func(*chave.Token) (chave.Event, error) {
		t.Error("UpdateToken called the closure with a corrupt row")
		return chave.Event{}, nil
	}); err == nil {
		t.Error("UpdateToken of a corrupt row: got no error")
	}
}
