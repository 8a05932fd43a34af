package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// op is one request of a load: it fails on a transport error and on any
// status but the one the path answers on success, so a run of refusals can
// never pass for a fast one.
type op func(ctx context.Context) error

// newWorker prepares one worker's state (a refresh chain, say) and returns
// the request it repeats.
type newWorker func(ctx context.Context) (op, error)

// loadResult is what one load measured on the client's side.
type loadResult struct {
	ok, failed int
	firstErr   error
	elapsed    time.Duration
	latencies  []time.Duration
}

func (r *loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// pct is the p-quantile of the successful requests' latencies (sorted).
func (r *loadResult) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

// runLoad runs workers concurrent workers for warmup, then for d, and
// returns what the measured part saw.
func runLoad(ctx context.Context, workers int, warmup, d time.Duration, nw newWorker) (loadResult, error) {
	ops := make([]op, workers)
	for i := range ops {
		o, err := nw(ctx)
		if err != nil {
			return loadResult{}, fmt.Errorf("preparing worker %d: %w", i, err)
		}
		ops[i] = o
	}
	if warmup > 0 {
		hammerOps(ctx, ops, warmup)
	}
	res := hammerOps(ctx, ops, d)
	slices.Sort(res.latencies)
	return res, nil
}

// hammerOps runs each op in its own goroutine, again and again, for d.
// The requests themselves carry no deadline: the last one of each worker
// finishes normally and counts, so the end of the run is never mistaken
// for a failure.
func hammerOps(ctx context.Context, ops []op, d time.Duration) loadResult {
	var stop atomic.Bool
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	for _, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local loadResult
			local.latencies = make([]time.Duration, 0, 4096)
			for !stop.Load() && ctx.Err() == nil {
				t := time.Now()
				if err := o(ctx); err != nil {
					local.failed++
					if local.firstErr == nil {
						local.firstErr = err
					}
					continue
				}
				local.ok++
				local.latencies = append(local.latencies, time.Since(t))
			}
			mu.Lock()
			res.ok += local.ok
			res.failed += local.failed
			if res.firstErr == nil {
				res.firstErr = local.firstErr
			}
			res.latencies = append(res.latencies, local.latencies...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// do sends r and reads the whole answer, failing unless its status is 200.
func do(client *http.Client, r *http.Request) ([]byte, error) {
	resp, err := client.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		if len(body) > 200 {
			body = body[:200]
		}
		return nil, fmt.Errorf("%s %s: %s: %s", r.Method, r.URL.Path, resp.Status, body)
	}
	return body, nil
}
