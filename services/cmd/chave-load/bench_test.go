package main

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The /proc readers parse this very process.
func TestNewProcReaders(t *testing.T) {
	cpu0, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	cpu1, err := cpuTime(os.Getpid())
	if err != nil || cpu1 < cpu0 {
		t.Fatalf("cpu time %v then %v (%v)", cpu0, cpu1, err)
	}
	r, err := rss(os.Getpid())
	if err != nil || r < 1<<20 {
		t.Fatalf("rss %d (%v)", r, err)
	}
}

// machineBusy counts this process's own spinning among the machine's busy
// time, and othersCores leaves out what the bench's processes spent.
func TestNewMachineBusy(t *testing.T) {
	busy0, err := machineBusy()
	if err != nil {
		t.Fatal(err)
	}
	self0, _ := cpuTime(os.Getpid())
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	busy1, err := machineBusy()
	if err != nil {
		t.Fatal(err)
	}
	self1, _ := cpuTime(os.Getpid())
	// Ticks are 10 ms: allow one either side.
	if busy1-busy0 < self1-self0-20*time.Millisecond {
		t.Fatalf("machine busy %v while this process alone spent %v", busy1-busy0, self1-self0)
	}
	for _, c := range []struct {
		busy, server, self, aside, wall time.Duration
		want                            float64
	}{
		{4 * time.Second, time.Second, time.Second, 0, 2 * time.Second, 1},
		{4 * time.Second, 2 * time.Second, time.Second, time.Second, 2 * time.Second, 0},
		{time.Second, 2 * time.Second, 0, 0, time.Second, 0}, // ticks read at different instants: never below 0
		{time.Second, 0, 0, 0, 0, 0},
	} {
		if got := othersCores(c.busy, c.server, c.self, c.aside, c.wall); got != c.want {
			t.Errorf("othersCores(%v, %v, %v, %v, %v) = %v, want %v", c.busy, c.server, c.self, c.aside, c.wall, got, c.want)
		}
	}
}

// medianRows takes, row by row, the round with the median ratio, and adds
// up the failures of every round.
func TestNewMedianRows(t *testing.T) {
	mk := func(ok, failed int, refRate float64) row {
		return row{path: "p", conc: 16, ref: "floor", refRate: refRate, res: loadResult{ok: ok, failed: failed, elapsed: time.Second}}
	}
	rounds := [][]row{{mk(100, 0, 200)}, {mk(300, 2, 200)}, {mk(150, 0, 200)}}
	got := medianRows(rounds)
	if len(got) != 1 || got[0].res.ok != 150 {
		t.Fatalf("median row %+v, want the round with 150 ok", got)
	}
	if got[0].res.failed != 2 {
		t.Errorf("failed = %d, want the 2 of every round", got[0].res.failed)
	}
	if one := medianRows(rounds[:1]); one[0].res.ok != 100 {
		t.Errorf("one round: %+v", one)
	}
}

// --only takes apart alone, and says so before starting anything.
func TestNewBenchOnlyFlag(t *testing.T) {
	err := runBench([]string{"--only", "serve"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--only") {
		t.Fatalf("--only serve: %v, want an error naming --only", err)
	}
}

// treeCPU follows a process's children (PostgreSQL's backends), and
// treeDelta counts one born since the start in full.
func TestNewTreeCPU(t *testing.T) {
	self := os.Getpid()
	start := treeCPU([]int{self})
	if _, ok := start[self]; !ok {
		t.Fatalf("the root is not in its tree: %v", start)
	}
	child := exec.Command("sleep", "5")
	if err := child.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	end := treeCPU([]int{self})
	if _, ok := end[child.Process.Pid]; !ok {
		t.Fatalf("child %d not in the tree %v", child.Process.Pid, end)
	}
	if d := treeDelta(start, end); d < 0 {
		t.Fatalf("delta %v", d)
	}
	if d := treeDelta(map[int]time.Duration{}, map[int]time.Duration{1: time.Second, 2: time.Second}); d != 2*time.Second {
		t.Fatalf("processes born since count in full: %v", d)
	}
}
