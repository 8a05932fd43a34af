// Package sqlstoretest holds the tests the SQL storage backends run beyond
// the conformance suite, on what they share through sqlstore: migration
// bookkeeping and the decoding of stored rows. Each backend calls them from
// its own tests with a way to open a store and to reach its database.
package sqlstoretest

import (
	"fmt"
	"io/fs"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// MigrationCount returns how many migrations the backend embeds in
// migrations (its migrations/*.sql), failing t if there are none.
func MigrationCount(t *testing.T, migrations fs.FS) int {
	t.Helper()
	ms, err := sqlstore.LoadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	return len(ms)
}

// ReopenMigratesOnceAndKeepsData opens one database three times, the
// second while the first is still open, and checks that a tenant written
// through the first store survives and that schema_migrations records each
// of migrations once. open opens a store on that database; applied counts
// the rows of schema_migrations through a store.
func ReopenMigratesOnceAndKeepsData[S storage.Store](t *testing.T, open func(*testing.T) S, applied func(*testing.T, S) int, migrations fs.FS) {
	t.Helper()
	ctx := t.Context()
	first := open(t)
	if err := first.CreateTenant(ctx, chave.Tenant{ID: "acme", DisplayName: "Acme"}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	second := open(t) // while the first is still open
	if err := second.Close(); err != nil {
		t.Fatalf("Close second: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close first: %v", err)
	}

	s := open(t)
	defer s.Close()
	tn, err := s.GetTenant(ctx, "acme")
	if err != nil || tn.DisplayName != "Acme" {
		t.Fatalf("GetTenant after reopening: got %+v, %v; want the tenant written before", tn, err)
	}
	if got, want := applied(t, s), MigrationCount(t, migrations); got != want {
		t.Errorf("schema_migrations holds %d rows after three opens, want one per migration (%d)", got, want)
	}
}

// CorruptRowIsAnError stores a token in s, has exec (a statement run on s's
// database) break the JSON of its parameters, and checks that reading the
// token is an Internal error and that updating it fails without calling the
// closure.
func CorruptRowIsAnError(t *testing.T, s storage.Store, exec func(stmt string) error) {
	t.Helper()
	ctx := t.Context()
	tok := chave.Token{ID: "tok", DisplayName: "t", CreateTime: time.Unix(1, 0)}
	if err := s.CreateToken(ctx, tok, chave.Event{Action: chave.ActionCreate}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if err := exec(`UPDATE tokens SET parameters = '{not json'`); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetToken(ctx, "tok")
	if err == nil || !chave.IsCode(err, chave.Internal) {
		t.Errorf("GetToken of a corrupt row: got %v, want an Internal error", err)
	}
	if _, err := s.UpdateToken(ctx, "tok", func(*chave.Token) (chave.Event, error) {
		t.Error("UpdateToken called the closure with a corrupt row")
		return chave.Event{}, nil
	}); err == nil {
		t.Error("UpdateToken of a corrupt row: got no error")
	}
}

// BenchmarkGrantReads measures the read of every client-credentials grant:
// the client's token by id with its tenant (GetClient).
func BenchmarkGrantReads(b *testing.B, s storage.Store) {
	ctx := b.Context()
	if err := s.CreateTenant(ctx, chave.Tenant{ID: "acme", DisplayName: "Acme", Contexts: []string{"prod"}}); err != nil {
		b.Fatal(err)
	}
	tok := chave.Token{ID: "client", Tenant: "acme", DisplayName: "client", Contexts: []string{"prod"},
		Parameters: chave.Parameters{"prod": {"k": "v"}}, SecretHash: []byte("hash"), CreateTime: time.Unix(1, 0)}
	if err := s.CreateToken(ctx, tok, chave.Event{Action: chave.ActionCreate}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.GetClient(ctx, "client"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdvanceRefreshFamily measures the one write of a refresh
// grant, as the refresh load drives it: one caller following its family
// from generation 0 on (c=1), and 16 at a time, each on its own (c=16), with
// the process's CPU time per advance (cpu-ns/op), steadier than the wall
// time on a shared machine.
func BenchmarkAdvanceRefreshFamily(b *testing.B, s storage.Store) {
	ctx := b.Context()
	now := time.Now()
	init := chave.RefreshFamily{ClientID: "client", CreateTime: now, ExpireTime: now.Add(time.Hour)}
	var next atomic.Int64
	chain := func(b *testing.B, more func() bool) {
		id := fmt.Sprintf("family-%d", next.Add(1))
		for gen := int64(0); more(); gen++ {
			if ok, err := s.AdvanceRefreshFamily(ctx, id, init, gen); err != nil || !ok {
				b.Fatalf("AdvanceRefreshFamily(%s, %d) = %v, %v", id, gen, ok, err)
			}
		}
	}
	b.Run("c=1", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		chain(b, b.Loop)
	})
	b.Run("c=16", func(b *testing.B) {
		b.SetParallelism(16 / runtime.GOMAXPROCS(0))
		b.ReportAllocs()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) { chain(b, pb.Next) })
	})
}

// reportCPU makes b report the process's CPU time per operation as
// cpu-ns/op, from now until the function it returns is called.
func reportCPU(b *testing.B) (stop func()) {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// processCPU is the CPU time the process has used, user and system: on a
// machine others share, a steadier figure than the wall time of a
// parallel benchmark.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
