package conformance

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// workers is how many goroutines each concurrency test runs at once.
const workers = 20

// together runs fn(0..n-1) in n goroutines released at the same moment and
// waits for them all.
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// incrementCounter is an update that increments the integer kept in the
// token's description and adds marker to its contexts.
func incrementCounter(marker string, evTime time.Time) func(*chave.Token) (chave.Event, error) {
	return func(tok *chave.Token) (chave.Event, error) {
		n, err := strconv.Atoi(tok.Description)
		if err != nil {
			return chave.Event{}, fmt.Errorf("counter %q: %w", tok.Description, err)
		}
		tok.Description = strconv.Itoa(n + 1)
		tok.Contexts = append(tok.Contexts, marker)
		return chave.Event{Time: evTime, Actor: marker, Action: chave.ActionUpdate, Fields: []string{"description"}}, nil
	}
}

func counterToken(id string) chave.Token {
	tok := minimalToken(id, "acme", at(0))
	tok.Description = "0"
	return tok
}

func markers(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// checkCounter fails unless the token's counter is n and its contexts hold
// each of want exactly once.
func checkCounter(t *testing.T, tok chave.Token, n int, want []string) {
	t.Helper()
	if tok.Description != strconv.Itoa(n) {
		t.Errorf("token %q: counter is %q after %d concurrent increments, want %d (updates lost)", tok.ID, tok.Description, n, n)
	}
	got := slices.Sorted(slices.Values(tok.Contexts))
	if !slices.Equal(got, want) {
		t.Errorf("token %q: markers %v, want each of %v once", tok.ID, got, want)
	}
}

func runConcurrency(t *testing.T, open opener) {
	t.Run("UpdateTokenLosesNoUpdate", func(t *testing.T) {
		s := open(t)
		tok := counterToken("tok-counter")
		mustCreateToken(t, s, tok)
		names := markers("m", workers)
		together(workers, func(i int) {
			if _, err := s.UpdateToken(t.Context(), tok.ID, incrementCounter(names[i], at(time.Hour))); err != nil {
				t.Errorf("worker %d: UpdateToken: %v", i, err)
			}
		})
		checkCounter(t, mustGetToken(t, s, tok.ID), workers, names)
		if n := len(mustEvents(t, s, tok.ID)); n != workers+1 {
			t.Errorf("ListTokenEvents: got %d events, want %d (creation and %d updates)", n, workers+1, workers)
		}
	})

	t.Run("CreateTokenSameIDOnceOnly", func(t *testing.T) {
		s := open(t)
		var won, winner atomic.Int32
		together(workers, func(i int) {
			tok := minimalToken("tok-race", "acme", at(0))
			tok.DisplayName = fmt.Sprintf("creator %d", i)
			err := s.CreateToken(t.Context(), tok, createEvent(tok))
			switch {
			case err == nil:
				won.Add(1)
				winner.Store(int32(i))
			case !chave.IsCode(err, chave.Conflict):
				t.Errorf("worker %d: CreateToken: got error %q with code %q, want nil or %q",
					i, err, chave.ErrorCode(err), chave.Conflict)
			}
		})
		if n := won.Load(); n != 1 {
			t.Fatalf("%d of %d concurrent CreateToken calls with the same id succeeded, want exactly 1", n, workers)
		}
		if got, want := mustGetToken(t, s, "tok-race").DisplayName, fmt.Sprintf("creator %d", winner.Load()); got != want {
			t.Errorf("GetToken: display name %q, want the winner's %q", got, want)
		}
		if n := len(mustEvents(t, s, "tok-race")); n != 1 {
			t.Errorf("ListTokenEvents: got %d events, want 1", n)
		}
	})

	t.Run("CreateTenantSameIDOnceOnly", func(t *testing.T) {
		s := open(t)
		var won atomic.Int32
		together(workers, func(i int) {
			err := s.CreateTenant(t.Context(), chave.Tenant{ID: "acme", DisplayName: fmt.Sprint(i)})
			switch {
			case err == nil:
				won.Add(1)
			case !chave.IsCode(err, chave.Conflict):
				t.Errorf("worker %d: CreateTenant: got error %q with code %q, want nil or %q",
					i, err, chave.ErrorCode(err), chave.Conflict)
			}
		})
		if n := won.Load(); n != 1 {
			t.Fatalf("%d of %d concurrent CreateTenant calls with the same id succeeded, want exactly 1", n, workers)
		}
	})

	t.Run("UpdateTenantLosesNoUpdate", func(t *testing.T) {
		s := open(t)
		mustCreateTenant(t, s, chave.Tenant{ID: "acme", DisplayName: "acme"})
		names := markers("ctx-", workers)
		together(workers, func(i int) {
			_, err := s.UpdateTenant(t.Context(), "acme", func(tn *chave.Tenant) error {
				tn.Contexts = append(tn.Contexts, names[i])
				return nil
			})
			if err != nil {
				t.Errorf("worker %d: UpdateTenant: %v", i, err)
			}
		})
		tn, err := s.GetTenant(t.Context(), "acme")
		if err != nil {
			t.Fatalf("GetTenant: %v", err)
		}
		if got := slices.Sorted(slices.Values(tn.Contexts)); !slices.Equal(got, names) {
			t.Errorf("tenant contexts %v after concurrent updates, want each of %v once", got, names)
		}
	})

	t.Run("UpdateAndTouchTogether", testUpdateAndTouch(open))
	t.Run("WritersOnDistinctTokens", testDistinctWriters(open))
	t.Run("ReadsDuringWrites", testReadsDuringWrites(open))
}

func testUpdateAndTouch(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		tok := counterToken("tok-busy")
		mustCreateToken(t, s, tok)
		half := workers / 2
		names := markers("m", half)
		together(workers, func(i int) {
			if i < half {
				if _, err := s.UpdateToken(t.Context(), tok.ID, incrementCounter(names[i], at(time.Hour))); err != nil {
					t.Errorf("worker %d: UpdateToken: %v", i, err)
				}
				return
			}
			// Touch times in an order unrelated to the goroutines' ids.
			touch := at(time.Duration((i*7)%half+1) * time.Minute)
			if err := s.TouchToken(t.Context(), tok.ID, touch); err != nil {
				t.Errorf("worker %d: TouchToken: %v", i, err)
			}
		})
		got := mustGetToken(t, s, tok.ID)
		checkCounter(t, got, half, names)
		if want := at(time.Duration(half) * time.Minute); !got.LastUseTime.Equal(want) {
			t.Errorf("LastUseTime %v after concurrent touches, want the latest %v", got.LastUseTime, want)
		}
		if n := len(mustEvents(t, s, tok.ID)); n != half+1 {
			t.Errorf("ListTokenEvents: got %d events, want %d (creation and %d updates, no touches)", n, half+1, half)
		}
	}
}

