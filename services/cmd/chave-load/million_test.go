package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The large registry's row names say its size briefly.
func TestNewMillionCount(t *testing.T) {
	for n, want := range map[int]string{1_000_000: "1M", 20_000: "20k", 1500: "1500", 2_500_000: "2500k", 7: "7"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

// The seeding row shows tokens/s, the seeder's CPU per token and the ratio
// to the target; the list row its p50 and p99; neither counts as failed.
func TestNewMillionRowsPrint(t *testing.T) {
	var out bytes.Buffer
	b := &bench{out: &out, rows: []row{
		{path: "registry of 1M: seeding", nsPerOp: 1e9 / 25_000, cpuMicros: 56.5, ref: "target 20,000/s", refRate: millionSeedTarget},
		{path: "registry of 1M: list, the tenant's first page", noRequests: true, p50: 2 * time.Millisecond, p99: 5 * time.Millisecond},
	}}
	if err := b.print(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| registry of 1M: seeding |  | 25000 |  |  | 56.5 |  | 1.25 |", "| 2.00 ms | 5.00 ms |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
