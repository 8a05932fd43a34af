//go:build linux

package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/app/apptest"
)

// buildChave builds the chave binary for a test.
func buildChave(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chave")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/chave/chave/services/cmd/chave").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// chaveProcess is a running `chave serve`.
type chaveProcess struct {
	cmd            *exec.Cmd
	done           chan struct{} // closed when it has exited
	stdout, stderr *apptest.Buffer
}

// startServe starts `chave serve` on loopback ports and waits for its
// listening line.
func startServe(t *testing.T, bin string, args ...string) *chaveProcess {
	t.Helper()
	dir := t.TempDir()
	p := &chaveProcess{done: make(chan struct{}), stdout: &apptest.Buffer{}, stderr: &apptest.Buffer{}}
	p.cmd = exec.Command(bin, append([]string{"serve",
		"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--db", "sqlite://" + filepath.Join(dir, "chave.db"), "--print-bootstrap-credential"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test binary
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }() // the exit status is read from ProcessState
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // it has usually exited already
		<-p.done
		if t.Failed() {
			t.Logf("chave serve stderr:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.stdout.String(), "listening:") {
		select {
		case <-p.done:
			t.Fatalf("chave serve exited while starting: %v\n%s", p.cmd.ProcessState, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("chave serve did not start\n%s", p.stderr.String())
		}
	}
	return p
}

// listening returns an address of the listening line: "HTTP", "gRPC" or
// "metrics".
func (p *chaveProcess) listening(t *testing.T, what string) string {
	t.Helper()
	m := regexp.MustCompile(what + ` ([^,\s]+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no %s address in %q", what, p.stdout.String())
	}
	return m[1]
}

// credential returns the operator credential the server printed.
func (p *chaveProcess) credential(t *testing.T) (id, secret string) {
	t.Helper()
	for line := range strings.SplitSeq(p.stdout.String(), "\n") {
		var cred struct{ ClientID, ClientSecret string }
		if json.Unmarshal([]byte(line), &cred) == nil && cred.ClientID != "" {
			return cred.ClientID, cred.ClientSecret
		}
	}
	t.Fatalf("no credential printed: %q", p.stdout.String())
	return "", ""
}

// TestShutdownUnderLoadDropsNothing sends client-credentials grants from 16
// keep-alive clients to the real binary, sends SIGTERM, and requires that
// every request sent before the signal got its 200 (no connection reset,
// no transport error), that /readyz turned 503 while the server still
// served, that responses during the drain asked the clients to close, and
// that the process exited 0.
func TestShutdownUnderLoadDropsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chave binary")
	}
	const clients = 16
	const drainDelay = 3 * time.Second // ample for the probe below on a loaded machine
	bin := buildChave(t)
	p := startServe(t, bin, "--shutdown-drain-delay", drainDelay.String(), "--log-level", "warn")
	base := "http://" + p.listening(t, "HTTP")
	id, secret := p.credential(t)

	transport := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	grant := func() (int, bool, error) {
		req, err := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(body))
		if err != nil {
			return 0, false, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := client.Do(req)
		if err != nil {
			return 0, false, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return resp.StatusCode, resp.Close, err
		}
		return resp.StatusCode, resp.Close, nil
	}
	if status, _, err := grant(); err != nil || status != http.StatusOK {
		t.Fatalf("first grant: %d %v", status, err)
	}

	var (
		signalled  atomic.Bool
		before     atomic.Int64 // requests sent before the signal
		after      atomic.Int64 // and after it, answered 200
		afterFails atomic.Int64 // after it, not answered (the listener closed): allowed
		closes     atomic.Int64 // responses after the signal with Connection: close
		warmedUp   = make(chan struct{})
		warmOnce   sync.Once
		mu         sync.Mutex
		failures   []string // of requests sent before the signal
		wg         sync.WaitGroup
	)
	for range clients {
		wg.Go(func() {
			for {
				select {
				case <-p.done:
					return
				default:
				}
				sentBefore := !signalled.Load()
				status, closed, err := grant()
				switch {
				case sentBefore && (err != nil || status != http.StatusOK):
					mu.Lock()
					failures = append(failures, fmt.Sprintf("status %d, err %v", status, err))
					mu.Unlock()
				case sentBefore:
					if before.Add(1) == 50*clients {
						warmOnce.Do(func() { close(warmedUp) })
					}
				case err != nil || status != http.StatusOK:
					afterFails.Add(1)
				default:
					after.Add(1)
					if closed {
						closes.Add(1)
					}
				}
			}
		})
	}
	select {
	case <-warmedUp:
	case <-time.After(60 * time.Second):
		t.Fatal("no load reached the server")
	}
	signalled.Store(true)
	sigAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// Readiness turns 503 at once, while the server still serves: a new
	// connection each time, as a load balancer's probe.
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var readyzAt time.Duration
	for readyzAt == 0 {
		resp, err := probe.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz unreachable %v after SIGTERM, before it turned 503: %v", time.Since(sigAt), err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			readyzAt = time.Since(sigAt)
		}
	}

	select {
	case <-p.done:
	case <-time.After(drainDelay + 40*time.Second):
		t.Fatal("chave serve did not exit after SIGTERM")
	}
	elapsed := time.Since(sigAt)
	wg.Wait()
	t.Logf("%d grants sent before SIGTERM, %d during the drain (%d with Connection: close), %d refused after it; /readyz 503 after %v; exit after %v",
		before.Load(), after.Load(), closes.Load(), afterFails.Load(), readyzAt, elapsed)
	if len(failures) > 0 {
		t.Errorf("%d requests sent before SIGTERM failed, e.g. %s", len(failures), failures[0])
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if elapsed < drainDelay {
		t.Errorf("exited %v after SIGTERM, before the drain delay %v", elapsed, drainDelay)
	}
	if after.Load() > 0 && closes.Load() == 0 {
		t.Errorf("no response during the drain carried Connection: close")
	}
}
