package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
)

// benchConfig configures `chave-load bench`.
type benchConfig struct {
	chave            string // the chave binary
	quick            bool   // c=16 only, short runs, no services apart
	duration, warmup time.Duration
	apart            bool   // also the services apart on PostgreSQL + Redis
	only             string // "apart": only the services apart and the serve grant rows they compare with
	apartProcs       int    // GOMAXPROCS of each service apart; 0: the Go runtime's choice
	readyRuns        int
	markdown         string // also write the table here
	pprofDir         string // CPU profiles of serve, one per load, here
	rounds           int    // the loads and Go benchmarks this many times; the table shows medians
	million          bool   // also the large-registry rows (million.go)
	millionTokens    int    // the large registry's size
	millionOnly      bool   // only the large-registry rows
}

// runBench is `chave-load bench`: it starts chave serve (SQLite, in-process
// revocation set) and the stdlib floor in their own processes, drives each
// hot path at several concurrencies with every response's status checked,
// runs the services/verify benchmarks in this process, and prints one
// table. It fails when any request failed.
func runBench(args []string, out io.Writer) error {
	var c benchConfig
	fs := flag.NewFlagSet("chave-load bench", flag.ContinueOnError)
	fs.StringVar(&c.chave, "chave", "bin/chave", "the chave binary")
	fs.BoolVar(&c.quick, "quick", false, "concurrency 16 only, short runs, no services apart (CI)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long each load is measured")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "how long each load runs before it is measured")
	fs.BoolVar(&c.apart, "apart", false, "also measure the services apart (registry, auth, gateway) on PostgreSQL and Redis it starts")
	fs.StringVar(&c.only, "only", "", "apart: only the services apart and the serve grant rows they are compared with (implies --apart)")
	fs.IntVar(&c.apartProcs, "apart-gomaxprocs", 0, "GOMAXPROCS of each service apart (1: as deploy/base's CPU limit of 1 makes it, Go reading the cgroup's limit); 0: the Go runtime's choice (the machine's cores)")
	fs.IntVar(&c.rounds, "rounds", 1, "drive every path this many times and show, for each row, the round with the median ratio (on a busy machine)")
	fs.IntVar(&c.readyRuns, "ready-runs", 5, "how many times serve is restarted to time start to ready")
	fs.StringVar(&c.markdown, "markdown", "", "also write the table to this file")
	fs.StringVar(&c.pprofDir, "pprof", "", "run serve with --pprof and keep a CPU profile of each of its loads in this directory")
	fs.BoolVar(&c.million, "million", false, "also measure a registry of --million-tokens credentials in one tenant (seeded with chave-load seed) beside an empty one")
	fs.IntVar(&c.millionTokens, "million-tokens", 1_000_000, "the size of the --million registry")
	fs.BoolVar(&c.millionOnly, "million-only", false, "measure only the --million rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.apartProcs < 0 {
		return fmt.Errorf("--apart-gomaxprocs %d: want 0 or more", c.apartProcs)
	}
	if c.millionOnly {
		c.million = true
	}
	if c.million && c.millionTokens < 1 {
		return fmt.Errorf("--million-tokens %d: want at least 1", c.millionTokens)
	}
	if c.rounds < 1 {
		return fmt.Errorf("--rounds %d: want at least 1", c.rounds)
	}
	switch c.only {
	case "":
	case "apart":
		c.apart = true
	default:
		return fmt.Errorf("--only %q: want apart", c.only)
	}
	if c.quick {
		c.apart = c.only == "apart"
		c.readyRuns = min(c.readyRuns, 2)
	}
	ctx := context.Background()
	b := &bench{cfg: c, out: out}
	defer b.cleanup()
	if err := b.run(ctx); err != nil {
		b.print()
		return err
	}
	return b.print()
}

type bench struct {
	cfg  benchConfig
	out  io.Writer
	dir  string
	rows []row
	stop []func()

	floor, serve *proc
	http         *http.Client
	// names maps a process the bench started to its name.
	names map[int]string
	// aside are processes (and their children) whose CPU a load's row
	// notes but does not count as the server's: PostgreSQL and Redis.
	aside []*proc
	// pprof maps a server process to its /debug/pprof/profile and a name
	// for its profiles, when profiling.
	pprof map[int]pprofTarget
}

