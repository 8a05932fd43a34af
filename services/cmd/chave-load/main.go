// Command chave-load measures how many client-credentials grants a running
// chave issues per second through its whole REST stack: it bootstraps
// nothing itself, but takes a client id and secret and hammers
// POST /oauth2/token (or the TSS endpoint) with keep-alive connections.
//
//	chave-load --url http://127.0.0.1:8080 --client-id ID --client-secret S --duration 10s --concurrency 32
//	chave-load --floor    # the same load against a stdlib-only grant server, for the ratio
//
// chave-load bench (make bench, make bench-quick) starts chave serve and
// the floor itself and measures every hot path side by side: see bench.go
// and docs/performance.md. chave-load seed writes a million credentials
// into a registry's database for its large-registry rows (seed.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chave-load:", err)
		os.Exit(1)
	}
}

type config struct {
	base, clientID, clientSecret, endpoint string
	duration, warmup                       time.Duration
	concurrency                            int
}

func run(args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "bench" {
		return runBench(args[1:], out)
	}
	if len(args) > 0 && args[0] == "seed" {
		return runSeed(args[1:], out)
	}
	var c config
	fs := flag.NewFlagSet("chave-load", flag.ContinueOnError)
	fs.StringVar(&c.base, "url", "http://127.0.0.1:8080", "chave's HTTP address")
	fs.StringVar(&c.clientID, "client-id", "", "client id")
	fs.StringVar(&c.clientSecret, "client-secret", "", "client secret")
	fs.StringVar(&c.endpoint, "endpoint", "oauth2", "oauth2 (POST /oauth2/token) or tss (POST /rest/WSTSSAUTH)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "how long to run before measuring")
	fs.IntVar(&c.concurrency, "concurrency", 32, "requests in flight")
	floor := fs.Bool("floor", false, "measure the stdlib-only floor server (started in this process) instead of --url")
	serveFloor := fs.String("serve-floor", "", "only run the floor server on this address (for a load from another process)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serveFloor != "" {
		return runFloorServer(*serveFloor, "floor-client", "floor-secret")
	}
	if *floor {
		c.clientID, c.clientSecret, c.endpoint = "floor-client", "floor-secret", "floor"
		url, stop, err := floorServer(c.clientID, c.clientSecret)
		if err != nil {
			return err
		}
		defer stop()
		c.base = url
	}
	if c.clientID == "" || c.clientSecret == "" {
		return errors.New("--client-id and --client-secret are required")
	}
	newReq, err := requestFactory(c)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency, MaxConnsPerHost: c.concurrency}}
	if err := once(client, newReq); err != nil {
		return fmt.Errorf("first grant: %w", err)
	}
	if c.warmup > 0 {
		hammer(client, newReq, c.concurrency, c.warmup)
	}
	res := hammer(client, newReq, c.concurrency, c.duration)
	return res.print(out, c)
}

func requestFactory(c config) (func() *http.Request, error) {
	switch c.endpoint {
	case "oauth2", "floor":
		body := url.Values{"grant_type": {"client_credentials"}}.Encode()
		return func() *http.Request {
			r, _ := http.NewRequest("POST", c.base+"/oauth2/token", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
			return r
		}, nil
	case "tss":
		b, _ := json.Marshal(map[string]any{"grantType": 1, "clientId": c.clientID, "clientSecret": c.clientSecret})
		return func() *http.Request {
			r, _ := http.NewRequest("POST", c.base+"/rest/WSTSSAUTH", strings.NewReader(string(b)))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, nil
	}
	return nil, fmt.Errorf("--endpoint %q: want oauth2 or tss", c.endpoint)
}

func once(client *http.Client, newReq func() *http.Request) error {
	resp, err := client.Do(newReq())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

type result struct {
	ok, failed int
	elapsed    time.Duration
	latencies  []time.Duration
}

func hammer(client *http.Client, newReq func() *http.Request, workers int, d time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local result
			for ctx.Err() == nil {
				t := time.Now()
				if err := once(client, newReq); err != nil {
					local.failed++
					continue
				}
				local.ok++
				local.latencies = append(local.latencies, time.Since(t))
			}
			mu.Lock()
			res.ok += local.ok
			res.failed += local.failed
			res.latencies = append(res.latencies, local.latencies...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func (r result) print(out io.Writer, c config) error {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[int(p*float64(len(r.latencies)-1))]
	}
	_, err := fmt.Fprintf(out, "endpoint=%s concurrency=%d duration=%s ok=%d failed=%d rate=%.0f/s p50=%s p99=%s\n",
		c.endpoint, c.concurrency, r.elapsed.Round(time.Millisecond), r.ok, r.failed,
		float64(r.ok)/r.elapsed.Seconds(), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
	if r.failed > 0 {
		return fmt.Errorf("%d requests failed", r.failed)
	}
	return err
}
