package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The large registry (issue 13's 1M row): the grant load at the
// headline's concurrency on a registry holding millionTokens credentials
// in one tenant, beside the same load on an empty registry in the same run.
const (
	millionConcurrency = 32
	// millionListRuns is how many times the tenant's first page is read.
	millionListRuns = 50
	// millionSeedTarget is the seeding rate the row is compared to.
	millionSeedTarget = 20_000
)

// millionServe is a chave serve of the large-registry rows.
type millionServe struct {
	p    *proc
	base string
	args []string
}

// startMillionServe starts chave serve on db and waits until it is ready.
func (b *bench) startMillionServe(ctx context.Context, name, db string) (*millionServe, error) {
	httpAddr, grpcAddr, metricsAddr := freeAddr(), freeAddr(), freeAddr()
	args := []string{"serve", "--db", db, "--http-addr", httpAddr, "--grpc-addr", grpcAddr,
		"--metrics-addr", metricsAddr, "--log-level", "warn", "--shutdown-drain-delay", "0s"}
	if b.cfg.pprofDir != "" {
		args = append(args, "--pprof")
	}
	s := &millionServe{base: "http://" + httpAddr, args: args}
	var err error
	if s.p, err = b.start(name, b.cfg.chave, nil, args...); err != nil {
		return nil, err
	}
	b.profiled(s.p, metricsAddr)
	if err := waitReady(ctx, s.base, 60*time.Second); err != nil {
		return nil, fmt.Errorf("%s: %w (log: %s)", name, err, s.p.log)
	}
	return s, nil
}

// restart stops the server and starts it again on its database and
// addresses, returning how long it took to be ready.
func (b *bench) restart(ctx context.Context, s *millionServe, name string) (time.Duration, error) {
	s.p.terminate()
	t := time.Now()
	var err error
	if s.p, err = b.start(name, b.cfg.chave, nil, s.args...); err != nil {
		return 0, err
	}
	if err := waitReady(ctx, s.base, 60*time.Second); err != nil {
		return 0, fmt.Errorf("%s restart: %w (log: %s)", name, err, s.p.log)
	}
	return time.Since(t), nil
}

// runMillion adds the large-registry rows: two fresh serve databases with
// the bench's tenant and credentials, one of which chave-load seed then
// fills with n credentials in that tenant (serve stopped, then started
// again on it: start to ready on the big database); then the grant load of
// a seeded and of a fresh credential on the big registry, each beside the
// same load on the empty one, and the tenant's first page on each.
func (b *bench) runMillion(ctx context.Context, n int) error {
	dir := filepath.Join(b.dir, "million")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if b.cfg.pprofDir != "" {
		if err := os.MkdirAll(b.cfg.pprofDir, 0o755); err != nil {
			return err
		}
	}
	emptyDB := "sqlite://" + filepath.Join(dir, "empty", "chave.db")
	bigDB := "sqlite://" + filepath.Join(dir, "big", "chave.db")
	empty, err := b.startMillionServe(ctx, "serve-empty", emptyDB)
	if err != nil {
		return err
	}
	emptyCreds, err := b.setup(ctx, empty.base, emptyDB, nil)
	if err != nil {
		return fmt.Errorf("empty registry: %w", err)
	}
	big, err := b.startMillionServe(ctx, "serve-big", bigDB)
	if err != nil {
		return err
	}
	bigCreds, err := b.setup(ctx, big.base, bigDB, nil)
	if err != nil {
		return fmt.Errorf("big registry: %w", err)
	}

	// Seeding, with the big registry's serve stopped (as the bench-only
	// path wants: SQLite has one writer).
	big.p.terminate()
	seed := rand.Text()
	res, err := seedRegistry(ctx, seedConfig{db: bigDB, tenant: "bench", tokens: n, batch: seedBatch, seed: seed})
	if err != nil {
		return fmt.Errorf("chave-load seed: %w", err)
	}
	b.rows = append(b.rows, row{path: fmt.Sprintf("registry of %s: seeding (chave-load seed, one tenant)", count(n)),
		nsPerOp: 1e9 / res.TokensPerSecond, cpuMicros: res.CPUMicrosPerToken, ref: "target 20,000/s", refRate: millionSeedTarget,
		note: "req/s = tokens/s; CPU = µs a token, of the seeding process on every core"})
	fmt.Fprintf(os.Stderr, "chave-load bench: seeded %d credentials at %.0f/s\n", n, res.TokensPerSecond)

	var starts []time.Duration
	for range max(b.cfg.readyRuns, 1) {
		d, err := b.restart(ctx, big, "serve-big")
		if err != nil {
			return err
		}
		starts = append(starts, d)
	}
	slices.Sort(starts)
	b.rows = append(b.rows, row{path: fmt.Sprintf("registry of %s: serve start to ready", count(n)), noRequests: true,
		p50: starts[len(starts)/2], p99: starts[len(starts)-1], note: fmt.Sprintf("%d starts; p99 column = slowest", len(starts))})

	const emptyPath = "registry empty: grant"
	seeded := credential{ID: res.Credential.ID, Secret: res.Credential.Secret}
	emptyPids, bigPids := []int{empty.p.pid()}, []int{big.p.pid()}
	// The first grant of each warms nothing the load does not; it checks
	// the credential works before a load of failures is measured.
	for _, c := range []struct {
		base string
		cred credential
	}{{empty.base, emptyCreds.grant}, {big.base, seeded}, {big.base, bigCreds.grant}} {
		if _, err := b.grant(ctx, c.base, c.cred); err != nil {
			return fmt.Errorf("large registry: first grant: %w", err)
		}
	}
	for _, l := range []struct {
		path string
		base string
		pids []int
		cred credential
	}{
		{emptyPath, empty.base, emptyPids, emptyCreds.grant},
		{fmt.Sprintf("registry of %s: grant, a seeded credential", count(n)), big.base, bigPids, seeded},
		{fmt.Sprintf("registry of %s: grant, a fresh credential", count(n)), big.base, bigPids, bigCreds.grant},
	} {
		ref, refRate := "", 0.0
		if l.path != emptyPath {
			ref = emptyPath
			if r, ok := b.rowNamed(emptyPath, millionConcurrency); ok {
				refRate = r.res.rate()
			}
		}
		if _, err := b.load(ctx, l.path, millionConcurrency, l.pids, ref, refRate, grantWorker(b.http, l.base, l.cred)); err != nil {
			return err
		}
	}

	for _, l := range []struct {
		path string
		base string
		op   credential
	}{
		{"registry empty: list, the tenant's first page", empty.base, emptyCreds.operator},
		{fmt.Sprintf("registry of %s: list, the tenant's first page", count(n)), big.base, bigCreds.operator},
	} {
		r, err := b.timeList(ctx, l.base, l.op)
		if err != nil {
			return fmt.Errorf("%s: %w", l.path, err)
		}
		r.path = l.path
		b.rows = append(b.rows, r)
	}
	return nil
}

// timeList reads GET /v1/tokens?tenant=bench (the first page, the default
// size) millionListRuns times, one at a time, as the operator, and returns
// the row of its p50 and p99. Every answer must be a 200 with tokens.
func (b *bench) timeList(ctx context.Context, base string, op credential) (row, error) {
	token, err := b.grant(ctx, base, op)
	if err != nil {
		return row{}, fmt.Errorf("operator grant: %w", err)
	}
	var times []time.Duration
	for i := range millionListRuns + 1 {
		r, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/tokens?tenant=bench", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		t := time.Now()
		body, err := do(b.http, r)
		d := time.Since(t)
		if err != nil {
			return row{}, err
		}
		var page struct {
			Tokens []json.RawMessage `json:"tokens"`
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Tokens) == 0 {
			return row{}, fmt.Errorf("the list answered %q", truncate(body, 200))
		}
		if i > 0 { // the first opens the connection
			times = append(times, d)
		}
	}
	slices.Sort(times)
	return row{noRequests: true, p50: times[len(times)/2], p99: times[len(times)*99/100],
		note: fmt.Sprintf("%d requests one at a time; target < 20 ms", len(times))}, nil
}

// rowNamed is the load row of path at concurrency n.
func (b *bench) rowNamed(path string, n int) (row, bool) {
	for _, r := range b.rows {
		if r.path == path && r.conc == n && r.nsPerOp == 0 && !r.noRequests {
			return r, true
		}
	}
	return row{}, false
}

// count writes n for a row's name: 1M, 20k, 1500.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return bytes.Clone(b)
}