// row is one line of the table.
type row struct {
	path string
	conc int
	res  loadResult
	// cpu is the server processes' CPU time during the measured part.
	cpu time.Duration
	rss int64
	// ref is the row this one is compared to (same concurrency), or a
	// fixed reference.
	ref     string
	refRate float64
	// Set instead of res for a Go benchmark or a timing.
	nsPerOp    float64
	cpuMicros  float64 // an nsPerOp row's CPU column when set (else ns/op in µs)
	p50, p99   time.Duration
	note       string
	noRequests bool
}

func (b *bench) cleanup() {
	for i := len(b.stop) - 1; i >= 0; i-- {
		b.stop[i]()
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

func (b *bench) concurrencies(headline bool) []int {
	switch {
	case b.cfg.quick:
		return []int{16}
	case headline:
		return []int{1, 16, 32, 64}
	}
	return []int{1, 16, 64}
}

func (b *bench) run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "chave-bench-")
	if err != nil {
		return err
	}
	b.dir = dir
	b.http = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}
	if b.cfg.millionOnly {
		return b.runMillion(ctx, b.cfg.millionTokens)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	floorAddr := freeAddr()
	b.floor, err = b.start("floor", self, nil, "--serve-floor", floorAddr)
	if err != nil {
		return err
	}
	floorURL := "http://" + floorAddr
	if err := waitHTTP(ctx, floorURL+"/", 10*time.Second, func(int) bool { return true }); err != nil {
		return fmt.Errorf("floor: %w", err)
	}

	db := "sqlite://" + filepath.Join(dir, "chave.db")
	httpAddr, grpcAddr, metricsAddr := freeAddr(), freeAddr(), freeAddr()
	serveArgs := []string{"serve", "--db", db, "--http-addr", httpAddr, "--grpc-addr", grpcAddr,
		"--metrics-addr", metricsAddr, "--log-level", "warn", "--shutdown-drain-delay", "0s"}
	if c := b.cfg.pprofDir; c != "" {
		if err := os.MkdirAll(c, 0o755); err != nil {
			return err
		}
		serveArgs = append(serveArgs, "--pprof")
	}
	b.serve, err = b.start("serve", b.cfg.chave, nil, serveArgs...)
	if err != nil {
		return err
	}
	b.profiled(b.serve, metricsAddr)
	base := "http://" + httpAddr
	if err := waitReady(ctx, base, 20*time.Second); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	creds, err := b.setup(ctx, base, db, nil)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	authClient := authv1.NewAuthServiceClient(conn)

	floorCred := credential{ID: "floor-client", Secret: "floor-secret"}
	floorToken, err := b.grant(ctx, floorURL, floorCred)
	if err != nil {
		return fmt.Errorf("floor grant: %w", err)
	}
	token, err := b.grant(ctx, base, creds.grant)
	if err != nil {
		return err
	}
	floorPids, servePids := []int{b.floor.pid()}, []int{b.serve.pid()}

	var rounds [][]row
	for range b.cfg.rounds {
		b.rows = nil
		if b.cfg.only == "apart" {
			if err := b.serveGrants(ctx, base, creds, servePids); err != nil {
				return err
			}
			rounds = append(rounds, b.rows)
			continue
		}
		if err := b.round(ctx, floorURL, base, floorCred, floorToken, token, creds, authClient, floorPids, servePids); err != nil {
			return err
		}
		rounds = append(rounds, b.rows)
	}
	b.rows = medianRows(rounds)
	if b.cfg.apart {
		if err := b.runApart(ctx); err != nil {
			return fmt.Errorf("services apart: %w", err)
		}
	}
	if b.cfg.only != "" {
		return nil
	}
	// Start to ready on the database the loads filled.
	b.serve.terminate()
	if err := b.startToReady(ctx, serveArgs, base); err != nil {
		return err
	}
	if b.cfg.million {
		return b.runMillion(ctx, b.cfg.millionTokens)
	}
	return nil
}

