package testserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// PostgresServer is a PostgreSQL cluster of one test's own, which the test
// may stop (as a crash would) and start again on the same port, unlike the
// cluster Postgres shares between the tests of a binary. Starting one
// costs an initdb (a second or two); use Postgres unless the test stops
// the server.
type PostgresServer struct {
	t    testing.TB
	bin  string
	dir  string
	cred *syscall.Credential
	port int

	mu      sync.Mutex
	running bool
	// watchdog stops the cluster and removes dir when the binary exits,
	// or when the test's cleanup closes it.
	watchdog *os.File
}

// StartPostgres starts a PostgreSQL cluster for t alone (see Postgres for
// how the binaries are found and how it is cleaned up); its cleanup stops
// it.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	s := &PostgresServer{t: t}
	var err error
	if s.bin, err = postgresBinDir(); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if s.cred, err = postgresCredential(); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if s.dir, err = os.MkdirTemp(os.TempDir(), "chave-postgres-own-"); err != nil {
		t.Fatalf("testserver: postgres: %v", err)
	}
	if s.watchdog, err = postgresStartWatchdog(s.dir); err != nil {
		os.RemoveAll(s.dir)
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		s.watchdog.Close() // the watchdog removes the directory
	})
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatalf("testserver: postgres: %v", err)
		}
		if err := postgresReachableBy(s.dir, s.cred); err != nil {
			t.Fatalf("testserver: postgres: the cluster directory must be reachable by the postgres user: %v", err)
		}
	}
	initdb := postgresCommand(filepath.Join(s.bin, "initdb"), s.dir, s.cred,
		"-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testserver: postgres: initdb: %v\n%s", err, out)
	}
	for attempt := 1; ; attempt++ {
		if s.port, err = postgresFreePort(); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		if err = s.start(); err == nil {
			return s
		}
		if attempt == 3 {
			t.Fatalf("testserver: %v", err)
		}
	}
}

func (s *PostgresServer) data() string { return filepath.Join(s.dir, "data") }

// URL returns the URL of the cluster's "postgres" database.
func (s *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Stop stops the server at once, without a checkpoint, as a crash would
// (pg_ctl stop -m immediate), and waits until it has exited. Stopping a
// stopped server does nothing.
func (s *PostgresServer) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	cmd := postgresCommand(filepath.Join(s.bin, "pg_ctl"), s.dir, s.cred, "stop", "-D", s.data(), "-m", "immediate", "-w")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Errorf("testserver: postgres: pg_ctl stop: %v\n%s", err, out)
	}
	s.running = false
}

// Start starts a stopped server again on the same port and waits until it
// accepts connections (after its crash recovery).
func (s *PostgresServer) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("testserver: %v", err)
	}
}

func (s *PostgresServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), postgresTimeout)
	defer cancel()
	if err := postgresRun(ctx, s.bin, s.dir, s.cred, &postgresServer{port: s.port}); err != nil {
		return err
	}
	s.running = true
	return nil
}
