package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// runApart measures client-credentials grants through the services apart
// (chave registry, auth and gateway, three processes) on a PostgreSQL
// cluster and a Redis it starts on loopback, next to the serve rows of the
// same run.
func (b *bench) runApart(ctx context.Context) error {
	redisAddr := freeAddr()
	_, redisPort, _ := splitPort(redisAddr)
	redis, err := b.start("redis", "redis-server", nil, "--port", redisPort, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction")
	if err != nil {
		return err
	}
	pg, postgres, err := b.startPostgres(ctx)
	if err != nil {
		return err
	}
	gatewayAddr, registryAddr, authAddr := freeAddr(), freeAddr(), freeAddr()
	env := append(os.Environ(),
		"CHAVE_DB="+pg, "CHAVE_REDIS=redis://"+redisAddr, "CHAVE_REDIS_REQUIRE_NOEVICTION=true",
		"CHAVE_ISSUER=http://"+gatewayAddr, "CHAVE_LOG_LEVEL=warn", "CHAVE_SHUTDOWN_DRAIN_DELAY=0s",
		"CHAVE_HASH_KEY="+randomKey(), "CHAVE_ENCRYPTION_KEY="+randomKey(), "CHAVE_REFRESH_TOKEN_KEY="+randomKey(),
		"CHAVE_SIGNING_KEYS_FILE="+filepath.Join(b.dir, "signing-keys.json"), "CHAVE_INTERNAL_TOKEN="+randomKey(),
	)
	if n := b.cfg.apartProcs; n > 0 {
		// --apart-gomaxprocs 1 is as deployed: deploy/base limits each
		// service to one CPU, which the Go runtime reads from the cgroup
		// as GOMAXPROCS 1.
		env = append(env, "GOMAXPROCS="+strconv.Itoa(n))
	}
	migrate := exec.CommandContext(ctx, b.cfg.chave, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("chave migrate: %w: %s", err, out)
	}
	service := func(name string, args ...string) (*proc, error) {
		metrics := freeAddr()
		args = append(args, "--metrics-addr", metrics)
		if b.cfg.pprofDir != "" {
			args = append(args, "--pprof")
		}
		p, err := b.start(name, b.cfg.chave, env, args...)
		if err == nil {
			b.profiled(p, metrics)
		}
		return p, err
	}
	registry, err := service("registry", "registry", "--grpc-addr", registryAddr)
	if err != nil {
		return err
	}
	auth, err := service("auth", "auth", "--grpc-addr", authAddr, "--registry", registryAddr)
	if err != nil {
		return err
	}
	gateway, err := service("gateway", "gateway", "--http-addr", gatewayAddr, "--registry", registryAddr, "--auth", authAddr)
	if err != nil {
		return err
	}
	base := "http://" + gatewayAddr
	if err := waitReady(ctx, base, 30*time.Second); err != nil {
		return fmt.Errorf("gateway: %w (logs in %s)", err, gateway.log)
	}
	creds, err := b.setup(ctx, base, pg, env)
	if err != nil {
		return err
	}
	pids := []int{registry.pid(), auth.pid(), gateway.pid()}
	b.aside = []*proc{postgres, redis}
	defer func() { b.aside = nil }()
	for _, n := range b.concurrencies(false) {
		ref := "client credentials, REST"
		var refRate float64
		for _, r := range b.rows {
			if r.path == ref && r.conc == n {
				refRate = r.res.rate()
			}
		}
		r, err := b.load(ctx, "services apart (PostgreSQL + Redis): client credentials, REST", n, pids, ref, refRate,
			grantWorker(b.http, base, creds.grant))
		if err != nil {
			return err
		}
		if p := b.cfg.apartProcs; p > 0 {
			b.rows[len(b.rows)-1].note = fmt.Sprintf("GOMAXPROCS %d each; %s", p, r.note)
		}
	}
	for _, p := range []*proc{gateway, auth, registry} {
		p.terminate()
	}
	return nil
}

func splitPort(addr string) (host, port string, err error) {
	i := len(addr) - 1
	for i >= 0 && addr[i] != ':' {
		i--
	}
	if i < 0 {
		return "", "", fmt.Errorf("%q has no port", addr)
	}
	return addr[:i], addr[i+1:], nil
}

// startPostgres initialises a throw-away cluster and runs it on loopback
// (as the OS user postgres when this process is root: PostgreSQL refuses
// to run as root). It answers the cluster's URL and its postmaster.
func (b *bench) startPostgres(ctx context.Context) (string, *proc, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return "", nil, fmt.Errorf("no /usr/lib/postgresql/*/bin/initdb: install PostgreSQL's server package")
	}
	slices.SortFunc(bins, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	binDir := filepath.Dir(bins[0])
	dir, err := os.MkdirTemp("", "chave-bench-pg-")
	if err != nil {
		return "", nil, err
	}
	b.stop = append(b.stop, func() { os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", nil, fmt.Errorf("running as root needs the OS user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	_, port, _ := splitPort(freeAddr())
	p, err := b.startAs("postgres", filepath.Join(binDir, "postgres"), nil, cred,
		"-D", data, "-p", port, "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200")
	if err != nil {
		return "", nil, err
	}
	url := "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"
	deadline := time.Now().Add(30 * time.Second)
	for {
		check := exec.CommandContext(ctx, filepath.Join(binDir, "pg_isready"), "-h", "127.0.0.1", "-p", port, "-q")
		if check.Run() == nil {
			return url, p, nil
		}
		if time.Now().After(deadline) {
			return "", nil, fmt.Errorf("postgres not ready in 30 s (log %s)", p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pgVersion(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}
