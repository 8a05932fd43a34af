package signing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// writeFileExclusive writes data to path with mode 0600, atomically and only
// if path does not exist yet (an error matching fs.ErrExist otherwise):
// the data goes to a temporary file in the same directory, is synced, and
// is then hard-linked into place, so that readers never see a partial file
// and a concurrent creator never gets overwritten.
func writeFileExclusive(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		// The temporary name goes in every case: on success the data
		// lives on under path.
		err = errors.Join(err, os.Remove(tmp.Name()))
	}()
	// CreateTemp already uses 0600; make it explicit against a future
	// change and against umask-less filesystems.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err // matches fs.ErrExist if path exists
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
