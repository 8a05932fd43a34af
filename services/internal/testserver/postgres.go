package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres returns the URL of a new, empty database on this test binary's
// PostgreSQL cluster, and drops the database when t ends.
//
// The first call starts the cluster (initdb into a directory under
// os.TempDir(), then postgres on a free 127.0.0.1 port with fsync off);
// later calls only run CREATE DATABASE, which is cheap. The server
// binaries are looked up with `pg_config --bindir`, then in
// /usr/lib/postgresql/*/bin and /usr/pgsql-*/bin (newest version first),
// then on PATH; without them Postgres fails the test, it never skips it:
// install PostgreSQL's server package (Debian: `apt-get install
// postgresql`). PostgreSQL refuses to run as root, so under euid 0 the
// cluster runs as the OS user "postgres", which must exist.
//
// No TestMain is needed: the cluster is stopped, and its directory
// removed, by a watchdog shell process that waits on a pipe held by the
// test binary, so it cleans up however the binary ends (returning, a
// failed test, a panic, a timeout or SIGKILL).
func Postgres(t testing.TB) string {
	t.Helper()
	postgresOnce.Do(func() { postgresCluster, postgresErr = postgresStart() })
	if postgresErr != nil {
		t.Fatalf("testserver: %v", postgresErr)
	}
	c := postgresCluster
	name := fmt.Sprintf("chave_test_%d", c.databases.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), postgresTimeout)
	defer cancel()
	if _, err := c.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testserver: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), postgresTimeout)
		defer cancel()
		// FORCE ends the sessions a test left open.
		if _, err := c.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testserver: drop database %s: %v", name, err)
		}
	})
	return c.url(name)
}

// postgresTimeout bounds starting the cluster and each statement run on it.
const postgresTimeout = time.Minute

// The per-binary cluster, started by the first call to Postgres.
var (
	postgresOnce    sync.Once
	postgresCluster *postgresServer
	postgresErr     error
)

// postgresServer is a running PostgreSQL cluster.
type postgresServer struct {
	port      int
	admin     *pgxpool.Pool // on the "postgres" database, for CREATE and DROP DATABASE
	databases atomic.Int64  // how many databases Postgres created

	// watchdog is the write end of the watchdog's stdin. It is never
	// written or closed: the kernel closes it when the binary exits,
	// which tells the watchdog to stop the cluster. Holding it here keeps
	// it reachable, so no finalizer closes it early.
	watchdog *os.File
}

func (s *postgresServer) url(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, database)
}

// postgresWatchdog runs as `sh -c postgresWatchdog sh DIR`. It blocks
// until its stdin reaches end of file, which happens when the test binary
// exits, then stops the postmaster whose pid is in DIR/data/postmaster.pid
// (fast shutdown, then SIGKILL after 10 s) and removes DIR.
const postgresWatchdog = `cat >/dev/null
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
	kill -INT "$pid" 2>/dev/null
	n=0
	while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n+1)); done
	kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$1"
`

