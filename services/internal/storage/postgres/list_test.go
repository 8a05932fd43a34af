package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
	"github.com/chave/chave/services/internal/testserver"
)

// seedListTokens writes sqlstoretest.ListTokens(now) in one transaction, in
// one round trip, and gathers the planner's statistics.
func seedListTokens(tb testing.TB, s *sqlstore.Store, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		var batch pgx.Batch
		for _, t := range sqlstoretest.ListTokens(now) {
			args, err := sqlstoretest.SeedTokenArgs(t, now)
			if err != nil {
				return err
			}
			batch.Queue(sqlstoretest.SeedTokenSQL, args...)
		}
		return pgx.BeginFunc(ctx, driverConn.(*stdlib.Conn).Conn(), func(tx pgx.Tx) error {
			return tx.SendBatch(ctx, &batch).Close()
		})
	})
	if err != nil {
		tb.Fatalf("seed: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, `ANALYZE tokens`); err != nil {
		tb.Fatal(err)
	}
}

// TestListPlans: after ANALYZE, every filter shape of the list API reads an
// index that holds its rows in the keyset order, or searches a range of
// one: no sequential scan of tokens, and for a shape with a state no index
// but those of migration 0004.
func TestListPlans(t *testing.T) {
	s := mustOpen(t, testserver.Postgres(t))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	seedListTokens(t, s, now)
	sqlstoretest.CheckListPlans(t, s, now, func(ctx context.Context, shape sqlstoretest.ListShape, stmt string, args []any) []string {
		var raw []byte
		if err := s.DB().QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) `+stmt, args...).Scan(&raw); err != nil {
			return []string{fmt.Sprintf("EXPLAIN: %v", err)}
		}
		var plans []struct{ Plan planNode }
		if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
			return []string{fmt.Sprintf("EXPLAIN answered %s: %v", raw, err)}
		}
		var steps, problems []string
		plans[0].Plan.walk(func(n planNode) {
			if n.Relation != "tokens" && !strings.HasPrefix(n.Index, "tokens") {
				return
			}
			steps = append(steps, n.Type+" "+n.Index)
			switch {
			case n.Type == "Seq Scan":
				problems = append(problems, "reads every row: Seq Scan on tokens")
			case shape.Filter.State != chave.StateUnspecified && n.Index != "" && !stateIndex(n.Index):
				problems = append(problems, "walks rows of every state: "+n.Type+" using "+n.Index)
			}
		})
		t.Logf("%s: %s", shape.Name, strings.Join(steps, "; "))
		return problems
	})
}

// stateIndex reports whether an index is one of migration 0004's.
func stateIndex(name string) bool {
	for _, suffix := range []string{"_live_order", "_expired_order", "_revoked_order", "_state_expiry"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	Type     string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

func BenchmarkListFirstPage(b *testing.B) {
	s, err := Open(b.Context(), testserver.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	seedListTokens(b, s, now)
	sqlstoretest.BenchmarkListFirstPage(b, s, now)
}