func testDistinctWriters(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		together(workers, func(i int) {
			tok := counterToken(fmt.Sprintf("tok-%02d", i))
			if err := s.CreateToken(t.Context(), tok, createEvent(tok)); err != nil {
				t.Errorf("worker %d: CreateToken: %v", i, err)
				return
			}
			if _, err := s.UpdateToken(t.Context(), tok.ID, incrementCounter("m", at(time.Hour))); err != nil {
				t.Errorf("worker %d: UpdateToken: %v", i, err)
			}
			if err := s.TouchToken(t.Context(), tok.ID, at(time.Hour)); err != nil {
				t.Errorf("worker %d: TouchToken: %v", i, err)
			}
		})
		page, err := s.ListTokens(t.Context(), storage.TokenFilter{Now: listNow, Limit: 100})
		if err != nil {
			t.Fatalf("ListTokens: %v", err)
		}
		if len(page.Tokens) != workers {
			t.Fatalf("ListTokens: got %d tokens, want %d", len(page.Tokens), workers)
		}
		for _, tok := range page.Tokens {
			checkCounter(t, tok, 1, []string{"m"})
		}
	}
}

// testReadsDuringWrites checks that readers never fail and never see a
// token's counter go backwards while writers update it.
func testReadsDuringWrites(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		tok := counterToken("tok-read")
		mustCreateToken(t, s, tok)
		const readers, writers = 4, 10
		names := markers("w", writers)
		var writing sync.WaitGroup
		writing.Add(writers)
		together(readers+writers, func(i int) {
			if i < writers {
				defer writing.Done()
				if _, err := s.UpdateToken(t.Context(), tok.ID, incrementCounter(names[i], at(time.Hour))); err != nil {
					t.Errorf("writer %d: UpdateToken: %v", i, err)
				}
				return
			}
			done := make(chan struct{})
			go func() { writing.Wait(); close(done) }()
			readUntil(t, s, tok.ID, done)
		})
		checkCounter(t, mustGetToken(t, s, tok.ID), writers, names)
	}
}

// readUntil reads the token until done is closed, or a bounded number of
// times so that readers do not starve the writers of CPU.
func readUntil(t *testing.T, s storage.Store, id string, done <-chan struct{}) {
	last := -1
	for range 50 {
		select {
		case <-done:
			return
		default:
		}
		tok, err := s.GetToken(t.Context(), id)
		if err != nil {
			t.Errorf("reader: GetToken: %v", err)
			return
		}
		n, err := strconv.Atoi(tok.Description)
		if err != nil || n < last {
			t.Errorf("reader: counter %q after having seen %d", tok.Description, last)
			return
		}
		last = n
		if _, err := s.ListTokenEvents(t.Context(), id); err != nil {
			t.Errorf("reader: ListTokenEvents: %v", err)
			return
		}
		if _, err := s.ListTokens(t.Context(), storage.TokenFilter{Now: listNow, Limit: 10}); err != nil {
			t.Errorf("reader: ListTokens: %v", err)
			return
		}
	}
}
