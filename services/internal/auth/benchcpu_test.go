package auth

import (
	"syscall"
	"testing"
	"time"
)

// ReportCPU makes the benchmark report the process's CPU time (user and
// system) per operation as cpu-ns/op, from now until the function it
// returns is called (deferred, right before the timed loop): on a machine
// others share, a steadier figure than the wall time.
func ReportCPU(b *testing.B) (stop func()) {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
