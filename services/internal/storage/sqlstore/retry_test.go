package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// testAbort stands for a database's conflict abort (SQLSTATE code).
type testAbort struct{ code string }

func (e *testAbort) Error() string { return "abort " + e.code }

const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// isTestAbort is a flavour's Retryable, as Store.retry calls it: never for
// a closureError.
func isTestAbort(err error) bool {
	if _, ok := closureErr(err); ok {
		return false
	}
	var a *testAbort
	return errors.As(err, &a) && (a.code == serializationFailure || a.code == deadlockDetected)
}

func TestRetryPolicy(t *testing.T) {
	fast := RetryPolicy{Attempts: 4, Base: time.Microsecond, Max: 10 * time.Microsecond}
	abort := func(code string) error { return &testAbort{code} }
	boom := errors.New("boom")
	for _, c := range []struct {
		name     string
		errs     []error // returned by successive runs; nil after the list
		wantRuns int
		check    func(t *testing.T, err error)
	}{
		{"success", nil, 1, wantNil},
		{"serialization failure then success",
			[]error{abort(serializationFailure), abort(serializationFailure)}, 3, wantNil},
		{"deadlock then success", []error{abort(deadlockDetected)}, 2, wantNil},
		{"wrapped abort is retried", []error{fmtWrap(abort(deadlockDetected))}, 2, wantNil},
		{"other error is not retried", []error{boom}, 1, wantIs(boom)},
		{"unique violation is not retried", []error{abort("23505")}, 1, wantCode(chave.Internal)},
		{"closure error is not retried", []error{&closureError{abort(serializationFailure)}}, 1,
			func(t *testing.T, err error) {
				if _, ok := closureErr(err); !ok {
					t.Errorf("got %v, want the closureError unchanged", err)
				}
			}},
		{"gives up after the last attempt",
			[]error{abort(serializationFailure), abort(deadlockDetected), abort(serializationFailure), abort(serializationFailure), nil},
			4, func(t *testing.T, err error) {
				wantCode(chave.Unavailable)(t, err)
				var pe *testAbort
				if !errors.As(err, &pe) || pe.code != serializationFailure {
					t.Errorf("got %v, want the last abort as the cause", err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := 0
			err := fast.do(t.Context(), isTestAbort, func() error {
				runs++
				if runs <= len(c.errs) {
					return c.errs[runs-1]
				}
				return nil
			})
			if runs != c.wantRuns {
				t.Errorf("ran %d times, want %d", runs, c.wantRuns)
			}
			c.check(t, err)
		})
	}

	t.Run("context cancelled while waiting", func(t *testing.T) {
		slow := RetryPolicy{Attempts: 3, Base: time.Hour, Max: time.Hour}
		ctx, cancel := context.WithCancel(t.Context())
		runs := 0
		err := slow.do(ctx, isTestAbort, func() error {
			runs++
			cancel()
			return abort(serializationFailure)
		})
		if runs != 1 || !errors.Is(err, context.Canceled) {
			t.Errorf("got %d runs and %v, want 1 run and context.Canceled", runs, err)
		}
	})

	t.Run("backoff grows, is capped and jittered", func(t *testing.T) {
		p := RetryPolicy{Attempts: 10, Base: 10 * time.Millisecond, Max: 80 * time.Millisecond}
		for attempt, ceiling := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 80, 9: 80} {
			ceiling *= time.Millisecond
			for range 100 {
				if d := p.backoff(attempt); d < ceiling/2 || d > ceiling {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, ceiling/2, ceiling)
				}
			}
		}
	})
}

func wantNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("got %v, want no error", err)
	}
}

func wantIs(target error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("got %v, want %v", err, target)
		}
	}
}

func wantCode(code chave.Code) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if got := chave.ErrorCode(err); got != code {
			t.Errorf("got %v with code %q, want code %q", err, got, code)
		}
	}
}

func fmtWrap(err error) error { return fmt.Errorf("commit: %w", err) }
