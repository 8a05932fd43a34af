// Package testserver starts real servers (Redis, PostgreSQL) for tests.
package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server process owned by a test. It keeps no data on
// disk, so a restart starts empty. The test's cleanup stops it.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string // extra arguments, after the defaults

	mu   sync.Mutex
	proc *redisProcess // nil while stopped
}

// redisProcess is one run of redis-server; done closes when it has exited.
type redisProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Time limits for starting and stopping redis-server.
const (
	redisStartTimeout = 10 * time.Second
	redisStopTimeout  = 5 * time.Second
)

// StartRedis starts redis-server (from PATH) on a free loopback port, with
// persistence off and maxmemory-policy noeviction. args are added after
// those defaults and override them, e.g. "--maxmemory-policy",
// "allkeys-lru". It fails the test if redis-server is missing or does not
// answer PING.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testserver: redis-server not found on PATH (install it, e.g. apt-get install redis-server): %v", err)
	}
	r := &Redis{t: t, bin: bin, dir: t.TempDir(), args: args}
	t.Cleanup(r.Stop)
	// The port is free when chosen but another process may take it before
	// redis-server binds it; try a few.
	for attempt := 0; ; attempt++ {
		r.port, err = redisFreePort()
		if err != nil {
			t.Fatalf("testserver: choose a port for redis-server: %v", err)
		}
		err = r.start()
		if err == nil {
			return r
		}
		if attempt == 2 {
			t.Fatalf("testserver: %v", err)
		}
	}
}

// Addr returns host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL returns redis://host:port.
func (r *Redis) URL() string { return "redis://" + r.Addr() }

// Kill kills the server with SIGKILL and waits for it to exit.
func (r *Redis) Kill() {
	r.t.Helper()
	r.halt(syscall.SIGKILL)
}

// Stop stops the server with SIGTERM (SIGKILL if it lingers) and waits for
// it to exit. Stopping a stopped server does nothing.
func (r *Redis) Stop() {
	r.t.Helper()
	r.halt(syscall.SIGTERM)
}

// Restart stops the server if it runs and starts it again on the same
// port. It comes back empty, as persistence is off.
func (r *Redis) Restart() {
	r.t.Helper()
	r.halt(syscall.SIGTERM)
	if err := r.start(); err != nil {
		r.t.Fatalf("testserver: restart: %v", err)
	}
}

func (r *Redis) halt(sig syscall.Signal) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.proc
	if p == nil {
		return
	}
	r.proc = nil
	_ = p.cmd.Process.Signal(sig) // fails only if it already exited
	select {
	case <-p.done:
		return
	case <-time.After(redisStopTimeout):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(redisStopTimeout):
		r.t.Errorf("testserver: redis-server (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// start runs redis-server on r.port and waits until it answers PING.
func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	logFile := filepath.Join(r.dir, "redis.log")
	args := append([]string{
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.dir,
		"--logfile", logFile,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--maxmemory-policy", "noeviction",
	}, r.args...)
	cmd := exec.Command(r.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	p := &redisProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		// Ends when the process exits; halt always makes it exit.
		_ = cmd.Wait()
		close(p.done)
	}()
	r.proc = p

	deadline := time.Now().Add(redisStartTimeout)
	for {
		err := redisPing(r.Addr())
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			r.proc = nil
			return fmt.Errorf("redis-server on port %d exited at start: %s", r.port, redisLogTail(logFile))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.done
			r.proc = nil
			return fmt.Errorf("redis-server on port %d did not answer PING within %s: %v; log: %s",
				r.port, redisStartTimeout, err, redisLogTail(logFile))
		}
	}
}

// redisPing sends PING over a raw connection and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// redisFreePort returns a loopback TCP port that was free a moment ago.
func redisFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener address is not TCP")
	}
	return addr.Port, nil
}

// redisLogTail returns the end of redis-server's log.
func redisLogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}
