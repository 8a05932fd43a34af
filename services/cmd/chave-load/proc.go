package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime is a process's user plus system CPU time so far.
func cpuTime(pid int) (time.Duration, error) {
	cpu, _, err := procStat(pid)
	return cpu, err
}

// procStat is a process's user plus system CPU time so far, and its
// parent's pid.
func procStat(pid int) (cpu time.Duration, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it start past the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), f[1] field 4 (ppid); utime and stime are
	// fields 14 and 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, err0 := strconv.Atoi(f[1])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err0 != nil || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: ppid %q utime %q stime %q", pid, f[1], f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, ppid, nil
}

// machineBusy is the CPU time all the machine's cores have spent busy so
// far: the first line of /proc/stat but idle and iowait (guest time is
// already counted in user).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	var busy int64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: field %d %q", i+1, v)
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// othersCores is how many cores, on average over wall, processes other
// than the server's, the bench's own and those beside them kept busy: the
// machine's busy time less theirs. A load's rate ratio means little when
// this is large (the cores were shared with other work); its CPU ratio
// still does.
func othersCores(busy, server, self, aside, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return max(0, float64(busy-server-self-aside)/float64(wall))
}

// treeCPU is the CPU time so far of each process of the trees rooted at
// roots (PostgreSQL's backends are its postmaster's children).
func treeCPU(roots []int) map[int]time.Duration {
	entries, _ := os.ReadDir("/proc")
	cpu := make(map[int]time.Duration)
	children := make(map[int][]int)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, ppid, err := procStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		cpu[pid] = c
		children[ppid] = append(children[ppid], pid)
	}
	out := make(map[int]time.Duration)
	for todo := slices.Clone(roots); len(todo) > 0; {
		pid := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if c, ok := cpu[pid]; ok {
			out[pid] = c
			todo = append(todo, children[pid]...)
		}
	}
	return out
}

// treeDelta is the CPU time the processes of end spent since start (all
// of it for those born since).
func treeDelta(start, end map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, c := range end {
		d += c - start[pid]
	}
	return d
}

// rss is a process's resident set size in bytes (VmRSS).
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// procWatch follows the server processes of one load: their CPU time
// between start and stop, and the largest sum of their RSS, sampled every
// 50 ms while the load runs.
type procWatch struct {
	pids    []int
	cpu0    []time.Duration
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	maxRSS  int64
	lastErr error
}

func watchProcs(pids []int) *procWatch {
	w := &procWatch{pids: pids}
	w.cpu0, w.lastErr = w.cpu()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			w.sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// cpu is each process's CPU time so far.
func (w *procWatch) cpu() ([]time.Duration, error) {
	out := make([]time.Duration, len(w.pids))
	for i, pid := range w.pids {
		c, err := cpuTime(pid)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (w *procWatch) sample() {
	var sum int64
	for _, pid := range w.pids {
		r, err := rss(pid)
		if err != nil {
			w.lastErr = err
			return
		}
		sum += r
	}
	w.maxRSS = max(w.maxRSS, sum)
}

// stop ends the watch and returns the CPU time the processes spent since
// it started (their sum, and each one's, in the order of the pids) and
// their peak RSS.
func (w *procWatch) stop() (cpu time.Duration, each []time.Duration, peakRSS int64, err error) {
	w.cancel()
	w.wg.Wait()
	cpu1, err := w.cpu()
	if err != nil || w.cpu0 == nil {
		return 0, nil, 0, errors.Join(err, w.lastErr)
	}
	each = make([]time.Duration, len(cpu1))
	for i := range cpu1 {
		each[i] = cpu1[i] - w.cpu0[i]
		cpu += each[i]
	}
	return cpu, each, w.maxRSS, w.lastErr
}
