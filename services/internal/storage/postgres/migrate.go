package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the transaction-level advisory lock that
// serialises migrations: of several replicas starting at once, one applies
// them and the others then find nothing to do. Advisory locks are scoped to
// the database, so other databases on the cluster are unaffected.
const migrationLock int64 = 0x63686176655f6d67 // "chave_mg"

// createSchemaMigrations creates the table sqlstore.Migrate keeps its
// bookkeeping in.
const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    TEXT COLLATE "C" PRIMARY KEY,
	apply_time BIGINT NOT NULL
)`

// migrate applies the pending migrations in one transaction, holding the
// migration lock, recording each in schema_migrations. Running it again
// applies nothing.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := sqlstore.LoadMigrations(migrations)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Taken before anything else, even CREATE TABLE IF NOT EXISTS, which
		// is not safe against a concurrent identical statement.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return sqlstore.Migrate(ms, createSchemaMigrations, execOn(ctx, tx), queryOn(ctx, tx))
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
