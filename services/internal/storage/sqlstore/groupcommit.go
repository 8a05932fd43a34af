package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/chave/chave/services/internal/chave"
)

// Group commit of refresh-family advances (Flavor.GroupCommit).
//
// On a database with one writer (SQLite) the advance of a family is the
// write of every refresh grant, and each caller running its own autocommit
// statement pays for a commit (a WAL append, the write lock taken and
// released) and for the hand-over of the one write connection through
// database/sql's queue of waiting callers. Instead, callers hand their
// advance to one writer goroutine, which takes every advance waiting (up
// to maxGroupCommit) and runs them in one transaction: each advance still
// its own conditional statement with its own answer, in the order taken,
// and every caller answered only after the commit. The writer waits for
// nothing but the connection (and one yield of the processor): an advance
// alone is committed alone, at once.
//
// An advance alone in its batch runs as its own statement, with no
// explicit transaction (as without the group commit). In a batch, a
// statement that fails rolls the transaction back; its caller gets the
// error, and the others of the batch run again in a new transaction, so a
// failure is its caller's only. A failed BEGIN or COMMIT fails every
// caller of the batch (none of their advances was written).
//
// A caller whose context ends while its advance is still queued returns
// the context's error and its advance is never run; once the writer has
// taken it, the caller waits for its answer (one batch, bounded by the
// database's busy timeout), so that an error always means the family was
// not advanced.

// maxGroupCommit bounds the advances of one transaction, and so how long
// the write lock is held at a time.
const maxGroupCommit = 256

// The states of a queued advance.
const (
	advanceQueued int32 = iota
	advanceTaken
	advanceAbandoned
)

var errStoreClosed = errors.New("the store is closed")

// advanceRequest is one caller's advance, queued for the writer.
type advanceRequest struct {
	id   string
	init chave.RefreshFamily // the row to create, for gen 0
	gen  int64

	state atomic.Int32
	done  chan advanceResult // buffered: the writer never waits for the caller
}

type advanceResult struct {
	ok  bool
	err error
}

// groupCommitter owns the writer goroutine. Close stops it after it has
// answered every advance queued.
type groupCommitter struct {
	s   *Store
	ctx context.Context // the writer's statements': no caller's cancels a batch

	mu     sync.RWMutex // held for reading while queueing; Close takes it to refuse more
	closed bool
	queue  chan *advanceRequest
	stop   chan struct{}
	exited chan struct{}
}

// startGroupCommit starts the writer of s. ctx gives its statements their
// values (never its cancellation: Close stops the writer).
func startGroupCommit(ctx context.Context, s *Store) *groupCommitter {
	g := &groupCommitter{
		s:      s,
		ctx:    context.WithoutCancel(ctx),
		queue:  make(chan *advanceRequest, 4*maxGroupCommit),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go g.run()
	return g
}

// close refuses new advances, lets the writer answer those queued, and
// waits for it to exit.
func (g *groupCommitter) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		<-g.exited
		return
	}
	g.closed = true
	g.mu.Unlock()
	close(g.stop)
	<-g.exited
}

// advance queues the advance and waits for its answer.
func (g *groupCommitter) advance(ctx context.Context, id string, init chave.RefreshFamily, gen int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	a := &advanceRequest{id: id, init: init, gen: gen, done: make(chan advanceResult, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false, errStoreClosed
	}
	select {
	case g.queue <- a:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return false, ctx.Err()
	}
	var r advanceResult
	select {
	case r = <-a.done:
	case <-ctx.Done():
		if a.state.CompareAndSwap(advanceQueued, advanceAbandoned) {
			return false, ctx.Err()
		}
		r = <-a.done // taken: its batch is running
	}
	return r.ok, r.err
}

// run is the writer: it takes what is queued, a batch at a time, until
// Close, and then what is left.
func (g *groupCommitter) run() {
	defer close(g.exited)
	batch := make([]*advanceRequest, 0, maxGroupCommit)
	for {
		var a *advanceRequest
		select {
		case a = <-g.queue:
		case <-g.stop:
			select {
			case a = <-g.queue: // nothing is queued after stop: drain
			default:
				return
			}
		}
		batch = append(batch[:0], a)
		// Let the callers the last commit woke queue their next advance
		// before the batch closes: without it, on two cores, the writer
		// takes two or three at a time instead of ten (BenchmarkAdvance-
		// RefreshFamily). An advance alone still goes at once.
		runtime.Gosched()
	fill:
		for len(batch) < maxGroupCommit {
			select {
			case a := <-g.queue:
				batch = append(batch, a)
			default:
				break fill
			}
		}
		g.commit(batch)
		clear(batch) // drop the references until the next batch
	}
}

// commit runs the batch's advances that are still wanted and answers each.
func (g *groupCommitter) commit(batch []*advanceRequest) {
	live := batch[:0]
	for _, a := range batch {
		if a.state.CompareAndSwap(advanceQueued, advanceTaken) {
			live = append(live, a)
		}
	}
	results := make([]advanceResult, len(live))
	for len(live) > 0 {
		failed, err := g.apply(live, results)
		switch {
		case err == nil:
			for i, a := range live {
				a.done <- results[i]
			}
			return
		case failed < 0: // BEGIN or COMMIT: nothing was written
			for _, a := range live {
				a.done <- advanceResult{err: err}
			}
			return
		default:
			live[failed].done <- advanceResult{err: err}
			live = append(live[:failed], live[failed+1:]...)
			results = results[:len(live)]
		}
	}
}

// apply runs the advances in one transaction and commits it, filling
// results. A statement's failure rolls back and returns its index; a
// failed BEGIN or COMMIT returns -1.
func (g *groupCommitter) apply(batch []*advanceRequest, results []advanceResult) (int, error) {
	ctx := g.ctx
	if len(batch) == 1 { // alone: its statement is its transaction
		a := batch[0]
		ok, err := advanceFamilyWith(ctx, g.s.startFamily, g.s.advanceFamily, a.id, a.init, a.gen)
		if err != nil {
			return 0, err
		}
		results[0] = advanceResult{ok: ok}
		return 0, nil
	}
	tx, err := g.s.write.BeginTx(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// The transaction's statements, made when first needed.
	var start, next *sql.Stmt
	for i, a := range batch {
		switch {
		case a.gen == 0 && start == nil:
			start = tx.StmtContext(ctx, g.s.startFamily)
		case a.gen != 0 && next == nil:
			next = tx.StmtContext(ctx, g.s.advanceFamily)
		}
		ok, err := advanceFamilyWith(ctx, start, next, a.id, a.init, a.gen)
		if err != nil {
			return i, err
		}
		results[i] = advanceResult{ok: ok}
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("commit: %w", err)
	}
	return 0, nil
}
