package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/chave/chave/services/internal/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// createSchemaMigrations creates the table sqlstore.Migrate keeps its
// bookkeeping in.
const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    TEXT PRIMARY KEY,
	apply_time BIGINT NOT NULL
)`

// migrate applies the pending migrations in one transaction, recording each
// in schema_migrations. Running it again applies nothing. db is the write
// pool, whose transactions begin IMMEDIATE: holding SQLite's single write
// lock from the start, a migration runs alone.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := sqlstore.LoadMigrations(migrations)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := sqlstore.Migrate(ms, createSchemaMigrations, execOn(ctx, tx), queryOn(ctx, tx)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
