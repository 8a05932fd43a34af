// Package sqlite is the SQLite storage backend, built on the pure-Go driver
// modernc.org/sqlite.
//
// The store keeps two connection pools on the same file: a single-connection
// write pool whose transactions begin IMMEDIATE (so a read-modify-write
// transaction holds the write lock from its first read and never fails with
// SQLITE_BUSY on upgrade), and a read pool for queries, which in WAL mode
// run alongside the writer. The SQL and the row encodings are package
// sqlstore's, shared with the PostgreSQL backend; this package holds the
// connections, transactions, error mapping and schema files.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const driverName = "sqlite"

// busyTimeoutMillis bounds how long a connection waits for a lock held by
// another connection (another process, or the read pool during a
// checkpoint) before failing.
const busyTimeoutMillis = 10000

// Store is a storage.Store on a SQLite database file.
type Store struct {
	write *sql.DB // one connection; transactions begin IMMEDIATE
	read  *sql.DB // queries only; may be write itself (in-memory databases)

	// The reads of every grant, prepared once: compiling the SQL cost more
	// than running it.
	getToken, getTenant *sql.Stmt
}

// Open opens (creating if needed) the database at path and applies the
// pending migrations. The path ":memory:" gives a private in-memory
// database, served by a single connection.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %s: the path must not contain '?' or '#'", path)
	}
	if path != ":memory:" {
		if err := createPrivate(path); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	write, err := sql.Open(driverName, path+"?"+writeParams().Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if path == ":memory:" {
		return newStore(ctx, write, write)
	}
	read, err := sql.Open(driverName, path+"?"+readParams().Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	return newStore(ctx, write, read)
}

// createPrivate creates the database file, if it does not exist, readable
// by its owner only (0600), in a directory it creates 0700: it holds every
// credential's hash and the audit trail. SQLite gives the -wal and -shm
// files it adds the database file's mode.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

func newStore(ctx context.Context, write, read *sql.DB) (*Store, error) {
	s := &Store{write: write, read: read}
	var err error
	if s.getToken, err = read.PrepareContext(ctx, sqlstore.SelectTokenSQL); err == nil {
		s.getTenant, err = read.PrepareContext(ctx, sqlstore.SelectTenantSQL)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return s, nil
}

func writeParams() url.Values {
	return url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMillis)},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"},
	}
}

func readParams() url.Values {
	return url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMillis)},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if s.read != s.write {
		if err := s.read.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlite: ping: %w", err)
		}
	}
	return nil
}

// Close releases both connection pools.
func (s *Store) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.getToken, s.getTenant} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction, committing if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
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
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryOn returns the sqlstore.Query that runs statements on q.
func queryOn(ctx context.Context, q querier) sqlstore.Query {
	return func(stmt string, args []any, read func(sqlstore.Rows) error) error {
		rows, err := q.QueryContext(ctx, stmt, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows)
	}
}

// execOn returns the sqlstore.Exec that runs statements on q.
func execOn(ctx context.Context, q querier) sqlstore.Exec {
	return func(stmt string, args ...any) error {
		_, err := q.ExecContext(ctx, stmt, args...)
		return err
	}
}

var _ storage.Store = (*Store)(nil)
