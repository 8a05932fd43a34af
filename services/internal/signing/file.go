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
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	defer func() {
		// The temporary name goes in every case: on success the data
		// lives on under path.
		err = errors.Join(err, os.Remove(tmp))
	}()
	if err := os.Link(tmp, path); err != nil {
		return err // matches fs.ErrExist if path exists
	}
	return syncDir(filepath.Dir(path))
}

// writeFileAtomic replaces path with data, mode 0600: the data goes to a
// synced temporary file in the same directory that is renamed over path, so
// that readers see either the old file or the new one, never a mix, and
// the new one survives a crash once writeFileAtomic returns.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new, synced temporary file with mode 0600 beside
// path and returns its name. On error, no file is left behind.
func writeTemp(path string, data []byte) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; make it explicit against a future
	// change and against umask-less filesystems.
	if err := tmp.Chmod(0o600); err != nil {
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
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
