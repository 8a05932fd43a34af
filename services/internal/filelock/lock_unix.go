//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// Package filelock locks a file across processes, for the key files that
// chave rewrites in place (signing keys, server keys).
package filelock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Lock takes an exclusive advisory lock (flock) on path + ".lock",
// creating that file (mode 0600) if need be, and returns the function that
// releases it. The lock excludes other processes and, since every call
// opens its own file description, other goroutines of this process. The
// lock file is never removed: removing it would let two lockers hold
// locks on different files.
func Lock(path string) (unlock func() error, err error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return func() error {
		// Closing the descriptor releases the lock.
		return f.Close()
	}, nil
}
