//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package secrets

import "errors"

// lockFile is not implemented on this platform: rotating a key file needs
// flock.
func lockFile(string) (func() error, error) {
	return nil, errors.New("locking the key file is not supported on this platform")
}
