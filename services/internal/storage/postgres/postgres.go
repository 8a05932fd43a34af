// Package postgres opens the PostgreSQL flavour of the one SQL store
// (package sqlstore), on pgx through database/sql
// (github.com/jackc/pgx/v5/stdlib), and holds its migrations
// (migrations/*.sql).
//
// Its schema mirrors SQLite's (BIGINT unix-microsecond times, JSON text,
// BYTEA for byte strings, identifiers collated "C" so that they sort as Go
// compares strings). Transactions run at READ COMMITTED; read-modify-write
// updates lock their row with SELECT … FOR UPDATE, so concurrent updates of
// one row queue up instead of failing. A transaction PostgreSQL aborts
// anyway to resolve a conflict (serialization failure, deadlock) is run
// again, closure included, a bounded number of times.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/redact"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the transaction-level advisory lock that
// serialises migrations: of several replicas starting at once, one applies
// them and the others then find nothing to do. Advisory locks are scoped to
// the database, so other databases on the cluster are unaffected.
const migrationLock int64 = 0x63686176655f6d67 // "chave_mg"

// flavor is what PostgreSQL does differently.
var flavor = sqlstore.Flavor{
	Name:            "postgres",
	ForUpdate:       ` FOR UPDATE`,
	SnapshotTx:      sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	Retry:           defaultRetryPolicy(),
	UniqueViolation: isUniqueViolation,
	Retryable:       retryable,
	Classify:        classify,
	Migrations:      migrations,
	CreateSchemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    TEXT COLLATE "C" PRIMARY KEY,
	apply_time BIGINT NOT NULL
)`,
	LockMigrations: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLock),
	// The bench's bulk seeding commits without waiting for the WAL flush:
	// a crash loses a batch of seeded rows, never a real write.
	BulkTx: `SET LOCAL synchronous_commit = off`,
	// 100 rows of 22 arguments an INSERT (PostgreSQL takes 65,535): a
	// round trip per hundred rows rather than two per row.
	BulkRows: 100,
}

func defaultRetryPolicy() sqlstore.RetryPolicy {
	return sqlstore.RetryPolicy{Attempts: 5, Base: 5 * time.Millisecond, Max: 250 * time.Millisecond}
}

// Open connects to the database at rawURL (postgres://… or
// postgresql://…) and applies the pending migrations.
//
// The pool holds at most max(4, number of CPUs) connections (pgxpool's
// default) unless the URL sets pool_max_conns; pool_max_conn_lifetime and
// pool_max_conn_idle_time apply too (the URL is parsed as pgxpool parses
// it, and its pool settings given to database/sql's pool).
func Open(ctx context.Context, rawURL string) (*sqlstore.Store, error) {
	where := redact.URL(rawURL)
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, fmt.Errorf("postgres: open %s: want a postgres:// URL", where)
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	db.SetMaxOpenConns(int(cfg.MaxConns))
	db.SetMaxIdleConns(int(cfg.MaxConns))
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	s, err := sqlstore.Open(ctx, flavor, db, db)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	return s, nil
}