// load runs one path at concurrency n against the server processes pids
// and appends its row.
func (b *bench) load(ctx context.Context, path string, n int, pids []int, ref string, refRate float64, nw newWorker) (row, error) {
	w := watchProcs(pids)
	asideRoots := make([]int, len(b.aside))
	asideStart := make([]map[int]time.Duration, len(b.aside))
	for i, p := range b.aside {
		asideRoots[i] = p.pid()
		asideStart[i] = treeCPU(asideRoots[i : i+1])
	}
	busy0, berr0 := machineBusy()
	self0, serr0 := cpuTime(os.Getpid())
	start := time.Now()
	var profiles sync.WaitGroup
	for _, pid := range pids {
		if t, ok := b.pprof[pid]; ok {
			profiles.Add(1)
			go func() {
				defer profiles.Done()
				b.profile(t, path, n)
			}()
		}
	}
	res, err := runLoad(ctx, n, b.cfg.warmup, b.cfg.duration, nw)
	cpu, each, rssPeak, werr := w.stop()
	busy1, berr1 := machineBusy()
	self1, serr1 := cpuTime(os.Getpid())
	wall := time.Since(start)
	asideCPU := make([]time.Duration, len(b.aside))
	var asideSum time.Duration
	for i := range b.aside {
		asideCPU[i] = treeDelta(asideStart[i], treeCPU(asideRoots[i:i+1]))
		asideSum += asideCPU[i]
	}
	profiles.Wait()
	if err != nil {
		return row{}, fmt.Errorf("%s, c=%d: %w", path, n, err)
	}
	if werr != nil {
		return row{}, fmt.Errorf("%s, c=%d: watching the server: %w", path, n, werr)
	}
	// The CPU time covers the warm-up too: count its requests in
	// proportion (the rate is steady after the first second).
	total := time.Since(start)
	scale := func(d time.Duration) time.Duration {
		if res.elapsed > 0 && total > res.elapsed {
			return time.Duration(float64(d) * float64(res.elapsed) / float64(total))
		}
		return d
	}
	r := row{path: path, conc: n, res: res, cpu: scale(cpu), rss: rssPeak, ref: ref, refRate: refRate}
	if len(pids) > 1 && res.ok > 0 {
		// Several processes: the CPU µs per request of each, in the note,
		// and of the databases beside them.
		perReq := func(d time.Duration) float64 {
			return float64(scale(d).Microseconds()) / (res.rate() * res.elapsed.Seconds())
		}
		parts := make([]string, len(pids))
		for i, pid := range pids {
			parts[i] = fmt.Sprintf("%s %.0f", b.names[pid], perReq(each[i]))
		}
		r.note = "CPU µs/req: " + strings.Join(parts, ", ")
		if len(b.aside) > 0 {
			parts = parts[:0]
			for i, p := range b.aside {
				parts = append(parts, fmt.Sprintf("%s %.0f", p.name, perReq(asideCPU[i])))
			}
			r.note += "; not counted: " + strings.Join(parts, ", ")
		}
	}
	if berr0 == nil && berr1 == nil && serr0 == nil && serr1 == nil {
		// Other work on the machine took cores from this load: say how
		// many, so that a rate ratio is not read as the server's.
		if o := othersCores(busy1-busy0, cpu, self1-self0, asideSum, wall); o >= othersNoted {
			if r.note != "" {
				r.note += "; "
			}
			r.note += fmt.Sprintf("other work took %.1f cores", o)
		}
	}
	b.rows = append(b.rows, r)
	fmt.Fprintf(os.Stderr, "chave-load bench: %-40s c=%-3d %8.0f/s failed=%d\n", path, n, res.rate(), res.failed)
	return r, nil
}

// othersNoted is how many cores other work must take, on average over a
// load, for its row to say so.
const othersNoted = 0.25

