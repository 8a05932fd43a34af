package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

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

// migration is one schema change, named by its file (without ".sql").
type migration struct {
	version string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		data, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		version := strings.TrimSuffix(path.Base(name), ".sql")
		out = append(out, migration{version: version, sql: string(data)})
	}
	return out, nil
}

// migrate applies the pending migrations in one transaction, holding the
// migration lock, recording each in schema_migrations. Running it again
// applies nothing.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Taken before anything else, even CREATE TABLE IF NOT EXISTS, which
		// is not safe against a concurrent identical statement.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    TEXT COLLATE "C" PRIMARY KEY,
			apply_time BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			// Without arguments pgx uses the simple protocol, which runs
			// every statement of the file.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.version, err)
			}
			if _, err := tx.Exec(ctx,
				`INSERT INTO schema_migrations (version, apply_time) VALUES ($1, $2)`,
				m.version, time.Now().UnixMicro()); err != nil {
				return fmt.Errorf("record %s: %w", m.version, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func appliedVersions(ctx context.Context, tx pgx.Tx) (map[string]bool, error) {
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	applied := make(map[string]bool, len(versions))
	for _, v := range versions {
		applied[v] = true
	}
	return applied, nil
}
