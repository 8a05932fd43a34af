// Package postgres is the PostgreSQL storage backend, built on pgx and its
// connection pool.
//
// Its schema mirrors the SQLite backend's (BIGINT unix-microsecond times,
// JSON text, BYTEA for byte strings, identifiers collated "C" so that they
// sort as Go compares strings); its SQL and row encodings are package
// sqlstore's, shared with the SQLite backend. Transactions run at READ
// COMMITTED; read-modify-write updates lock their row with SELECT … FOR
// UPDATE, so concurrent updates of one row queue up instead of failing. A
// transaction PostgreSQL aborts anyway to resolve a conflict (serialization
// failure, deadlock) is run again, closure included, a bounded number of
// times.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chave/chave/services/internal/redact"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is a storage.Store on a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	retry retryPolicy
}

// Open connects to the database at rawURL (postgres://… or
// postgresql://…) and applies the pending migrations.
//
// The pool holds at most max(4, number of CPUs) connections (pgxpool's
// default) unless the URL sets pool_max_conns; the URL's other pool_*
// parameters (pool_min_conns, pool_max_conn_lifetime, …) apply too.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	where := redact.URL(rawURL)
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, fmt.Errorf("postgres: open %s: want a postgres:// URL", where)
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, classify(err))
	}
	return &Store{pool: pool, retry: defaultRetryPolicy()}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", classify(err))
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use to
// be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction, committing if fn returns nil. When
// PostgreSQL aborts the transaction to resolve a conflict, it runs fn again
// in a new one (see retryPolicy). An error fn returns is returned
// unchanged, with nothing committed.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.retry.do(ctx, func() error { return runTx(ctx, s.pool, fn) })
}

func runTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// exec runs one statement outside an explicit transaction, with the same
// retries as inTx.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := s.retry.do(ctx, func() error {
		var err error
		tag, err = s.pool.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// closureError carries an error returned by a caller's update closure
// through inTx, so that it is neither retried nor classified; the exported
// method returns the error it holds unchanged. It deliberately has no
// Unwrap method.
type closureError struct{ err error }

func (e *closureError) Error() string { return e.err.Error() }

// closureErr returns the error held by a closureError in err's chain.
func closureErr(err error) (error, bool) {
	var ce *closureError
	if errors.As(err, &ce) {
		return ce.err, true
	}
	return nil, false
}

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryOn returns the sqlstore.Query that runs statements on q.
func queryOn(ctx context.Context, q querier) sqlstore.Query {
	return func(stmt string, args []any, read func(sqlstore.Rows) error) error {
		rows, err := q.Query(ctx, stmt, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows)
	}
}

// execOn returns the sqlstore.Exec that runs statements on q, without the
// retries of Store.exec.
func execOn(ctx context.Context, q querier) sqlstore.Exec {
	return func(stmt string, args ...any) error {
		_, err := q.Exec(ctx, stmt, args...)
		return err
	}
}

var _ storage.Store = (*Store)(nil)
