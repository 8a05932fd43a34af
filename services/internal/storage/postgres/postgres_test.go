package postgres

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/conformance"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store {
		return mustOpen(t, testserver.Postgres(t))
	})
}

func mustOpen(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func countMigrations(t *testing.T, s *sqlstore.Store) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	return n
}

func TestReopenMigratesOnceAndKeepsData(t *testing.T) {
	url := testserver.Postgres(t)
	sqlstoretest.ReopenMigratesOnceAndKeepsData(t,
		func(t *testing.T) *sqlstore.Store { return mustOpen(t, url) }, countMigrations, migrations)
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := testserver.Postgres(t)
	const replicas = 8
	stores := make([]*sqlstore.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	if got, want := countMigrations(t, stores[0]), sqlstoretest.MigrationCount(t, migrations); got != want {
		t.Errorf("schema_migrations holds %d rows after %d concurrent opens, want %d", got, replicas, want)
	}
	if err := stores[replicas-1].CreateTenant(t.Context(), chave.Tenant{ID: "acme"}); err != nil {
		t.Errorf("CreateTenant after concurrent opens: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, c := range []struct {
		name, url string
		code      chave.Code
	}{
		{"not a postgres URL", "sqlite://chave.db", chave.Internal},
		{"nobody listening", "postgres://chave:secret@127.0.0.1:1/chave?connect_timeout=5", chave.Unavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.Context(), c.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): got no error", c.url)
			}
			if got := chave.ErrorCode(err); got != c.code {
				t.Errorf("Open(%q): got error %q with code %q, want %q", c.url, err, got, c.code)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open(%q): the error %q shows the password", c.url, err)
			}
		})
	}
}

func TestCorruptRowIsAnError(t *testing.T) {
	s := mustOpen(t, testserver.Postgres(t))
	defer s.Close()
	sqlstoretest.CorruptRowIsAnError(t, s, func(stmt string) error {
		_, err := s.DB().ExecContext(t.Context(), stmt)
		return err
	})
}

func TestUnstorableTextIsInvalid(t *testing.T) {
	s := mustOpen(t, testserver.Postgres(t))
	defer s.Close()
	for _, name := range []string{"nul\x00byte", "bad utf-8 \xff"} {
		err := s.CreateTenant(t.Context(), chave.Tenant{ID: "acme", DisplayName: name})
		if !chave.IsCode(err, chave.Invalid) {
			t.Errorf("CreateTenant with display name %q: got %v (code %q), want Invalid", name, err, chave.ErrorCode(err))
		}
	}
}

func TestIdentifiersSortBytewise(t *testing.T) {
	s := mustOpen(t, testserver.Postgres(t))
	defer s.Close()
	// Under a linguistic collation "a-b" < "aB" < "ab" < "B"; bytewise,
	// as Go compares strings, "B" < "a-b" < "aB" < "ab".
	for _, id := range []string{"ab", "B", "aB", "a-b"} {
		if err := s.CreateTenant(t.Context(), chave.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListTenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tn := range got {
		ids = append(ids, tn.ID)
	}
	if want := []string{"B", "a-b", "aB", "ab"}; !slices.Equal(ids, want) {
		t.Errorf("ListTenants: ids %q, want %q", ids, want)
	}
}

// TestDeadlockIsRetried provokes a real deadlock between two transactions
// that lock two tokens in opposite orders, and checks that inTx runs the
// one PostgreSQL aborts again, so both succeed.
func TestDeadlockIsRetried(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, testserver.Postgres(t))
	defer s.Close()
	for _, id := range []string{"a", "b"} {
		if err := s.CreateToken(ctx, chave.Token{ID: id, CreateTime: time.Unix(1, 0)}, chave.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	var runs atomic.Int32
	var bothLocked sync.WaitGroup
	bothLocked.Add(2)
	lockInOrder := func(first, second string) error {
		var once sync.Once
		lock := func(tx *sql.Tx, id string) error {
			var got string
			return tx.QueryRowContext(ctx, `SELECT id FROM tokens WHERE id = $1 FOR UPDATE`, id).Scan(&got)
		}
		return s.InTx(ctx, func(tx *sql.Tx) error {
			runs.Add(1)
			if _, err := tx.ExecContext(ctx, `SET LOCAL deadlock_timeout = '20ms'`); err != nil {
				return err
			}
			if err := lock(tx, first); err != nil {
				return err
			}
			once.Do(func() { bothLocked.Done(); bothLocked.Wait() }) // only on the first run
			return lock(tx, second)
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = lockInOrder("a", "b") })
	wg.Go(func() { errs[1] = lockInOrder("b", "a") })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if n := runs.Load(); n != 3 {
		t.Errorf("the transactions ran %d times, want 3 (the deadlock victim twice)", n)
	}
}

// TestRetryable: the flavour retries PostgreSQL's conflict aborts, however
// wrapped, and nothing else. (The retry loop itself is sqlstore's.)
func TestRetryable(t *testing.T) {
	abort := func(code string) error { return &pgconn.PgError{Code: code, Message: "conflict"} }
	for _, c := range []struct {
		err  error
		want bool
	}{
		{abort(serializationFailure), true},
		{abort(deadlockDetected), true},
		{fmt.Errorf("commit: %w", abort(deadlockDetected)), true},
		{abort(uniqueViolation), false},
		{errors.New("boom"), false},
		{nil, false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if p := defaultRetryPolicy(); p.Attempts < 2 || p.Base <= 0 || p.Max < p.Base {
		t.Errorf("defaultRetryPolicy() = %+v, want several attempts and a growing wait", p)
	}
}

func BenchmarkGrantReads(b *testing.B) {
	s, err := Open(b.Context(), testserver.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sqlstoretest.BenchmarkGrantReads(b, s)
}
