package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
)

// seedListTokens writes sqlstoretest.ListTokens(now) in one transaction.
func seedListTokens(tb testing.TB, s *sqlstore.Store, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	err := s.InTx(ctx, func(tx *sql.Tx) error {
		insert, err := tx.PrepareContext(ctx, sqlstoretest.SeedTokenSQL)
		if err != nil {
			return err
		}
		defer insert.Close()
		for _, t := range sqlstoretest.ListTokens(now) {
			args, err := sqlstoretest.SeedTokenArgs(t, now)
			if err != nil {
				return err
			}
			if _, err := insert.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert %s: %w", t.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("seed: %v", err)
	}
}

// TestListPlans: every filter shape of the list API reads an index that
// holds its rows in the keyset order, or searches a range of one, never
// every row of the table: without statistics (chave never runs ANALYZE on
// SQLite), and with them.
func TestListPlans(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	seedListTokens(t, s, now)
	sqlstoretest.CheckListPlans(t, s, now, explainer(t, s))
	if _, err := s.DB().ExecContext(t.Context(), `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	sqlstoretest.CheckListPlans(t, s, now, explainer(t, s))
}

// explainer returns the plan check of TestListPlans.
func explainer(t *testing.T, s *sqlstore.Store) func(ctx context.Context, shape sqlstoretest.ListShape, stmt string, args []any) []string {
	return func(ctx context.Context, shape sqlstoretest.ListShape, stmt string, args []any) []string {
		rows, err := s.ReadDB().QueryContext(ctx, `EXPLAIN QUERY PLAN `+stmt, args...)
		if err != nil {
			return []string{fmt.Sprintf("EXPLAIN: %v", err)}
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				return []string{fmt.Sprintf("EXPLAIN: %v", err)}
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			return []string{fmt.Sprintf("EXPLAIN: %v", err)}
		}
		t.Logf("%s:\n\t%s", shape.Name, strings.Join(plan, "\n\t"))
		var problems []string
		for _, step := range plan {
			switch {
			case !strings.HasPrefix(step, "SCAN tokens") && !strings.HasPrefix(step, "SEARCH tokens"):
			case !strings.Contains(step, " INDEX "):
				problems = append(problems, "reads every row: "+step)
			case shape.Filter.State != chave.StateUnspecified && !stateIndex(step):
				problems = append(problems, "walks rows of every state: "+step)
			}
		}
		return problems
	}
}

func BenchmarkListFirstPage(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "chave.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	seedListTokens(b, s, now)
	sqlstoretest.BenchmarkListFirstPage(b, s, now)
}

// stateIndex reports whether a plan step reads an index of migration 0004
// as it should: a state's rows in the keyset order, or a range of expiry.
func stateIndex(step string) bool {
	switch {
	case strings.Contains(step, "tokens_tenant_state_order (tenant=? AND state=?"),
		strings.Contains(step, "tokens_state_order (state=?"):
		return true
	case strings.Contains(step, "state_expiry (") && strings.Contains(step, "expire_time"):
		return true
	}
	return false
}