func postgresStart() (_ *postgresServer, err error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(os.TempDir(), "chave-postgres-")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// From here on the watchdog owns dir: it removes it when the binary
	// exits, or at once if starting the cluster fails.
	watchdog, err := postgresStartWatchdog(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer func() {
		if err != nil {
			watchdog.Close()
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		if err := postgresReachableBy(dir, cred); err != nil {
			return nil, fmt.Errorf("postgres: the cluster directory must be reachable by the postgres user (set TMPDIR to a world-searchable directory): %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := postgresCommand(filepath.Join(bin, "initdb"), dir, cred,
		"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w\n%s", strings.Join(initdb.Args, " "), err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), postgresTimeout)
	defer cancel()
	s := &postgresServer{watchdog: watchdog}
	// The free port may be taken before postgres binds it: try a few.
	for attempt := 1; ; attempt++ {
		if s.port, err = postgresFreePort(); err != nil {
			return nil, err
		}
		err = postgresRun(ctx, bin, dir, cred, s)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(s.url("postgres"))
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConns = 4
	if s.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// postgresRun starts the postmaster on s.port and waits until it accepts
// connections.
func postgresRun(ctx context.Context, bin, dir string, cred *syscall.Credential, s *postgresServer) error {
	logPath := filepath.Join(dir, "postgres.log")
	log, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer log.Close() // the child keeps its own descriptor
	cmd := postgresCommand(filepath.Join(bin, "postgres"), dir, cred,
		"-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(s.port),
		"-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: start %s: %w", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // ends when the postmaster does

	fail := func(err error) error {
		logText, _ := os.ReadFile(logPath)
		return fmt.Errorf("postgres: %s: %w\n%s", strings.Join(cmd.Args, " "), err, logText)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fail(fmt.Errorf("exited while starting: %v", err))
		case <-ctx.Done():
			cmd.Process.Kill() //nolint:errcheck // the wait below reports the outcome
			<-exited
			return fail(fmt.Errorf("not accepting connections: %w", ctx.Err()))
		case <-tick.C:
		}
		if postgresAnswers(ctx, s.url("postgres")) {
			return nil
		}
	}
}

func postgresAnswers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx) == nil
}

// postgresCommand returns a command running as cred (nil: as this
// process) in its own process group, so that a terminal's Ctrl-C reaches
// only the test binary and the watchdog shuts the cluster down in order.
func postgresCommand(path, dir string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	return cmd
}

// postgresStartWatchdog starts the process that cleans dir up when this
// binary exits, and returns the pipe end that keeps it waiting.
func postgresStartWatchdog(dir string) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("postgres: watchdog: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", postgresWatchdog, "sh", dir)
	cmd.Stdin = r // stdout and stderr: /dev/null, so `go test` never waits on them
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("postgres: watchdog: %w", err)
	}
	// It outlives this process; init reaps it.
	if err := cmd.Process.Release(); err != nil {
		w.Close()
		return nil, fmt.Errorf("postgres: watchdog: %w", err)
	}
	return w, nil
}

// postgresBinDir finds the directory holding initdb and postgres.
func postgresBinDir() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		dirs, _ := filepath.Glob(pattern) // the patterns are valid
		slices.SortFunc(dirs, func(a, b string) int { return postgresCompareVersionDirs(b, a) })
		candidates = append(candidates, dirs...)
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(initdb))
	}
	for _, dir := range candidates {
		if postgresIsExecutable(filepath.Join(dir, "initdb")) && postgresIsExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New("postgres: the PostgreSQL server binaries (initdb, postgres) were not found " +
		"via `pg_config --bindir`, in /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin, or on PATH; " +
		"install PostgreSQL's server package (Debian and Ubuntu: apt-get install postgresql)")
}

// postgresCompareVersionDirs orders /usr/lib/postgresql/9.6/bin before
// /usr/lib/postgresql/15/bin.
func postgresCompareVersionDirs(a, b string) int {
	va, _ := strconv.ParseFloat(strings.TrimPrefix(filepath.Base(filepath.Dir(a)), "pgsql-"), 64)
	vb, _ := strconv.ParseFloat(strings.TrimPrefix(filepath.Base(filepath.Dir(b)), "pgsql-"), 64)
	switch {
	case va < vb:
		return -1
	case va > vb:
		return 1
	}
	return strings.Compare(a, b)
}

func postgresIsExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// postgresCredential returns the credential to run the cluster with: nil
// (this process's) unless this process is root, which PostgreSQL refuses
// to run as; then the OS user "postgres".
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root, so the cluster must run as the OS user \"postgres\": %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres: user postgres: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres: user postgres: gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// postgresReachableBy checks that the user of cred may search every directory
// above dir.
func postgresReachableBy(dir string, cred *syscall.Credential) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		st, ok := fi.Sys().(*syscall.Stat_t)
		searchable := perm&0o001 != 0 ||
			ok && st.Uid == cred.Uid && perm&0o100 != 0 ||
			ok && st.Gid == cred.Gid && perm&0o010 != 0
		if !searchable {
			return fmt.Errorf("%s is not searchable by uid %d (mode %v)", d, cred.Uid, perm)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// postgresFreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func postgresFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("postgres: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