// print writes the table (and the markdown file) and fails when a request
// failed.
func (b *bench) print() error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "machine: %d cores (%s), %s, %s/%s; each load %s after %s of warm-up; ratio = req/s ÷ the row named, same concurrency, same run; CPU ratio = its server CPU per request ÷ this row's (less moved by other work on the machine)\n\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, b.cfg.duration, b.cfg.warmup)
	fmt.Fprintln(&buf, "| path | c | req/s | p50 | p99 | server CPU µs/req | RSS MiB | ratio | CPU ratio | to | failed |")
	fmt.Fprintln(&buf, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
	failed := 0
	for _, r := range b.rows {
		rate, p50, p99, cpu, rssCell, ratio, cpuRatio, fail := "", "", "", "", "", "", "", ""
		switch {
		case r.nsPerOp > 0:
			rate = fmt.Sprintf("%.0f", 1e9/r.nsPerOp)
			cpu = fmt.Sprintf("%.2f", r.nsPerOp/1e3)
			if r.cpuMicros > 0 {
				cpu = fmt.Sprintf("%.1f", r.cpuMicros)
			}
			if r.refRate > 0 {
				ratio = fmt.Sprintf("%.2f", 1e9/r.nsPerOp/r.refRate)
			}
		case r.noRequests:
			p50, p99 = ms(r.p50), ms(r.p99)
		default:
			rate = fmt.Sprintf("%.0f", r.res.rate())
			p50, p99 = ms(r.res.pct(0.50)), ms(r.res.pct(0.99))
			if r.res.ok > 0 {
				cpu = fmt.Sprintf("%.0f", float64(r.cpu.Microseconds())/(r.res.rate()*r.res.elapsed.Seconds()))
			}
			rssCell = fmt.Sprintf("%.1f", float64(r.rss)/(1<<20))
			if r.refRate > 0 {
				ratio = fmt.Sprintf("%.2f", r.res.rate()/r.refRate)
			}
			if ref, ok := b.refRow(r); ok && r.cpuPerRequest() > 0 {
				cpuRatio = fmt.Sprintf("%.2f", ref.cpuPerRequest()/r.cpuPerRequest())
			}
			fail = fmt.Sprint(r.res.failed)
			if r.res.failed > 0 {
				fail += " FAILED"
				failed += r.res.failed
			}
		}
		conc := fmt.Sprint(r.conc)
		if r.conc == 0 {
			conc = ""
		}
		path := r.path
		if r.note != "" {
			path += " (" + r.note + ")"
		}
		fmt.Fprintf(&buf, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", path, conc, rate, p50, p99, cpu, rssCell, ratio, cpuRatio, r.ref, fail)
	}
	b.out.Write(buf.Bytes())
	if b.cfg.markdown != "" {
		if err := os.WriteFile(b.cfg.markdown, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if failed > 0 {
		var first error
		for _, r := range b.rows {
			if r.res.firstErr != nil {
				first = r.res.firstErr
				break
			}
		}
		return fmt.Errorf("%d requests failed; the first: %w", failed, first)
	}
	return nil
}

// cpuPerRequest is the server CPU time one request cost (0: unknown).
func (r row) cpuPerRequest() float64 {
	if r.res.ok == 0 || r.cpu <= 0 {
		return 0
	}
	return float64(r.cpu) / float64(r.res.ok)
}

// refRow is the load row r is compared to: same path as r.ref, same
// concurrency.
func (b *bench) refRow(r row) (row, bool) {
	for _, x := range b.rows {
		if x.path == r.ref && x.conc == r.conc && x.nsPerOp == 0 && !x.noRequests {
			return x, true
		}
	}
	return row{}, false
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimLeft(v, "\t :"))
		}
	}
	return "unknown CPU"
}

// startToReady restarts serve on the database the loads left and times
// each start until /readyz answers 200.
func (b *bench) startToReady(ctx context.Context, args []string, base string) error {
	var times []time.Duration
	for range b.cfg.readyRuns {
		t := time.Now()
		p, err := b.start("serve", b.cfg.chave, nil, args...)
		if err != nil {
			return err
		}
		if err := waitReady(ctx, base, 20*time.Second); err != nil {
			return fmt.Errorf("serve restart: %w", err)
		}
		times = append(times, time.Since(t))
		p.terminate()
	}
	slices.Sort(times)
	b.rows = append(b.rows, row{path: "serve start to ready, existing database", noRequests: true,
		p50: times[len(times)/2], p99: times[len(times)-1], note: fmt.Sprintf("%d starts; p99 column = slowest", len(times))})
	return nil
}

