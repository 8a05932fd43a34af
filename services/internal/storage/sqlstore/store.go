// Package sqlstore is chave's one SQL storage.Store, over database/sql,
// for SQLite (modernc.org/sqlite) and PostgreSQL (pgx through
// github.com/jackc/pgx/v5/stdlib). What differs between the two databases
// is a small Flavor, which packages sqlite and postgres build, together
// with their connection pools and their migration files, in their Open.
//
// The SQL is written once for both databases: $N placeholders (SQLite reads
// them too), row-value comparisons, RETURNING, ON CONFLICT, BIGINT
// unix-microsecond times, JSON text. A flavour adds only FOR UPDATE, the
// options of a snapshot transaction, its driver's error classification
// (unique violation, conflict abort, lost connection) and its transaction
// policy: on SQLite a single write connection whose transactions begin
// IMMEDIATE, the refresh grants' family advances committed in groups by one
// writer goroutine (groupcommit.go), and a separate read pool; on
// PostgreSQL one pool, READ
// COMMITTED with row locks, and transactions PostgreSQL aborts to resolve a
// conflict run again (retry.go).
//
// Where things go:
//   - a new store method: declared in storage.Store (../storage.go) and
//     checked by the conformance suite (../conformance), then written once
//     here, in the file of its table (tokens.go, tenants.go, grants.go for
//     refresh families and revoked access tokens, events.go,
//     revocations.go, list.go): its statement a constant next to it, run
//     on s.read, through s.exec, or in s.inTx (closure errors wrapped in
//     closureError, every error returned through s.fail);
//   - a new column of tokens: a migration per database, then in tokens.go
//     only: TokenColumns (append it at the end), scanToken and TokenArgs;
//     the INSERT and UPDATE statements are derived from TokenColumns. The
//     same holds for the other tables' files;
//   - a new migration: the next number, NNNN_name.sql, in both
//     ../sqlite/migrations and ../postgres/migrations, each in its dialect;
//     Open applies the pending ones (migrations.go);
//   - a difference between the databases: a field of Flavor, never a
//     branch on the database's name.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// Flavor is what one database does differently.
type Flavor struct {
	// Name prefixes every error: "sqlite", "postgres".
	Name string
	// ForUpdate follows the SELECT of a read-modify-write transaction: " FOR
	// UPDATE" where rows must be locked, "" where the transaction already
	// holds the database's write lock (SQLite's BEGIN IMMEDIATE).
	ForUpdate string
	// SnapshotTx are the options of the read-only transaction in which
	// listRevocations sees one snapshot of the database.
	SnapshotTx sql.TxOptions
	// Retry is how often a transaction the database aborted to resolve a
	// conflict (Retryable) runs again; the zero policy runs it once.
	Retry RetryPolicy

	// UniqueViolation reports whether err is a primary-key or unique
	// constraint failure.
	UniqueViolation func(err error) bool
	// Retryable reports whether err is an abort the database uses to
	// resolve a conflict (serialization failure, deadlock); nil: none is.
	Retryable func(err error) bool
	// Classify gives a driver error a chave code a caller can act on
	// (Unavailable for a lost connection, …), keeping it as the cause, and
	// returns any other error unchanged; nil: every error unchanged.
	Classify func(err error) error

	// Migrations holds the database's migrations/*.sql.
	Migrations fs.FS
	// CreateSchemaMigrations creates the bookkeeping table of applyMigrations.
	CreateSchemaMigrations string
	// LockMigrations, when set, runs first in the migration transaction to
	// keep concurrent migrations apart.
	LockMigrations string
	// GroupCommit runs AdvanceRefreshFamily through one writer goroutine
	// that commits every advance waiting in one transaction
	// (groupcommit.go): for a database with one writer (SQLite), where
	// concurrent advances would otherwise queue for its connection one
	// commit each. Without it each advance is its own statement, for a
	// database whose writers run in parallel (PostgreSQL).
	GroupCommit bool
	// BulkTx, when set, runs first in the transaction of CreateTokensStream (the
	// bench's bulk seeding, bulk.go): settings that speed a long run of
	// inserts (a page cache that holds the indexes on SQLite, where it
	// stays on the write connection).
	BulkTx string
	// BulkRows is how many rows one INSERT of CreateTokensStream writes: 0 or 1,
	// a statement prepared once and run per row (SQLite, which looks each
	// $N placeholder up in a list as it compiles: quadratic in the rows);
	// more spares round trips to a server (PostgreSQL).
	BulkRows int
	// BulkIndexes, when set, lists the secondary indexes of tokens and
	// token_events as rows of (name, definition), the definition the
	// statement that creates the index as the migrations wrote it.
	// CreateTokensStream drops them before its inserts and runs the
	// definitions again after them, in its one transaction: one sorted
	// build of each index instead of an insert into each per row
	// (SQLite). Without it, the stream inserts into the indexes as it
	// goes.
	BulkIndexes string
}

