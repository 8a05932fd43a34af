package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/conformance"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	})
}

func TestConformanceInMemory(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store { return mustOpen(t, ":memory:") })
}

func mustOpen(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

func TestReopenMigratesOnceAndKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chave.db")
	sqlstoretest.ReopenMigratesOnceAndKeepsData(t,
		func(t *testing.T) *sqlstore.Store { return mustOpen(t, path) },
		func(t *testing.T, s *sqlstore.Store) int {
			var n int
			if err := s.ReadDB().QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
				t.Fatalf("count schema_migrations: %v", err)
			}
			return n
		}, migrations)
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
		db := s.DB()
		if c.pool == "read" {
			db = s.ReadDB()
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
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	defer s.Close()
	sqlstoretest.CorruptRowIsAnError(t, s, func(stmt string) error {
		_, err := s.DB().ExecContext(t.Context(), stmt)
		return err
	})
}

func BenchmarkGrantReads(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "chave.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sqlstoretest.BenchmarkGrantReads(b, s)
}

func BenchmarkAdvanceRefreshFamily(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "chave.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sqlstoretest.BenchmarkAdvanceRefreshFamily(b, s)
}