// credentials are the bench's clients on one chave.
type credentials struct {
	operator credential
	grant    credential // issues no refresh token, like the floor
	refresh  credential // issues refresh tokens
}

type credential struct {
	ID     string `json:"clientId"`
	Secret string `json:"clientSecret"`
}

// setup bootstraps an operator on db and creates the tenant and the
// credentials the loads use, through the REST API.
func (b *bench) setup(ctx context.Context, base, db string, env []string) (credentials, error) {
	var cs credentials
	cmd := exec.CommandContext(ctx, b.cfg.chave, "bootstrap", "--db", db)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return cs, fmt.Errorf("chave bootstrap: %w", err)
	}
	if err := json.Unmarshal(outb, &cs.operator); err != nil || cs.operator.ID == "" {
		return cs, fmt.Errorf("chave bootstrap printed %q", outb)
	}
	op, err := b.grant(ctx, base, cs.operator)
	if err != nil {
		return cs, fmt.Errorf("operator grant: %w", err)
	}
	post := func(path string, body any, into any) error {
		j, _ := json.Marshal(body)
		r, _ := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(j))
		r.Header.Set("Authorization", "Bearer "+op)
		r.Header.Set("Content-Type", "application/json")
		resp, err := do(b.http, r)
		if err != nil {
			return err
		}
		if into != nil {
			return json.Unmarshal(resp, into)
		}
		return nil
	}
	if err := post("/v1/tenants", map[string]any{"id": "bench", "displayName": "Bench", "contexts": []string{"inventory"}}, nil); err != nil {
		return cs, err
	}
	if err := post("/v1/tokens", map[string]any{"displayName": "bench grants", "tenant": "bench", "contexts": []string{"inventory"}, "issueRefreshTokens": false}, &cs.grant); err != nil {
		return cs, err
	}
	if err := post("/v1/tokens", map[string]any{"displayName": "bench refresh", "tenant": "bench", "contexts": []string{"inventory"}}, &cs.refresh); err != nil {
		return cs, err
	}
	return cs, nil
}

// tokenResponse is the part of a token endpoint's answer the bench reads.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func grantRequest(ctx context.Context, base string, c credential, form url.Values) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, "POST", base+"/oauth2/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	return r
}

func (b *bench) grant(ctx context.Context, base string, c credential) (string, error) {
	body, err := do(b.http, grantRequest(ctx, base, c, url.Values{"grant_type": {"client_credentials"}}))
	if err != nil {
		return "", err
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("grant answered %q", body)
	}
	return tr.AccessToken, nil
}

func grantWorker(client *http.Client, base string, c credential) newWorker {
	form := url.Values{"grant_type": {"client_credentials"}}
	return func(context.Context) (op, error) {
		return func(ctx context.Context) error {
			_, err := do(client, grantRequest(ctx, base, c, form))
			return err
		}, nil
	}
}

func tssWorker(client *http.Client, base string, c credential) newWorker {
	body, _ := json.Marshal(map[string]any{"grantType": 1, "clientId": c.ID, "clientSecret": c.Secret})
	return func(context.Context) (op, error) {
		return func(ctx context.Context) error {
			r, _ := http.NewRequestWithContext(ctx, "POST", base+"/rest/WSTSSAUTH", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			_, err := do(client, r)
			return err
		}, nil
	}
}

// refreshWorker follows its own refresh chain: each request presents the
// refresh token the previous one returned (rotation, and the server's
// reuse check on every step). A failed step starts a new chain.
func refreshWorker(client *http.Client, base string, c credential) newWorker {
	start := func(ctx context.Context) (string, error) {
		body, err := do(client, grantRequest(ctx, base, c, url.Values{"grant_type": {"client_credentials"}}))
		if err != nil {
			return "", err
		}
		var tr tokenResponse
		if err := json.Unmarshal(body, &tr); err != nil || tr.RefreshToken == "" {
			return "", fmt.Errorf("grant gave no refresh token: %q", body)
		}
		return tr.RefreshToken, nil
	}
	return func(ctx context.Context) (op, error) {
		rt, err := start(ctx)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			body, err := do(client, grantRequest(ctx, base, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}))
			if err == nil {
				var tr tokenResponse
				if jerr := json.Unmarshal(body, &tr); jerr != nil || tr.RefreshToken == "" || tr.AccessToken == "" {
					err = fmt.Errorf("refresh answered %q", body)
				} else {
					rt = tr.RefreshToken
					return nil
				}
			}
			if next, serr := start(context.WithoutCancel(ctx)); serr == nil {
				rt = next
			}
			return err
		}, nil
	}
}