// Store is a storage.Store on a SQL database.
type Store struct {
	flavor Flavor
	write  *sql.DB // writes and read-modify-write transactions
	read   *sql.DB // reads; may be write itself

	// The reads of every grant, prepared once: compiling the SQL cost more
	// than running it.
	getToken, getTenant *sql.Stmt
	// The one read of a client-credentials grant (clients.go).
	getClient *sql.Stmt
	// The one write of a refresh grant, prepared on the write pool.
	startFamily, advanceFamily *sql.Stmt
	// The writer of Flavor.GroupCommit; nil without it.
	group *groupCommitter
}

// Open applies the pending migrations of f through write and returns the
// store on the two pools, which it then owns (closing both on failure).
// read may be write.
func Open(ctx context.Context, f Flavor, write, read *sql.DB) (*Store, error) {
	s := &Store{flavor: f, write: write, read: read}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, s.classify(err)
	}
	var err error
	if s.getToken, err = read.PrepareContext(ctx, selectTokenSQL); err == nil {
		s.getTenant, err = read.PrepareContext(ctx, selectTenantSQL)
	}
	if err == nil {
		s.getClient, err = read.PrepareContext(ctx, selectClientSQL)
	}
	if err == nil {
		s.startFamily, err = write.PrepareContext(ctx, startFamilySQL)
	}
	if err == nil {
		s.advanceFamily, err = write.PrepareContext(ctx, advanceFamilySQL)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare: %w", s.classify(err))
	}
	if f.GroupCommit {
		s.group = startGroupCommit(ctx, s)
	}
	return s, nil
}

// DB returns the pool writes go to; ReadDB the pool reads go to (the same
// on PostgreSQL and for an in-memory SQLite database). For the backends'
// own tests: the Store methods are the API.
func (s *Store) DB() *sql.DB { return s.write }

// ReadDB returns the pool reads go to.
func (s *Store) ReadDB() *sql.DB { return s.read }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return s.fail(err, "ping")
	}
	if s.read != s.write {
		if err := s.read.PingContext(ctx); err != nil {
			return s.fail(err, "ping")
		}
	}
	return nil
}

// Close stops the group-commit writer (once it has answered every advance
// queued; later ones fail), then releases the prepared statements and both
// pools.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.close()
	}
	var errs []error
	for _, st := range []*sql.Stmt{s.getToken, s.getTenant, s.getClient, s.startFamily, s.advanceFamily} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: close: %w", s.flavor.Name, err)
	}
	return nil
}

// InTx runs fn in a write transaction, committing if fn returns nil; see
// inTx. For the backends' own tests: the Store methods are the API.
func (s *Store) InTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.inTx(ctx, fn)
}

// inTx runs fn in a write transaction, committing if fn returns nil. When
// the database aborts the transaction to resolve a conflict, it runs fn
// again in a new one (Flavor.Retry). An error fn wraps in closureError
// (a caller's update closure failing) is neither retried nor classified.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.retry(ctx, func() error {
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after Commit
		if err := fn(tx); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// exec runs one write statement outside an explicit transaction, with the
// retries of inTx.
func (s *Store) exec(ctx context.Context, stmt string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.retry(ctx, func() error {
		var err error
		res, err = s.write.ExecContext(ctx, stmt, args...)
		return err
	})
	return res, err
}

func (s *Store) retry(ctx context.Context, op func() error) error {
	return s.flavor.Retry.do(ctx, func(err error) bool {
		if _, ok := closureErr(err); ok || s.flavor.Retryable == nil {
			return false
		}
		return s.flavor.Retryable(err)
	}, op)
}

// classify gives err the chave code of the flavour's classification.
func (s *Store) classify(err error) error {
	var ce *chave.Error
	if err == nil || s.flavor.Classify == nil || errors.As(err, &ce) {
		return err
	}
	return s.flavor.Classify(err)
}

// fail is the error of a method: its update closure's error unchanged, any
// other classified and prefixed with the database and what failed.
func (s *Store) fail(err error, format string, args ...any) error {
	if err, ok := closureErr(err); ok {
		return err
	}
	return fmt.Errorf("%s: %s: %w", s.flavor.Name, fmt.Sprintf(format, args...), s.classify(err))
}

// notFound maps sql.ErrNoRows to a chave NotFound error naming the
// resource, and returns any other error unchanged.
func notFound(err error, kind, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return NotFound(kind, id)
	}
	return err
}

// conflict maps a unique violation to a chave Conflict error that keeps the
// driver error as its cause, and returns any other error unchanged.
func (s *Store) conflict(err error, kind, id string) error {
	if err != nil && s.flavor.UniqueViolation != nil && s.flavor.UniqueViolation(err) {
		return Conflict(kind, id, err)
	}
	return err
}

// closureError carries an error returned by a caller's update closure
// through inTx, so that it is neither retried nor classified; fail returns
// the error it holds unchanged. It deliberately has no Unwrap method.
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

var _ storage.Store = (*Store)(nil)
