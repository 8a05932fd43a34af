package postgres

import (
	"context"
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
	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store {
		return mustOpen(t, testserver.Postgres(t))
	})
}

func mustOpen(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func countMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	return n
}

func TestReopenMigratesOnceAndKeepsData(t *testing.T) {
	url := testserver.Postgres(t)
	sqlstoretest.ReopenMigratesOnceAndKeepsData(t,
		func(t *testing.T) *Store { return mustOpen(t, url) }, countMigrations, migrations)
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := testserver.Postgres(t)
	const replicas = 8
	stores := make([]*Store, replicas)
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
		_, err := s.pool.Exec(t.Context(), stmt)
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
		return s.inTx(ctx, func(tx pgx.Tx) error {
			runs.Add(1)
			if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '20ms'`); err != nil {
				return err
			}
			if _, err := getToken(ctx, tx, first, true); err != nil {
				return err
			}
			once.Do(func() { bothLocked.Done(); bothLocked.Wait() }) // only on the first run
			_, err := getToken(ctx, tx, second, true)
			return err
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

func TestRetryPolicy(t *testing.T) {
	fast := retryPolicy{attempts: 4, base: time.Microsecond, max: 10 * time.Microsecond}
	abort := func(code string) error {
		return &pgconn.PgError{Code: code, Message: "conflict"}
	}
	boom := errors.New("boom")
	for _, c := range []struct {
		name     string
		errs     []error // returned by successive runs; nil after the list
		wantRuns int
		check    func(t *testing.T, err error)
	}{
		{"success", nil, 1, wantNil},
		{"serialization failure then success",
			[]error{abort(serializationFailure), abort(serializationFailure)}, 3, wantNil},
		{"deadlock then success", []error{abort(deadlockDetected)}, 2, wantNil},
		{"wrapped abort is retried", []error{fmtWrap(abort(deadlockDetected))}, 2, wantNil},
		{"other error is not retried", []error{boom}, 1, wantIs(boom)},
		{"unique violation is not retried", []error{abort(uniqueViolation)}, 1, wantCode(chave.Internal)},
		{"closure error is not retried", []error{&closureError{abort(serializationFailure)}}, 1,
			func(t *testing.T, err error) {
				if _, ok := closureErr(err); !ok {
					t.Errorf("got %v, want the closureError unchanged", err)
				}
			}},
		{"gives up after the last attempt",
			[]error{abort(serializationFailure), abort(deadlockDetected), abort(serializationFailure), abort(serializationFailure), nil},
			4, func(t *testing.T, err error) {
				wantCode(chave.Unavailable)(t, err)
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != serializationFailure {
					t.Errorf("got %v, want the last abort as the cause", err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := 0
			err := fast.do(t.Context(), func() error {
				runs++
				if runs <= len(c.errs) {
					return c.errs[runs-1]
				}
				return nil
			})
			if runs != c.wantRuns {
				t.Errorf("ran %d times, want %d", runs, c.wantRuns)
			}
			c.check(t, err)
		})
	}

	t.Run("context cancelled while waiting", func(t *testing.T) {
		slow := retryPolicy{attempts: 3, base: time.Hour, max: time.Hour}
		ctx, cancel := context.WithCancel(t.Context())
		runs := 0
		err := slow.do(ctx, func() error {
			runs++
			cancel()
			return abort(serializationFailure)
		})
		if runs != 1 || !errors.Is(err, context.Canceled) {
			t.Errorf("got %d runs and %v, want 1 run and context.Canceled", runs, err)
		}
	})

	t.Run("backoff grows, is capped and jittered", func(t *testing.T) {
		p := retryPolicy{attempts: 10, base: 10 * time.Millisecond, max: 80 * time.Millisecond}
		for attempt, ceiling := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 80, 9: 80} {
			ceiling *= time.Millisecond
			for range 100 {
				if d := p.backoff(attempt); d < ceiling/2 || d > ceiling {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, ceiling/2, ceiling)
				}
			}
		}
	})
}

func wantNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("got %v, want no error", err)
	}
}

func wantIs(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("got %v, want %v", err, target)
		}
	}
}

func wantCode(code chave.Code) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if got := chave.ErrorCode(err); got != code {
			t.Errorf("got %v with code %q, want code %q", err, got, code)
		}
	}
}

func fmtWrap(err error) error { return fmt.Errorf("commit: %w", err) }

func BenchmarkGrantReads(b *testing.B) {
	s, err := Open(b.Context(), testserver.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sqlstoretest.BenchmarkGrantReads(b, s)
}