// introspectWorker introspects a live token and fails unless the answer
// says it is active.
func introspectWorker(client *http.Client, base string, c credential, token string) newWorker {
	form := url.Values{"token": {token}}.Encode()
	return func(context.Context) (op, error) {
		return func(ctx context.Context) error {
			r, _ := http.NewRequestWithContext(ctx, "POST", base+"/oauth2/introspect", strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
			body, err := do(client, r)
			if err != nil {
				return err
			}
			if !bytes.Contains(body, []byte(`"active":true`)) {
				return fmt.Errorf("introspection answered %q", body)
			}
			return nil
		}, nil
	}
}

func verifyTokenWorker(client authv1.AuthServiceClient, token string) newWorker {
	return func(context.Context) (op, error) {
		return func(ctx context.Context) error {
			resp, err := client.VerifyToken(ctx, &authv1.VerifyTokenRequest{Token: token})
			if err != nil {
				return err
			}
			if resp.GetTokenId() == "" {
				return errors.New("VerifyToken answered no token id")
			}
			return nil
		}, nil
	}
}

// proc is a server process the bench started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// terminate stops the process with SIGTERM and waits for it (SIGKILL
// after 10 s).
func (p *proc) terminate() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// start runs bin with args in its own process, its output in a log file
// in the bench's directory; env nil means this process's environment.
func (b *bench) start(name, bin string, env []string, args ...string) (*proc, error) {
	return b.startAs(name, bin, env, nil, args...)
}

// startAs is start as the OS user of cred (nil: this process's).
func (b *bench) startAs(name, bin string, env []string, cred *syscall.Credential, args ...string) (*proc, error) {
	logPath := filepath.Join(b.dir, fmt.Sprintf("%s-%d.log", name, len(b.stop)))
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	if b.names == nil {
		b.names = make(map[int]string)
	}
	b.names[p.pid()] = name
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	b.stop = append(b.stop, p.terminate)
	return p, nil
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err) // no loopback: nothing here can work
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(ctx context.Context, base string, d time.Duration) error {
	return waitHTTP(ctx, base+"/readyz", d, func(s int) bool { return s == http.StatusOK })
}

// waitHTTP polls u every 2 ms until ok accepts its status.
func waitHTTP(ctx context.Context, u string, d time.Duration, ok func(int) bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		r, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		resp, err := client.Do(r)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready in %s (last: %v)", u, d, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// randomKey is a base64 32-byte key for the services' CHAVE_*_KEY settings.
func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

type pprofTarget struct{ name, url string }

// profiled registers p's metrics listener for CPU profiles, when profiling.
func (b *bench) profiled(p *proc, metricsAddr string) {
	if b.cfg.pprofDir == "" {
		return
	}
	if b.pprof == nil {
		b.pprof = make(map[int]pprofTarget)
	}
	b.pprof[p.pid()] = pprofTarget{name: p.name, url: "http://" + metricsAddr + "/debug/pprof/profile"}
}

// profile keeps a server's CPU profile of the measured part of one load.
func (b *bench) profile(t pprofTarget, path string, n int) {
	time.Sleep(b.cfg.warmup)
	secs := max(int(b.cfg.duration/time.Second)-1, 1)
	resp, err := http.Get(fmt.Sprintf("%s?seconds=%d", t.url, secs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chave-load bench: profile:", err)
		return
	}
	defer resp.Body.Close()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(path))
	f, err := os.Create(filepath.Join(b.cfg.pprofDir, fmt.Sprintf("%s-c%d-%s.pprof", name, n, t.name)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chave-load bench: profile:", err)
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}

// round drives every path of serve and the floor once, and runs the
// services/verify benchmarks, appending to b.rows.
func (b *bench) round(ctx context.Context, floorURL, base string, floorCred credential, floorToken, token string, creds credentials,
	authClient authv1.AuthServiceClient, floorPids, servePids []int) error {
	// Grants: the floor, then chave's REST and TSS endpoints and the
	// refresh chains, at each concurrency.
	for _, n := range b.concurrencies(true) {
		fl, err := b.load(ctx, "floor: grant", n, floorPids, "", 0, grantWorker(b.http, floorURL, floorCred))
		if err != nil {
			return err
		}
		cc, err := b.load(ctx, "client credentials, REST", n, servePids, "floor: grant", fl.res.rate(), grantWorker(b.http, base, creds.grant))
		if err != nil {
			return err
		}
		if n == 32 {
			continue // the headline's extra point
		}
		if _, err := b.load(ctx, "client credentials, /rest/WSTSSAUTH", n, servePids, "client credentials, REST", cc.res.rate(), tssWorker(b.http, base, creds.grant)); err != nil {
			return err
		}
		if _, err := b.load(ctx, "refresh chain, REST", n, servePids, "floor: grant", fl.res.rate(), refreshWorker(b.http, base, creds.refresh)); err != nil {
			return err
		}
	}
	// Introspection and verification of a live token.
	for _, n := range b.concurrencies(false) {
		fl, err := b.load(ctx, "floor: introspection", n, floorPids, "", 0, introspectWorker(b.http, floorURL, floorCred, floorToken))
		if err != nil {
			return err
		}
		if _, err := b.load(ctx, "introspection, REST", n, servePids, "floor: introspection", fl.res.rate(), introspectWorker(b.http, base, creds.grant, token)); err != nil {
			return err
		}
		if _, err := b.load(ctx, "VerifyToken, gRPC", n, servePids, "floor: introspection", fl.res.rate(), verifyTokenWorker(authClient, token)); err != nil {
			return err
		}
	}
	return b.verifyBenchmarks()
}

// serveGrants drives serve's client-credentials grants alone, at the
// concurrencies of the services apart: the rows `--only apart` compares
// them with.
func (b *bench) serveGrants(ctx context.Context, base string, creds credentials, servePids []int) error {
	for _, n := range b.concurrencies(false) {
		if _, err := b.load(ctx, "client credentials, REST", n, servePids, "", 0, grantWorker(b.http, base, creds.grant)); err != nil {
			return err
		}
	}
	return nil
}

// medianRows merges rounds of the same rows (same order every round): each
// row is the one of the round where its ratio, or its rate when it has no
// reference, is the median, so that a round disturbed by the machine's
// other work neither flatters nor sinks a path. Failures add up over the
// rounds.
func medianRows(rounds [][]row) []row {
	if len(rounds) == 1 {
		return rounds[0]
	}
	out := make([]row, len(rounds[0]))
	for i := range out {
		cands := make([]row, len(rounds))
		failed := 0
		for r := range rounds {
			cands[r] = rounds[r][i]
			failed += rounds[r][i].res.failed
		}
		key := func(x row) float64 {
			rate := x.res.rate()
			if x.nsPerOp > 0 {
				rate = 1e9 / x.nsPerOp
			}
			if x.noRequests {
				return -float64(x.p50)
			}
			if x.refRate > 0 {
				return rate / x.refRate
			}
			return rate
		}
		slices.SortFunc(cands, func(a, b row) int {
			switch ka, kb := key(a), key(b); {
			case ka < kb:
				return -1
			case ka > kb:
				return 1
			}
			return 0
		})
		out[i] = cands[len(cands)/2]
		if failed > out[i].res.failed {
			out[i].note = fmt.Sprintf("%d failed over %d rounds", failed, len(rounds))
			out[i].res.failed = failed
		}
		if out[i].note == "" {
			out[i].note = fmt.Sprintf("median of %d rounds", len(rounds))
		}
	}
	return out
}
