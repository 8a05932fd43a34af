package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// The group commit of family advances (sqlstore/groupcommit.go), on the
// one database that uses it. The tests hold the one write connection in a
// transaction of their own, so that the writer blocks with a batch taken
// and later advances stay queued, then let it go.

var testFamily = chave.RefreshFamily{ClientID: "c1", CreateTime: time.Unix(1, 0), ExpireTime: time.Now().Add(time.Hour)}

type advanceOutcome struct {
	ok  bool
	err error
}

// goAdvance runs AdvanceRefreshFamily in a goroutine; its outcome arrives
// on the channel.
func goAdvance(ctx context.Context, s *sqlstore.Store, id string, gen int64) <-chan advanceOutcome {
	out := make(chan advanceOutcome, 1)
	go func() {
		ok, err := s.AdvanceRefreshFamily(ctx, id, testFamily, gen)
		out <- advanceOutcome{ok, err}
	}()
	return out
}

// holdWriter takes the write connection (and SQLite's write lock) until
// the returned function is called.
func holdWriter(t *testing.T, s *sqlstore.Store) (release func()) {
	t.Helper()
	tx, err := s.DB().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// waitWriterBlocked waits until n callers have waited for the write
// connection (the writer, with a batch taken, among them).
func waitWriterBlocked(t *testing.T, s *sqlstore.Store, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.DB().Stats().WaitCount < n {
		if time.Now().After(deadline) {
			t.Fatalf("the writer never waited for the write connection (%d waits)", s.DB().Stats().WaitCount)
		}
		time.Sleep(time.Millisecond)
	}
}

func receive(t *testing.T, what string, c <-chan advanceOutcome) advanceOutcome {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer", what)
		return advanceOutcome{}
	}
}

func TestGroupCommitCancelWhileQueued(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	defer s.Close()
	release := holdWriter(t, s)
	x := goAdvance(t.Context(), s, "x", 0)
	waitWriterBlocked(t, s, 1)

	// y queues behind x's batch; its caller gives up while it waits, and
	// is answered at once, without waiting for the write lock.
	ctx, cancel := context.WithCancel(t.Context())
	y := goAdvance(ctx, s, "y", 0)
	time.Sleep(10 * time.Millisecond) // let it queue (it fails the same way if not)
	cancel()
	if o := receive(t, "cancelled advance", y); !errors.Is(o.err, context.Canceled) || o.ok {
		t.Fatalf("an advance cancelled while queued = %v, %v; want context.Canceled", o.ok, o.err)
	}

	release()
	if o := receive(t, "advance of x", x); o.err != nil || !o.ok {
		t.Fatalf("the advance taken before the cancellation = %v, %v; want it to succeed", o.ok, o.err)
	}
	// z queues after y: once it is answered, y's turn has passed.
	if o := receive(t, "advance of z", goAdvance(t.Context(), s, "z", 0)); o.err != nil || !o.ok {
		t.Fatalf("a later advance = %v, %v", o.ok, o.err)
	}
	if f, err := s.GetRefreshFamily(t.Context(), "y"); !chave.IsCode(err, chave.NotFound) {
		t.Fatalf("the cancelled advance was written: %+v, %v", f, err)
	}
}

func TestGroupCommitFailedStatementFailsOnlyItsCaller(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	defer s.Close()
	// The statement that creates family "bad" fails, the transaction open.
	if _, err := s.DB().ExecContext(t.Context(), `CREATE TRIGGER fail_bad BEFORE INSERT ON refresh_families
		WHEN NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'family bad refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	// Family "used" is at generation 1: its advance of generation 0 is a
	// refusal, not a failure.
	if ok, err := s.AdvanceRefreshFamily(t.Context(), "used", testFamily, 0); err != nil || !ok {
		t.Fatal(ok, err)
	}
	release := holdWriter(t, s)
	first := goAdvance(t.Context(), s, "first", 0)
	waitWriterBlocked(t, s, 1)
	// Queued together behind the first batch: they make the next one.
	outcomes := map[string]<-chan advanceOutcome{}
	for _, id := range []string{"g1", "g2", "bad", "g3", "used", "g4"} {
		outcomes[id] = goAdvance(t.Context(), s, id, 0)
	}
	time.Sleep(20 * time.Millisecond) // let them queue (the outcomes are the same if not)
	release()

	if o := receive(t, "first", first); o.err != nil || !o.ok {
		t.Fatalf("first advance = %v, %v", o.ok, o.err)
	}
	for id, c := range outcomes {
		o := receive(t, id, c)
		switch id {
		case "bad":
			if o.err == nil || !strings.Contains(o.err.Error(), "refused by the test") {
				t.Errorf("the failing statement's caller got %v, %v; want its error", o.ok, o.err)
			}
		case "used":
			if o.err != nil || o.ok {
				t.Errorf("generation 0 of a used family = %v, %v; want refused without error", o.ok, o.err)
			}
		default:
			if o.err != nil || !o.ok {
				t.Errorf("advance of %s in the failing batch = %v, %v; want it done", id, o.ok, o.err)
			}
			if f, err := s.GetRefreshFamily(t.Context(), id); err != nil || f.Generation != 1 {
				t.Errorf("family %s after the batch: %+v, %v", id, f, err)
			}
		}
	}
	if _, err := s.GetRefreshFamily(t.Context(), "bad"); !chave.IsCode(err, chave.NotFound) {
		t.Errorf("the failed advance was written: %v", err)
	}
}

func TestGroupCommitCloseAnswersQueuedAndStopsTheWriter(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	// The store's writer shows in a dump of the goroutines (eventually:
	// one just started may not show yet).
	writers := runningWriters()
	for deadline := time.Now().Add(5 * time.Second); writers == 0; writers = runningWriters() {
		if time.Now().After(deadline) {
			t.Fatal("no group-commit writer runs for the open store")
		}
		time.Sleep(time.Millisecond)
	}
	release := holdWriter(t, s)
	first := goAdvance(t.Context(), s, "first", 0)
	waitWriterBlocked(t, s, 1)
	var queued []<-chan advanceOutcome
	for i := range 5 {
		queued = append(queued, goAdvance(t.Context(), s, fmt.Sprintf("q%d", i), 0))
	}
	time.Sleep(10 * time.Millisecond) // let them queue (they succeed the same if not)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(10 * time.Millisecond) // Close waits for the writer, which waits for the connection
	release()

	for i, c := range append(queued, first) {
		if o := receive(t, "queued advance", c); o.err != nil || !o.ok {
			t.Errorf("advance %d queued before Close = %v, %v; want it done", i, o.ok, o.err)
		}
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := s.AdvanceRefreshFamily(t.Context(), "late", testFamily, 0); err == nil {
		t.Error("an advance after Close succeeded")
	}
	// The writer is gone (it may still be returning from its last call).
	deadline := time.Now().Add(5 * time.Second)
	for runningWriters() >= writers {
		if time.Now().After(deadline) {
			t.Fatalf("the group-commit writer outlived Close: %d writers before, %d after", writers, runningWriters())
		}
		time.Sleep(time.Millisecond)
	}
}

// runningWriters counts the group-commit writer goroutines of the
// process: one per open store.
func runningWriters() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			count := 0
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				for _, line := range strings.Split(g, "\n") {
					// A frame of run (or of run-fm, before it has started);
					// not "created by" it (database/sql's goroutine of a Tx).
					if !strings.HasPrefix(line, "created by") && strings.Contains(line, "sqlstore.(*groupCommitter).run") {
						count++
						break
					}
				}
			}
			return count
		}
		buf = make([]byte, 2*len(buf))
	}
}
