//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filelock

import "errors"

// Lock is not implemented on this platform: rotating a key file needs
// flock.
func Lock(string) (func() error, error) {
	return nil, errors.New("locking the key file is not supported on this platform")
}
